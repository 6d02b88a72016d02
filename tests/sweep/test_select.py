"""Search-space parsing, Pareto front and champion choice."""

import pytest
from ray import tune

from overthink.errors import ConfigError
from overthink.sweep.select import champion, pareto_front, tune_space


def trial(name, accuracy, tokens):
    return {"name": name, "accuracy": accuracy, "mean_tokens": tokens}


TRIALS = [trial("a", 0.91, 180), trial("b", 0.90, 100), trial("c", 0.85, 90), trial("d", 0.89, 120),
          trial("e", 0.60, 95), trial("failed", None, None)]


def test_pareto_front_keeps_only_undominated_trials():
    assert [t["name"] for t in pareto_front(TRIALS)] == ["c", "b", "a"]  # d is beaten by b, e by c


def test_champion_is_the_shortest_within_the_tolerance():
    base = {"accuracy": 0.912, "mean_tokens": 180.6}
    assert champion(TRIALS, base, tolerance=0.02)["name"] == "b"
    assert champion(TRIALS, base, tolerance=0.10)["name"] == "c"
    assert champion(TRIALS, base, tolerance=0.0) is None  # nothing reaches 91.2%
    assert champion([trial("x", 0.95, 300)], base, tolerance=0.0)["name"] == "x"


def test_search_space_from_yaml():
    space = tune_space({"strategy": {"grid": ["fcs", "gds"]}, "learning_rate": {"loguniform": [1e-6, 1e-4]},
                        "beta": {"choice": [2.0, 2.5]}, "epochs": 1})
    assert space["strategy"] == tune.grid_search(["fcs", "gds"]) and space["epochs"] == 1
    assert 1e-6 <= space["learning_rate"].sample() <= 1e-4 and space["beta"].sample() in (2.0, 2.5)
    with pytest.raises(ConfigError, match="'beta': give one of grid"):
        tune_space({"beta": {"normal": [0, 1]}})
    with pytest.raises(ConfigError, match="'lr': loguniform needs low > 0"):
        tune_space({"lr": {"loguniform": [0, 1]}})
    with pytest.raises(ConfigError, match="'gamma': uniform needs \\[low, high\\]"):
        tune_space({"gamma": {"uniform": [1.0, 0.5]}})
