"""The sweep's summary: one row per trial (failed ones with their error) and the accuracy-vs-
tokens plot with the Pareto front, the base model and the champion."""

from __future__ import annotations

from pathlib import Path

from overthink.analyze.report import number_or_dash, percent_or_dash


def summary_markdown(trials: list[dict], base: dict, front: list[dict], best: dict | None, tolerance: float) -> str:
    front_keys = {t["key"] for t in front}
    lines = [
        f"Base: accuracy {100 * base['accuracy']:.1f}, {base['mean_tokens']:.1f} tokens. "
        f"Champion: fewest tokens with accuracy ≥ base − {100 * tolerance:.1f} pts.",
        "",
        "| Trial | Status | Acc | Δacc | Tokens | Δtokens % | Solutions | ξO | ξP | Pareto |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for trial in sorted(trials, key=lambda t: (t.get("mean_tokens") is None, t.get("mean_tokens") or 0)):
        if trial.get("error"):
            lines.append(f"| {trial['name']} | failed: {trial['error'][:120]} | - | - | - | - | - | - | - | |")
            continue
        status = "champion" if best and trial["key"] == best["key"] else "ok"
        lines.append(
            f"| {trial['name']} | {status} | {100 * trial['accuracy']:.1f} | {100 * trial['accuracy_change']:+.1f} | "
            f"{trial['mean_tokens']:.1f} | {-trial['token_reduction_pct']:+.1f} | "
            f"{number_or_dash(trial['mean_solutions'], 2)} | "
            f"{percent_or_dash(trial['outcome_efficiency'])} | {percent_or_dash(trial['process_efficiency'])} | "
            f"{'yes' if trial['key'] in front_keys else ''} |"
        )
    if best is None:
        lines += ["", f"No trial kept accuracy within {100 * tolerance:.1f} points of the base: no champion."]
    return "\n".join(lines) + "\n"


def pareto_plot(trials: list[dict], base: dict, front: list[dict], best: dict | None, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [t for t in trials if not t.get("error")]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.scatter([t["mean_tokens"] for t in done], [100 * t["accuracy"] for t in done], color="tab:blue", label="trial")
    for trial in done:
        axes.annotate(
            "/".join(str(v) for v in trial["params"].values())[:40],
            (trial["mean_tokens"], 100 * trial["accuracy"]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    axes.plot(
        [t["mean_tokens"] for t in front],
        [100 * t["accuracy"] for t in front],
        color="tab:orange",
        marker="o",
        label="Pareto front",
    )
    axes.scatter([base["mean_tokens"]], [100 * base["accuracy"]], color="black", marker="s", label="base")
    if best is not None:
        axes.scatter(
            [best["mean_tokens"]], [100 * best["accuracy"]], color="tab:red", marker="*", s=200, label="champion"
        )
    axes.set_xlabel("mean tokens per response")
    axes.set_ylabel("accuracy (%)")
    axes.set_title("Sweep: accuracy vs tokens")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
