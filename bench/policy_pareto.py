"""Inference-time cures against the base model, in one run: `overthink evaluate` on the organism's
held-out problems (configs/evaluate/organism.yaml) with no thinking control (the baseline), with
thinking budgets, and with early exit; with --champion (a trained model folder or MLflow URI),
that model with and without early exit too. Prints accuracy and mean tokens per row, each row's
change against the base row (accuracy with the evaluate stage's paired 95% interval over problems),
and writes the experiment's accuracy-vs-tokens plot.

  .venv/bin/python bench/policy_pareto.py [--problems 64] [--n 2] [--budgets 48 96]
      [--champion models:/overthink-organism@champion] [--early-exit probe_at=paragraphs agree=2]
      [--early-exit probe_at=paragraphs confidence=0.95]   (repeat: one row per early-exit setting)
"""

import argparse
import os
import re
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EARLY_EXIT = ["probe_at=paragraphs", "confidence=0.95"]


def rows(args) -> list[tuple[str, list[str]]]:
    settings = args.early_exit or [EARLY_EXIT]
    shared = set.intersection(*(set(chosen) for chosen in settings))  # named once, in the docs, not per row

    def early_exit(model: str, chosen: list[str]) -> tuple[str, list[str]]:
        differing = " ".join(s for s in chosen if s not in shared)
        name = f"{model} + early exit" + (f" ({differing})" if len(settings) > 1 else "")
        overrides = ["sample.policy.kind=early_exit", *(f"sample.policy.early_exit.{s}" for s in chosen)]
        return name, [f"model={'organism' if model == 'base' else args.champion}", *overrides]

    base = [("base", ["model=organism"])]
    base += [
        (f"base + budget {b}", ["model=organism", "sample.policy.kind=budget", f"sample.policy.thinking_budget={b}"])
        for b in args.budgets
    ]
    base += [early_exit("base", chosen) for chosen in settings]
    if args.champion:
        base += [("champion", [f"model={args.champion}"])]
        base += [early_exit("champion", chosen) for chosen in settings]
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--budgets", type=int, nargs="*", default=[48, 96])
    parser.add_argument("--champion", default=None)
    parser.add_argument(
        "--early-exit",
        nargs="+",
        action="append",
        metavar="KEY=VALUE",
        help=f"policy.early_exit settings of one early-exit row (default: {' '.join(EARLY_EXIT)}); repeat for more",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = Path(tempfile.mkdtemp(prefix="pareto-"))
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    from overthink.config import load_config
    from overthink.evaluate.config import EvaluateConfig
    from overthink.evaluate.stage import run_evaluate

    results, base_folder = [], None
    for name, overrides in rows(args):
        output = folder / re.sub(r"[^A-Za-z0-9.]+", "_", name.replace("+", "and"))
        config = load_config(
            EvaluateConfig,
            REPO / "configs/evaluate/organism.yaml",
            [
                *overrides,
                f"name={name!r}",
                f"output_dir={output}",
                f"sample.problems=[{{name: organism, limit: {args.problems}}}]",
                f"sample.sampling.n={args.n}",
                "mlflow.experiment=policy-pareto",
                *([f"baseline={base_folder}"] if base_folder else []),  # paired Δ accuracy with its interval
            ],
        )
        result = run_evaluate(config)
        base_folder = base_folder or output
        overall, change = result.metrics["overall"], (result.comparison or {}).get("overall")
        interval = (
            "" if change is None else "({:+.1f}, {:+.1f})".format(*(100 * x for x in change["accuracy_change_ci95"]))
        )
        results.append((name, overall["accuracy"], overall["mean_tokens"], interval))
    _, base_accuracy, base_tokens, _ = results[0]
    width = max(len(name) for name, *_ in results)
    print(
        f"{'row':<{width}} {'accuracy':>8} {'mean tokens':>11} {'tokens vs base':>14} {'accuracy vs base':>16} "
        f"{'95% CI (paired)':>16}"
    )
    for name, accuracy, tokens, interval in results:
        print(
            f"{name:<{width}} {100 * accuracy:>7.1f}% {tokens:>11.1f} {100 * (tokens / base_tokens - 1):>+13.1f}% "
            f"{100 * (accuracy - base_accuracy):>+15.1f}pt {interval:>16}"
        )
    print(f"plot: {sorted(folder.rglob('accuracy_vs_tokens.png'))[-1]}")


if __name__ == "__main__":
    main()
