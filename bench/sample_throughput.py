"""Sampling throughput on the model organism, engine start excluded, in one run:
1. plain single-process vLLM `LLM.generate` (the baseline),
2. the Ray Data sample stage (same prompts, seeds and engine settings),
3. the transformers backend (on a subset; per-response time compared with vLLM's).

  .venv/bin/python bench/sample_throughput.py [--problems 64] [--n 4] [--max-tokens 512]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def config_overrides(args, out: Path, backend: str = "vllm", limit: int | None = None) -> list[str]:
    return [
        f"problems=[{{name: organism, limit: {limit or args.problems}}}]",
        "model=organism",
        f"engine.backend={backend}",
        f"sampling.n={args.n}",
        f"sampling.max_tokens={args.max_tokens}",
        f"output_dir={out}",
        "mlflow.enabled=false",
        f"engine.batch_size={args.problems * args.n}",
    ]


def baseline(args) -> dict:
    """Plain vLLM in this process: same prompts, seeds and engine settings as the stage."""
    from transformers import AutoTokenizer

    from overthink.config import load_config
    from overthink.runtime.models import resolve_model
    from overthink.sample.config import SampleConfig
    from overthink.sample.engines import VLLMEngine
    from overthink.sample.requests import chat_prompt, expand
    from overthink.sample.stage import load_problem_sets

    config = load_config(SampleConfig, None, config_overrides(args, Path(tempfile.mkdtemp())))
    problems = [p for _, set_problems in load_problem_sets(config) for p in set_problems]
    path = resolve_model(config.model).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    requests = expand(problems, lambda p: chat_prompt(tokenizer, p, config.prompt), args.n, config.sampling.seed)
    started = time.perf_counter()
    engine = VLLMEngine(config.engine, path)
    ready = time.perf_counter()
    out = engine.generate([r["prompt"] for r in requests], [r["seed"] for r in requests], config.sampling)
    done = time.perf_counter()
    return {
        "startup_s": ready - started,
        "generate_s": done - ready,
        "responses": len(out),
        "tokens": sum(g.num_tokens for g in out),
    }


def stage(args, backend: str, limit: int | None = None) -> dict:
    from overthink.config import load_config
    from overthink.sample.config import SampleConfig
    from overthink.sample.stage import run_sample

    config = load_config(SampleConfig, None, config_overrides(args, Path(tempfile.mkdtemp()), backend, limit))
    metrics = run_sample(config).metrics
    return {
        "startup_s": metrics["wall_s"] - metrics["generation_s"],
        "generate_s": metrics["generation_s"],
        "responses": metrics["new_samples"],
        "tokens": metrics["generated_tokens"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--transformers-problems", type=int, default=4)
    parser.add_argument("--baseline-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_only:
        print(json.dumps(baseline(args)))
        return
    # The baseline runs in its own process so its engine is gone before the stage's starts.
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--baseline-only",
            f"--problems={args.problems}",
            f"--n={args.n}",
            f"--max-tokens={args.max_tokens}",
        ],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    if child.returncode:
        sys.exit(child.stderr[-3000:])
    plain = json.loads(child.stdout.strip().splitlines()[-1])
    on_ray = stage(args, "vllm")
    hf = stage(args, "transformers", limit=args.transformers_problems)

    def per(m):
        return m["generate_s"] / m["responses"]

    print(
        f"\nsampling the organism: {args.problems} problems x n={args.n}, max_tokens={args.max_tokens}, "
        f"{os.cpu_count()} CPUs"
    )
    for name, m in (
        ("plain vLLM LLM.generate", plain),
        ("Ray Data stage (vLLM)", on_ray),
        ("transformers backend", hf),
    ):
        print(
            f"  {name:<26} {m['responses']:4d} responses  {m['generate_s']:7.1f} s  "
            f"{m['tokens'] / m['generate_s']:8.1f} tok/s"
            f"  (start-up {m['startup_s']:.1f} s, excluded)"
        )
    print(f"  wall ratio Ray stage / plain vLLM: {on_ray['generate_s'] / plain['generate_s']:.2f} (aim <= 1.25)")
    print(f"  per-response time transformers / vLLM: {per(hf) / per(plain):.1f}x")


if __name__ == "__main__":
    main()
