"""Aggregate analyzed rows into the paper's summary numbers, per dataset and per level, with
95% bootstrap intervals for the headline means. Pure: numpy over columns."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

HEADLINE = ("accuracy", "mean_solutions", "mean_tokens", "outcome_efficiency", "process_efficiency")


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def bootstrap_ci(values, samples: int, rng: np.random.Generator) -> list[float] | None:
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if samples <= 0 or len(data) < 2:
        return None
    means = data[rng.integers(0, len(data), size=(samples, len(data)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarize(rows: list[dict], bootstrap_samples: int = 1000, seed: int = 0) -> dict:
    """Summary of one group of analyzed rows (see docs/stages/analyze.md, metrics.json)."""
    rng = np.random.default_rng(seed)
    analyzed = [r for r in rows if r["num_solutions"] is not None]
    graded = [r for r in analyzed if r["correct"] is not None]
    with_correct = [r for r in graded if r["any_correct"]]
    columns = {
        "accuracy": [float(r["correct"]) for r in graded],
        "mean_solutions": [r["num_solutions"] for r in analyzed],
        "mean_tokens": [r["num_tokens"] for r in analyzed],
        "outcome_efficiency": [r["outcome_efficiency"] for r in graded],
        "process_efficiency": [r["process_efficiency"] for r in analyzed],
    }
    summary = {
        "responses": len(rows),
        "analyzed": len(analyzed),
        "graded": len(graded),
        **{name: _mean(values) for name, values in columns.items()},
        "any_correct_rate": _mean([float(r["any_correct"]) for r in graded]),
        "first_solution_correct_rate": _mean([float(r["first_correct_index"] == 0) for r in graded]),
        "additional_solutions": _mean([r["additional_solutions"] for r in with_correct]),
        "additional_tokens": _mean([r["additional_tokens"] for r in with_correct]),
        "truncated_rate": _mean([float(r["truncated"]) for r in analyzed]),
        "first_correct_position": position_shares([r["first_correct_index"] for r in with_correct]),
        "distinctness_by_position": distinctness_by_position(analyzed),
        "flags": dict(Counter(flag.split(":")[0] for r in rows for flag in r["flags"])),
        "errors": sum(1 for r in rows if r.get("error")),
        "ci95": {name: bootstrap_ci(values, bootstrap_samples, rng) for name, values in columns.items()},
    }
    return summary


def position_shares(indices: list[int]) -> dict[str, float]:
    """Share of responses (with a correct solution) whose first correct one is at position m."""
    counts = Counter(i + 1 for i in indices)
    return {str(m): counts[m] / len(indices) for m in sorted(counts)} if indices else {}


def distinctness_by_position(rows: list[dict]) -> dict[str, float]:
    """At position m: share of responses with an m-th solution whose m-th solution is distinct."""
    have, distinct = Counter(), Counter()
    for row in rows:
        for m, solution in enumerate(row["solutions"], start=1):
            have[m] += 1
            distinct[m] += bool(solution["distinct"])
    return {str(m): distinct[m] / have[m] for m in sorted(have)}


def summarize_all(rows: list[dict], bootstrap_samples: int = 1000, seed: int = 0) -> dict:
    """metrics.json: overall, by dataset and by level."""
    by_dataset, by_level = defaultdict(list), defaultdict(list)
    for row in rows:
        by_dataset[row["dataset"]].append(row)
        if row["level"] is not None:
            by_level[row["level"]].append(row)
    return {
        "overall": summarize(rows, bootstrap_samples, seed),
        "by_dataset": {k: summarize(v, bootstrap_samples, seed) for k, v in sorted(by_dataset.items())},
        "by_level": {k: summarize(v, bootstrap_samples, seed) for k, v in sorted(by_level.items(), key=_level_key)},
    }


def _level_key(item):
    key = item[0]
    return (0, float(key), "") if key.replace(".", "", 1).isdigit() else (1, 0.0, key)
