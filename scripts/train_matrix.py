"""Paper Table 4 on the model organism: every loss × every pair strategy, trained on the same
pairs and evaluated on the same held-out problems (sample with vLLM, then analyze), beside the
base model. Writes OUT/table4.md and OUT/table4.json.

    .venv/bin/python scripts/train_matrix.py --pairs out/train/pairs --out out/table4 \
        [--losses sft dpo rpo simpo] [--strategies shortest fcs fcs_reflection gds] [--problems 128 --n 4]

The pairs file must hold every strategy asked for (`overthink pairs --strategies ...`). Each cell
reuses finished work (training and sampling are content-addressed), so an interrupted run resumes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.stage import run_analyze
from overthink.config import load_config
from overthink.runtime.models import resolve_model
from overthink.sample.config import SampleConfig
from overthink.sample.stage import run_sample
from overthink.train.config import TrainConfig
from overthink.train.stage import run_train

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("accuracy", "mean_solutions", "mean_tokens", "outcome_efficiency", "process_efficiency")


def evaluate(model: str, tokenizer: str, out: Path, problems: int, n: int) -> dict:
    sample = load_config(
        SampleConfig,
        REPO / "configs/sample/organism.yaml",
        [
            f"model={model}",
            f"output_dir={out / 'samples'}",
            f"problems=[{{name: organism, limit: {problems}}}]",
            f"sampling.n={n}",
            "mlflow.enabled=false",
        ],
    )
    run_sample(sample)
    analyze = load_config(
        AnalyzeConfig,
        None,
        [
            f"input.path={out / 'samples' / 'samples.parquet'}",
            f"output_dir={out / 'analysis'}",
            f"tokenizer={tokenizer}",
            "mlflow.enabled=false",
        ],
    )
    return run_analyze(analyze, use_ray=False).metrics["overall"]


def row(name: str, metrics: dict, base: dict | None) -> str:
    acc, sols, tokens, xo, xp = (metrics[c] for c in COLUMNS)
    delta = f" ({100 * (tokens / base['mean_tokens'] - 1):+.1f}%)" if base else ""
    return f"| {name} | {100 * acc:.1f} | {sols:.2f} | {tokens:.1f}{delta} | {100 * xo:.1f} | {100 * xp:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--train-config", default=str(REPO / "configs/train/organism.yaml"))
    parser.add_argument("--losses", nargs="+", default=["sft", "dpo", "rpo", "simpo"])
    parser.add_argument("--strategies", nargs="+", default=["shortest", "fcs", "fcs_reflection", "gds"])
    parser.add_argument("--problems", type=int, default=128, help="Held-out organism problems to evaluate on.")
    parser.add_argument("--n", type=int, default=4, help="Samples per problem.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="Extra train config override.")
    args = parser.parse_args()
    out = Path(args.out)
    base_model = resolve_model("organism").path
    results = json.loads((out / "table4.json").read_text()) if (out / "table4.json").exists() else {}
    if "base" not in results:
        results["base"] = evaluate(base_model, base_model, out / "base", args.problems, args.n)
    for loss in args.losses:
        for strategy in args.strategies:
            key = f"{loss}/{strategy}"
            if key in results:
                continue
            train = load_config(
                TrainConfig,
                args.train_config,
                [
                    f"pairs={args.pairs}",
                    f"model={base_model}",
                    f"output_dir={out / loss / strategy}",
                    f"loss={loss}",
                    f"strategy={strategy}",
                    *args.overrides,
                ],
            )
            trained = run_train(train)
            results[key] = evaluate(
                str(trained.model_dir), str(trained.model_dir), out / loss / strategy / "eval", args.problems, args.n
            )
            (out / "table4.json").write_text(json.dumps(results, indent=2))
            print(row(key, results[key], results["base"]), flush=True)
    (out / "table4.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| Model | Acc | Solutions | Tokens | ξO | ξP |",
        "|---|---|---|---|---|---|",
        row("base (organism)", results["base"], None),
    ]
    lines += [row(key, metrics, results["base"]) for key, metrics in results.items() if key != "base"]
    (out / "table4.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
