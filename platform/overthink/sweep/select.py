"""Pure parts of the sweep: the search space from YAML, the accuracy-vs-tokens Pareto front and
the champion (the largest token reduction whose accuracy stays within a tolerance of the base)."""

from __future__ import annotations

from typing import Any

from overthink.errors import ConfigError

DISTRIBUTIONS = ("grid", "choice", "uniform", "loguniform", "randint")


def tune_space(space: dict[str, Any], grid: bool = True) -> dict[str, Any]:
    """YAML `{key: {grid: [...]}}`, `{choice: [...]}`, `{uniform: [lo, hi]}`, `{loguniform: [lo, hi]}`,
    `{randint: [lo, hi]}` or a plain value -> Ray Tune's param_space. `grid=False` (random search)
    draws grid lists like choices."""
    from ray import tune

    out = {}
    for key, spec in space.items():
        if not isinstance(spec, dict):
            out[key] = spec
            continue
        if len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
            raise ConfigError(f"search space key {key!r}: give one of {', '.join(DISTRIBUTIONS)} (got {spec!r})")
        kind, values = next(iter(spec.items()))
        if kind in ("grid", "choice"):
            if not isinstance(values, list) or not values:
                raise ConfigError(f"search space key {key!r}: {kind} needs a non-empty list")
            out[key] = tune.grid_search(values) if kind == "grid" and grid else tune.choice(values)
            continue
        if not (isinstance(values, list) and len(values) == 2 and values[0] < values[1]):
            raise ConfigError(f"search space key {key!r}: {kind} needs [low, high] with low < high")
        low, high = values
        if kind == "loguniform" and low <= 0:
            raise ConfigError(f"search space key {key!r}: loguniform needs low > 0")
        out[key] = {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}[kind](low, high)
    return out


def tune_settings(search) -> tuple[dict[str, Any], Any, Any]:
    """(param_space, TuneConfig, stopper or None) for a SearchConfig; trials report `objective` (max)."""
    from ray import tune

    space = tune_space(search.space, grid=search.algorithm == "grid")
    search_alg = None  # grid: Tune's default generator
    if search.algorithm == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        search_alg = OptunaSearch(seed=search.seed)
    elif search.algorithm == "random":
        from ray.tune.search import BasicVariantGenerator

        search_alg = BasicVariantGenerator(random_state=search.seed)
    config = tune.TuneConfig(metric="objective", mode="max", num_samples=search.num_samples, search_alg=search_alg,
                             max_concurrent_trials=search.max_concurrent_trials, time_budget_s=search.time_budget_s)
    stopper = None
    if search.plateau:
        from ray.tune.stopper import ExperimentPlateauStopper

        stopper = ExperimentPlateauStopper("objective", std=search.plateau.std, top=search.plateau.top, mode="max",
                                           patience=search.plateau.patience)
    return space, config, stopper


def dominates(a: dict, b: dict) -> bool:
    """a is at least as accurate and as short as b, and better in one."""
    return (a["accuracy"] >= b["accuracy"] and a["mean_tokens"] <= b["mean_tokens"]
            and (a["accuracy"] > b["accuracy"] or a["mean_tokens"] < b["mean_tokens"]))


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
