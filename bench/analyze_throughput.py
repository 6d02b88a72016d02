"""Analyzer throughput: the 500 real traces repeated to N responses, analyzed in one process
and on Ray Data on this machine, in one run. Prints responses/s and the Ray/in-process ratio.

    .venv/bin/python bench/analyze_throughput.py [--repeat-to 10000] [--judge lexical]

`--scaling`: the time to analyze one row of 1k, 4k, 16k and 20k short paragraphs that each
state an answer, each as a ratio to the 1k row of the same run (linear work: 4x, 16x, 20x).
`--llm-cost`: what segment.method=llm asks of its judge on the 500 real traces: requests and
prompt characters per response for both stages (stage 2 per paragraph inside a solution but
its last, the solutions being the rules splitter's), no endpoint needed.
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
    parser.add_argument("--scaling", action="store_true", help="Time one long row of 1k..20k paragraphs instead.")
    parser.add_argument("--llm-cost", action="store_true", help="Count what the LLM splitter would ask instead.")
    args = parser.parse_args()
    if not TRACES.exists():
        sys.exit(f"needs {TRACES} (the shared reference data beside the checkout)")
    if args.scaling:
        return scaling()
    if args.llm_cost:
        return llm_cost()

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


def long_record(config, paragraphs: int) -> dict:
    """The first real trace with its thinking replaced by `paragraphs` short paragraphs that each
    state an answer: the worst case, a solution per paragraph (what used to grow as the square)."""
    from overthink.analyze.records import canonical

    row = json.loads(TRACES.read_text().splitlines()[0])
    text = row["code"][0]
    begin, end = text.index("<|begin_of_thought|>") + len("<|begin_of_thought|>"), text.index("<|end_of_thought|>")
    thinking = "\n\n".join(f"Hmm, {i} + 1 = {i + 1}. So the answer is {i % 7}." for i in range(paragraphs))
    row.update(code=[text[:begin] + thinking + text[end:]], _source_file=str(TRACES), _source_row=1)
    return canonical(row, config.input.columns, None)


def scaling() -> None:
    from overthink.analyze.config import AnalyzeConfig
    from overthink.analyze.core import Analyzer
    from overthink.config import load_config

    config = load_config(AnalyzeConfig, REPO / "configs" / "analyze" / "skythought.yaml", ["row_timeout_s=null"])
    analyzer = Analyzer(config)
    analyzer.analyze([long_record(config, 50)])  # warm up
    timings, sizes = {}, {}
    for paragraphs in (1000, 4000, 16000, 20000):
        record = long_record(config, paragraphs)
        sizes[paragraphs] = len(record["response"])
        start = time.perf_counter()
        analyzer.analyze([record])
        timings[paragraphs] = time.perf_counter() - start
    base = timings[1000]
    print(f"\none row of N short paragraphs ({os.cpu_count()} CPUs), ratio to the 1k row of this run:")
    for paragraphs, seconds in timings.items():
        print(
            f"  {paragraphs:>6} paragraphs ({sizes[paragraphs] / 1e3:5.0f} KB): {seconds:7.2f} s"
            f"  x{seconds / base:5.1f} (linear x{paragraphs / 1000:.0f})"
        )


def llm_cost() -> None:
    from overthink.analyze.llm_split import SPLIT_PROMPT, STEP_PROMPT, numbered_steps
    from overthink.analyze.segment import paragraphs, segment_rules
    from overthink.analyze.thinking import split_thinking

    window = 50
    responses = stage1 = stage2 = chars1 = chars2 = 0
    for line in TRACES.read_text().splitlines():
        row = json.loads(line)
        text = row["code"][0]
        parts = split_thinking(text, ("<|begin_of_thought|>",), ("<|end_of_thought|>",))
        spans = paragraphs(text, parts.thinking_start, parts.thinking_end)
        texts = [text[a:b] for a, b in spans]
        for first in range(0, len(texts), window):
            stage1 += 1
            chars1 += len(
                SPLIT_PROMPT.format(
                    question=row["question"], steps=numbered_steps(texts[first : first + window], first + 1)
                )
            )
        solutions = segment_rules(
            {"problem": row["question"], "gold": row["answer"]}, text, parts.thinking_start, parts.thinking_end
        )
        for solution in solutions:
            inside = [t for (a, b), t in zip(spans, texts) if solution.start <= a and b <= solution.end][:-1]
            stage2 += len(inside)
            chars2 += sum(
                len(STEP_PROMPT.format(question=row["question"], step=t.strip(), expected=solution.answer))
                for t in inside
            )
        responses += 1
    print(f"\nsegment.method=llm on {responses} real traces (steps_per_request={window}), per response:")
    print(f"  stage 1: {stage1 / responses:5.1f} requests, {chars1 / responses:8.0f} prompt characters")
    print(f"  stage 2: {stage2 / responses:5.1f} requests, {chars2 / responses:8.0f} prompt characters")
    print(f"  stage 2 / stage 1 prompt characters: {chars2 / chars1:.1f}x")


if __name__ == "__main__":
    main()
