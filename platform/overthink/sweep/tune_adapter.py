"""The sweep's search settings as Ray Tune objects: the only sweep module that imports Ray (lazily), so
loading and checking a sweep config stays Ray-free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from overthink.sweep.space import Choice, Dimension, Fixed, Grid, LogUniform, RandInt, Uniform, parse_space


def tune_space(space: Mapping[str, Dimension], grid: bool = True) -> dict[str, Any]:
    """Parsed dimensions -> Tune's param_space. `grid=False` (random or Optuna search) draws a grid's
    values like a choice, since those searchers do not expand grid_search."""
    from ray import tune

    ranges = {Uniform: tune.uniform, LogUniform: tune.loguniform, RandInt: tune.randint}
    out: dict[str, Any] = {}
    for key, dimension in space.items():
        if isinstance(dimension, Fixed):
            out[key] = dimension.value
        elif isinstance(dimension, Grid) and grid:
            out[key] = tune.grid_search(list(dimension.values))
        elif isinstance(dimension, (Grid, Choice)):
            out[key] = tune.choice(list(dimension.values))
        else:
            out[key] = ranges[type(dimension)](dimension.low, dimension.high)
    return out


def tune_settings(search, settings_model: type[BaseModel]) -> tuple[dict[str, Any], Any, Any]:
    """(param_space, TuneConfig, stopper or None) for a SearchConfig; trials report `objective` (max).
    `search.space` is parsed here against `settings_model` (the train settings), so a raw space works too."""
    from ray import tune

    space = tune_space(parse_space(search.space, settings_model), grid=search.algorithm == "grid")
    config = tune.TuneConfig(
        metric="objective",
        mode="max",
        num_samples=search.num_samples,
        search_alg=search_algorithm(search),
        max_concurrent_trials=search.max_concurrent_trials,
        time_budget_s=search.time_budget_s,
    )
    return space, config, plateau_stopper(search)


def search_algorithm(search) -> Any:
    """Seeded searcher for random/Optuna; None for grid (Tune's default generator)."""
    if search.algorithm == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(seed=search.seed)
    if search.algorithm == "random":
        from ray.tune.search import BasicVariantGenerator

        return BasicVariantGenerator(random_state=search.seed)
    return None


def plateau_stopper(search) -> Any:
    if not search.plateau:
        return None
    from ray.tune.stopper import ExperimentPlateauStopper

    return ExperimentPlateauStopper(
        "objective", std=search.plateau.std, top=search.plateau.top, mode="max", patience=search.plateau.patience
    )
