"""Inference-time cures against the base model, in one run: `overthink evaluate` on the organism's
held-out problems (configs/evaluate/organism.yaml) with no thinking control (the baseline), with
thinking budgets, and with early exit; with --champion (a trained model folder or MLflow URI),
that model with and without early exit too. Prints accuracy and mean tokens per row, each row's
change against the base row, and writes the experiment's accuracy-vs-tokens plot.

  .venv/bin/python bench/policy_pareto.py [--problems 64] [--n 2] [--budgets 48 96]
      [--champion models:/overthink-organism@champion] [--early-exit probe_at=paragraphs agree=2]
"""

import argparse
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EARLY_EXIT = ["probe_at=paragraphs", "agree=2"]


def rows(args) -> list[tuple[str, list[str]]]:
    early_exit = ["sample.policy.kind=early_exit", *(f"sample.policy.early_exit.{s}" for s in args.early_exit)]
    base = [("base", ["model=organism"])]
    base += [
        (f"base + budget {b}", ["model=organism", "sample.policy.kind=budget", f"sample.policy.thinking_budget={b}"])
        for b in args.budgets
    ]
    base += [("base + early exit", ["model=organism", *early_exit])]
    if args.champion:
        base += [
            ("champion", [f"model={args.champion}"]),
            ("champion + early exit", [f"model={args.champion}", *early_exit]),
        ]
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--budgets", type=int, nargs="*", default=[48, 96])
    parser.add_argument("--champion", default=None)
    parser.add_argument(
        "--early-exit", nargs="*", default=EARLY_EXIT, metavar="KEY=VALUE", help="policy.early_exit settings"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = Path(tempfile.mkdtemp(prefix="pareto-"))
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    from overthink.config import load_config
    from overthink.evaluate.config import EvaluateConfig
    from overthink.evaluate.stage import run_evaluate

    results = []
    for name, overrides in rows(args):
        config = load_config(
            EvaluateConfig,
            REPO / "configs/evaluate/organism.yaml",
            [
                *overrides,
                f"name={name!r}",
                f"output_dir={folder / name.replace(' ', '_').replace('+', 'and')}",
                f"sample.problems=[{{name: organism, limit: {args.problems}}}]",
                f"sample.sampling.n={args.n}",
                "mlflow.experiment=policy-pareto",
            ],
        )
        overall = run_evaluate(config).metrics["overall"]
        results.append((name, overall["accuracy"], overall["mean_tokens"]))
    _, base_accuracy, base_tokens = results[0]
    print(f"{'row':<24} {'accuracy':>8} {'mean tokens':>11} {'tokens vs base':>14} {'accuracy vs base':>16}")
    for name, accuracy, tokens in results:
        print(
            f"{name:<24} {100 * accuracy:>7.1f}% {tokens:>11.1f} {100 * (tokens / base_tokens - 1):>+13.1f}% "
            f"{100 * (accuracy - base_accuracy):>+15.1f}pt"
        )
    print(f"plot: {sorted(folder.rglob('accuracy_vs_tokens.png'))[-1]}")


if __name__ == "__main__":
    main()
