"""Pure comparison of two evaluations (analyzed rows of a baseline and of a candidate): token
reduction and accuracy change per dataset, with a 95% bootstrap interval on the accuracy change.
The bootstrap resamples problems (all samples of a problem together), so several samples per
problem do not narrow the interval, and it is paired: both arms answered the same problems, and
each resample draws the same problems for both, so the interval measures the change, not how
hard the drawn problems happen to be (an independent bootstrap of two arms that agree on all but
one problem in 64, half of them hard, spans about ±17 points; paired, it spans that one problem)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

ROW_KEYS = ("problem_id", "dataset", "correct", "num_tokens")


def by_problem(rows: list[dict]) -> dict[str, dict[str, tuple[float, float, int]]]:
    """dataset -> problem -> (correct count, token sum, graded samples)."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0]))
    for row in rows:
        if row["correct"] is None or row["num_tokens"] is None:
            continue
        cell = out[row["dataset"] or "all"][row["problem_id"]]
        cell[0] += bool(row["correct"])
        cell[1] += row["num_tokens"]
        cell[2] += 1
    return {d: {p: tuple(v) for p, v in problems.items()} for d, problems in out.items()}


def _arrays(problems: dict, order: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.array([problems[key] for key in order], dtype=float).reshape(-1, 3)
    return values[:, 0], values[:, 1], values[:, 2]


def compare_arms(baseline: dict, candidate: dict, resamples: int, rng: np.random.Generator) -> dict:
    """Both arms hold the same problems (see `compare`)."""
    order = sorted(baseline)
    b_correct, b_tokens, b_count = _arrays(baseline, order)
    c_correct, c_tokens, c_count = _arrays(candidate, order)
    b_acc, c_acc = b_correct.sum() / b_count.sum(), c_correct.sum() / c_count.sum()
    b_mean, c_mean = b_tokens.sum() / b_count.sum(), c_tokens.sum() / c_count.sum()
    picks = rng.integers(0, len(order), size=(resamples, len(order)))  # the same problems for both arms
    resampled = lambda correct, count: correct[picks].sum(axis=1) / count[picks].sum(axis=1)  # noqa: E731
    deltas = resampled(c_correct, c_count) - resampled(b_correct, b_count)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {
        "baseline_accuracy": float(b_acc),
        "accuracy": float(c_acc),
        "accuracy_change": float(c_acc - b_acc),
        "accuracy_change_ci95": [float(low), float(high)],
        "baseline_mean_tokens": float(b_mean),
        "mean_tokens": float(c_mean),
        "token_reduction_pct": float(100 * (1 - c_mean / b_mean)) if b_mean else None,
        "problems": len(candidate),
        "baseline_problems": len(baseline),
    }


def compare(baseline_rows: list[dict], candidate_rows: list[dict], resamples: int = 2000, seed: int = 0) -> dict:
    """{"by_dataset": {dataset: comparison}, "overall": comparison}: on the problems both arms
    evaluated, never on two different problem sets (a token reduction between different problems
    measures the problems). What was left out is counted in "unmatched"."""
    rng = np.random.default_rng(seed)
    base, cand = by_problem(baseline_rows), by_problem(candidate_rows)
    matched: dict[str, tuple[dict, dict]] = {}
    unmatched = {}
    for dataset in sorted(set(base) | set(cand)):
        ours, theirs = cand.get(dataset, {}), base.get(dataset, {})
        shared = sorted(set(ours) & set(theirs))
        only_candidate, only_baseline = len(set(ours) - set(theirs)), len(set(theirs) - set(ours))
        if only_candidate or only_baseline:
            unmatched[dataset] = {"only_in_candidate": only_candidate, "only_in_baseline": only_baseline}
        if shared:
            matched[dataset] = ({p: theirs[p] for p in shared}, {p: ours[p] for p in shared})
    result = {"by_dataset": {d: compare_arms(b, c, resamples, rng) for d, (b, c) in matched.items()}}
    pooled = lambda arm: {(d, p): v for d, arms in matched.items() for p, v in arms[arm].items()}  # noqa: E731
    result["overall"] = compare_arms(pooled(0), pooled(1), resamples, rng) if matched else None
    result["unmatched"] = unmatched
    result["missing_in_baseline"] = sorted(set(cand) - set(base))
    return result


def unmatched_note(comparison: dict) -> str | None:
    """One line saying which problems were left out of the comparison, or None."""
    parts = [
        f"{dataset}: {counts['only_in_candidate']} only here, {counts['only_in_baseline']} only in the baseline"
        for dataset, counts in comparison.get("unmatched", {}).items()
    ]
    if not parts:
        return None
    if comparison["overall"] is None:
        return "The baseline shares no problem with this evaluation: nothing compared (" + "; ".join(parts) + ")."
    return "Compared on the problems both evaluated; left out " + "; ".join(parts) + "."


def comparison_markdown(comparison: dict, name: str, baseline_name: str) -> str:
    if comparison["overall"] is None:
        return (unmatched_note(comparison) or "Nothing to compare.") + "\n"
    lines = [
        f"| Dataset | Problems | {baseline_name} acc | {name} acc | Δ acc (95% CI) | {baseline_name} tokens | "
        f"{name} tokens | Token reduction |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = list(comparison["by_dataset"].items())
    if comparison["overall"] and len(rows) > 1:
        rows.append(("overall", comparison["overall"]))
    for dataset, c in rows:
        low, high = c["accuracy_change_ci95"]
        lines.append(
            f"| {dataset} | {c['problems']} | {100 * c['baseline_accuracy']:.1f} | {100 * c['accuracy']:.1f} | "
            f"{100 * c['accuracy_change']:+.1f} ({100 * low:+.1f}, {100 * high:+.1f}) | "
            f"{c['baseline_mean_tokens']:.1f} | {c['mean_tokens']:.1f} | {c['token_reduction_pct']:.1f}% |"
        )
    note = unmatched_note(comparison)
    return "\n".join(lines) + "\n" + (f"\n{note}\n" if note else "")
