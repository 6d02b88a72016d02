"""The sweep's search settings driving real Ray Tune runs with a cheap objective: seeded random and
Optuna searches repeat exactly, grid runs every point, the plateau stopper ends a sweep early."""

from __future__ import annotations

import pytest
import ray
from ray import tune

from overthink.config import load_config
from overthink.sweep.config import SearchConfig
from overthink.sweep.space import parse_space
from overthink.sweep.tune_adapter import tune_settings, tune_space
from overthink.train.config import TrainConfig

pytestmark = pytest.mark.slow

SPACE = "space={learning_rate: {loguniform: [1.0e-6, 1.0e-3]}, loss: {grid: [simpo, dpo]}, epochs: 1}"


def fit(tmp_path, search: SearchConfig):
    """Tune over the search settings with a cheap objective (nested, so Ray pickles it by value)."""

    def objective(params: dict) -> None:
        tune.report({"objective": -abs(params["learning_rate"] - 1e-4) * 1e4 + (params["loss"] == "simpo")})

    space, config, stopper = tune_settings(search, TrainConfig)
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False)
    return tune.Tuner(
        objective,
        param_space=space,
        tune_config=config,
        run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), stop=stopper),
    ).fit()


def test_tune_space_maps_every_dimension():
    dims = parse_space(
        {
            "strategy": {"grid": ["fcs", "gds"]},
            "learning_rate": {"loguniform": [1.0e-6, 1.0e-4]},
            "beta": {"choice": [2.0, 2.5]},
            "simpo_gamma": {"uniform": [0.0, 1.0]},
            "placement.count": {"randint": [1, 3]},
            "epochs": 1,
        },
        TrainConfig,
    )
    space = tune_space(dims)
    assert space["strategy"] == tune.grid_search(["fcs", "gds"]) and space["epochs"] == 1.0
    assert 1e-6 <= space["learning_rate"].sample() <= 1e-4 and space["beta"].sample() in (2.0, 2.5)
    assert 0.0 <= space["simpo_gamma"].sample() < 1.0 and space["placement.count"].sample() in (1, 2)
    assert tune_space(dims, grid=False)["strategy"].sample() in ("fcs", "gds")  # random/Optuna: grid -> choice


def run(tmp_path, *overrides) -> list[dict]:
    grid = fit(tmp_path, load_config(SearchConfig, None, [SPACE, *overrides]))
    return [{**result.config, **result.metrics} for result in grid if result.metrics]


@pytest.mark.parametrize("algorithm", ["random", "optuna"])
def test_seeded_searches_repeat_and_keep_fixed_values(tmp_path, algorithm):
    first = run(tmp_path / "a", f"algorithm={algorithm}", "num_samples=4", "seed=3")
    again = run(tmp_path / "b", f"algorithm={algorithm}", "num_samples=4", "seed=3")
    other = run(tmp_path / "c", f"algorithm={algorithm}", "num_samples=4", "seed=4")
    rates = lambda trials: sorted(t["learning_rate"] for t in trials)  # noqa: E731
    assert len(first) == 4 and rates(first) == rates(again) != rates(other)
    assert all(t["epochs"] == 1 and t["loss"] in ("simpo", "dpo") and 1e-6 <= t["learning_rate"] <= 1e-3 for t in first)


def test_grid_runs_every_point_per_sample(tmp_path):
    trials = run(tmp_path, "algorithm=grid", "num_samples=2")
    assert sorted(t["loss"] for t in trials) == ["dpo", "dpo", "simpo", "simpo"]


def test_plateau_stops_the_sweep_early(tmp_path):
    flat = (
        "space={learning_rate: {grid: [1.0e-4, 1.0e-4, 1.0e-4, 1.0e-4, 1.0e-4, 1.0e-4, 1.0e-4, 1.0e-4]}, loss: simpo}"
    )
    finished = lambda grid: sum(1 for result in grid if result.metrics)  # noqa: E731
    assert finished(fit(tmp_path / "a", load_config(SearchConfig, None, [flat]))) == 8
    assert (
        finished(
            fit(tmp_path / "b", load_config(SearchConfig, None, [flat, "plateau={top: 2, std: 0.1, patience: 0}"]))
        )
        < 8
    )
