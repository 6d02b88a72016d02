"""Pure selection core of the sweep: the accuracy-vs-tokens Pareto front and the champion (the largest
token reduction whose accuracy stays within a tolerance of the base). The search space lives in
sweep/space.py, its Ray Tune form in sweep/tune_adapter.py."""

from __future__ import annotations


def dominates(a: dict, b: dict) -> bool:
    """a is at least as accurate and as short as b, and better in one."""
    return (
        a["accuracy"] >= b["accuracy"]
        and a["mean_tokens"] <= b["mean_tokens"]
        and (a["accuracy"] > b["accuracy"] or a["mean_tokens"] < b["mean_tokens"])
    )


def pareto_front(trials: list[dict]) -> list[dict]:
    """Trials no other trial dominates, by ascending tokens."""
    done = [t for t in trials if t.get("accuracy") is not None and t.get("mean_tokens") is not None]
    front = [t for t in done if not any(dominates(other, t) for other in done)]
    return sorted(front, key=lambda t: (t["mean_tokens"], -t["accuracy"]))


def champion(trials: list[dict], base: dict, tolerance: float) -> dict | None:
    """The fewest mean tokens among trials whose accuracy is at least base accuracy − tolerance
    (both as fractions); ties go to the more accurate. None if no trial qualifies."""
    eligible = [t for t in pareto_front(trials) if t["accuracy"] >= base["accuracy"] - tolerance]
    return min(eligible, key=lambda t: (t["mean_tokens"], -t["accuracy"])) if eligible else None
