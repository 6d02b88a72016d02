"""Analyzer throughput: the 500 real traces repeated to N responses, analyzed in one process
and on Ray Data on this machine, in one run. Prints responses/s and the Ray/in-process ratio.

    .venv/bin/python bench/analyze_throughput.py [--repeat-to 10000] [--judge lexical]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO.parent / "shared" / "fixtures" / "real_traces" / "sky_t1_27b_math500.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat-to", type=int, default=10_000, help="Responses to analyze (the 500 traces repeated).")
    parser.add_argument("--judge", default="lexical", help="distinct.method")
    parser.add_argument("--rows-per-shard", type=int, default=500)
    args = parser.parse_args()
    if not TRACES.exists():
        sys.exit(f"needs {TRACES} (the shared reference data beside the checkout)")

    from overthink.analyze.config import AnalyzeConfig
    from overthink.analyze.stage import run_analyze
    from overthink.config import load_config

    work = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    lines = TRACES.read_text().splitlines()
    data = work / "traces.jsonl"
    with data.open("w") as handle:
        for i in range(args.repeat_to):
            row = json.loads(lines[i % len(lines)])
            row["idx"] = i
            handle.write(json.dumps(row) + "\n")

    def run(name: str, use_ray: bool) -> float:
        config = load_config(
            AnalyzeConfig,
            REPO / "configs" / "analyze" / "skythought.yaml",
            [
                f"input.path={data}",
                f"output_dir={work / name}",
                "mlflow.enabled=false",
                "report.plots=false",
                f"distinct.method={args.judge}",
                f"rows_per_shard={args.rows_per_shard}",
                "report.bootstrap_samples=200",
            ],
        )
        start = time.perf_counter()
        run_analyze(config, use_ray=use_ray)
        return time.perf_counter() - start

    if True:  # start Ray before timing, as a cluster would already be up
        from overthink.runtime.config import RayConfig
        from overthink.runtime.ray_init import init_ray

        init_ray(RayConfig())
    single = run("single", use_ray=False)
    on_ray = run("ray", use_ray=True)
    n = args.repeat_to
    print(
        f"\nanalyzer throughput, {n} responses ({len(lines)} real traces repeated), judge={args.judge}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"  single process : {single:7.1f} s  {n / single:7.1f} responses/s")
    print(f"  Ray Data       : {on_ray:7.1f} s  {n / on_ray:7.1f} responses/s")
    print(f"  speed-up (Ray / single process): {single / on_ray:.2f}x")


if __name__ == "__main__":
    main()
