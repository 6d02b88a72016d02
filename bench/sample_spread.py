"""How sampling work spreads over engine actors, in one run: the same requests through E engine
actors with one block for everything (the baseline: what the stage did before blocks were sized
to the engines) and with the stage's automatic block size. Prints rows per engine replica and the
wall time of each. Transformers engines on the default organism keep it CPU-sized.

  .venv/bin/python bench/sample_spread.py [--engines 3] [--problems 16] [--n 3] [--max-tokens 16]
"""

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq


def spread(args, out: Path, requests_per_shard: int | None) -> tuple[list[int], float]:
    from overthink.config import load_config
    from overthink.sample.config import SampleConfig
    from overthink.sample.stage import run_sample

    overrides = [
        f"problems=[{{name: organism, limit: {args.problems}}}]",
        "model=organism",
        f"output_dir={out}",
        f"sampling.n={args.n}",
        f"sampling.max_tokens={args.max_tokens}",
        "engine.backend=transformers",
        f"placement.count={args.engines}",
        f"placement.cpus={int(200 / args.engines) / 100}",  # all fit in 2 CPUs
        "engine.cpu_threads=1",
        "mlflow.enabled=false",
    ]
    if requests_per_shard:
        overrides.append(f"requests_per_shard={requests_per_shard}")
    started = time.perf_counter()
    run_sample(load_config(SampleConfig, None, overrides))
    wall = time.perf_counter() - started
    served = Counter(pq.read_table(out / "samples.parquet").column("engine_replica").to_pylist())
    return sorted(served.values(), reverse=True) + [0] * (args.engines - len(served)), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", type=int, default=3)
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    total = args.problems * args.n
    with tempfile.TemporaryDirectory() as tmp:
        one_block, one_wall = spread(args, Path(tmp) / "one-block", requests_per_shard=total)
        sized, sized_wall = spread(args, Path(tmp) / "sized", requests_per_shard=None)
    even = total / args.engines
    print(f"{total} requests, {args.engines} engine actors (even share {even:.0f})")
    print(f"baseline (one block):  rows per engine {one_block}, wall {one_wall:.1f} s")
    print(f"sized blocks:          rows per engine {sized}, wall {sized_wall:.1f} s")
    print(f"busiest engine vs even share: baseline {one_block[0] / even:.2f}x, sized {sized[0] / even:.2f}x")
    print(f"wall time ratio (baseline / sized): {one_wall / sized_wall:.2f}x")


if __name__ == "__main__":
    main()
