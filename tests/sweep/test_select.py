"""Pareto front and champion choice (the pure selection core; the search space is in test_space.py)."""

from overthink.sweep.select import champion, pareto_front


def trial(name, accuracy, tokens):
    return {"name": name, "accuracy": accuracy, "mean_tokens": tokens}


TRIALS = [
    trial("a", 0.91, 180),
    trial("b", 0.90, 100),
    trial("c", 0.85, 90),
    trial("d", 0.89, 120),
    trial("e", 0.60, 95),
    trial("failed", None, None),
]


def test_pareto_front_keeps_only_undominated_trials():
    assert [t["name"] for t in pareto_front(TRIALS)] == ["c", "b", "a"]  # d is beaten by b, e by c


def test_champion_is_the_shortest_within_the_tolerance():
    base = {"accuracy": 0.912, "mean_tokens": 180.6}
    assert champion(TRIALS, base, tolerance=0.02)["name"] == "b"
    assert champion(TRIALS, base, tolerance=0.10)["name"] == "c"
    assert champion(TRIALS, base, tolerance=0.0) is None  # nothing reaches 91.2%
    assert champion([trial("x", 0.95, 300)], base, tolerance=0.0)["name"] == "x"
