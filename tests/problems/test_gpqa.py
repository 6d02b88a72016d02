"""GPQA: deterministic per-problem choice shuffling, gold letter pointing at the correct answer."""

import csv

import pytest

from overthink.errors import InputError
from overthink.problems import ProblemSetConfig, load_problems
from overthink.problems.gpqa import shuffle_choices, with_choices

COLUMNS = [
    "Pre-Revision Question",
    "Question",
    "Correct Answer",
    "Incorrect Answer 1",
    "Incorrect Answer 2",
    "Incorrect Answer 3",
    "Record ID",
    "High-level domain",
]


def gpqa_csv(path, count=12, drop=None):
    """A file in the layout of the hub's gpqa_diamond.csv: correct answer always in its own column."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c for c in COLUMNS if c != drop])
        writer.writeheader()
        for i in range(count):
            row = {
                "Pre-Revision Question": "old",
                "Question": f"Question {i}?\nSecond line of {i}.",
                "Correct Answer": f" right {i} ",
                "Incorrect Answer 1": f"wrong {i}a",
                "Incorrect Answer 2": f"0.50 wrong {i}b",
                "Incorrect Answer 3": f"wrong {i}c\n",
                "Record ID": f"rec{i:04d}",
                "High-level domain": "Physics",
            }
            writer.writerow({k: v for k, v in row.items() if k != drop})
    return path


def load(path, seed=0, **extra):
    return load_problems(ProblemSetConfig(name="gpqa_diamond", path=str(path), seed=seed, **extra))


def test_shuffle_is_deterministic_and_the_letter_points_at_the_correct_text():
    first = shuffle_choices("right", ["w1", "w2", "w3"], seed=7, key="rec1")
    assert first == shuffle_choices("right", ["w1", "w2", "w3"], seed=7, key="rec1")
    choices, letter = first
    assert sorted(choices) == ["right", "w1", "w2", "w3"]
    assert choices["ABCD".index(letter)] == "right"


def test_correct_answer_is_not_always_first():
    letters = {shuffle_choices("r", ["a", "b", "c"], seed=0, key=f"rec{i}")[1] for i in range(40)}
    assert letters == {"A", "B", "C", "D"}


def test_with_choices_appends_lettered_options():
    assert with_choices("Q?\n", ["x", "y", "z"]) == "Q?\n\n(A) x\n(B) y\n(C) z"


def test_loaded_problems_carry_choices_and_letter(tmp_path):
    problems = load(gpqa_csv(tmp_path / "gpqa_diamond.csv"))
    assert len(problems) == 12
    for i, problem in enumerate(problems):
        assert problem.problem_id == f"rec{i:04d}" and problem.dataset == "gpqa_diamond"
        assert problem.gold in "ABCD" and len(problem.gold) == 1
        assert problem.choices["ABCD".index(problem.gold)] == f"right {i}"  # stripped, as shown
        assert sorted(problem.choices) == sorted([f"right {i}", f"wrong {i}a", f"0.50 wrong {i}b", f"wrong {i}c"])
        assert problem.problem == f"Question {i}?\nSecond line of {i}."  # options are lettered per sample
    assert len({p.gold for p in problems}) > 1


def test_same_seed_same_order_and_other_seed_differs(tmp_path):
    path = gpqa_csv(tmp_path / "gpqa_diamond.csv")
    assert load(path, seed=3) == load(path, seed=3)
    other = load(path, seed=4)
    assert any(a.choices != b.choices for a, b in zip(load(path, seed=3), other))
    assert all(p.choices["ABCD".index(p.gold)].startswith("right") for p in other)


def test_order_does_not_depend_on_limit_or_row_position(tmp_path):
    path = gpqa_csv(tmp_path / "gpqa_diamond.csv")
    full = load(path, seed=1)
    assert load(path, seed=1, limit=3) == full[:3]
    # The permutation is keyed by the record id, not the row index: drop rows and the rest keep theirs.
    shorter = gpqa_csv(tmp_path / "fewer.csv", count=5)
    assert load(shorter, seed=1) == full[:5]


def test_hub_snapshot_folder_picks_the_diamond_file(tmp_path):
    folder = tmp_path / "gpqa"
    folder.mkdir()
    gpqa_csv(folder / "gpqa_diamond.csv", count=4)
    gpqa_csv(folder / "gpqa_main.csv", count=9)
    assert len(load(folder)) == 4


def test_missing_answer_column_names_it(tmp_path):
    path = gpqa_csv(tmp_path / "gpqa_diamond.csv", drop="Incorrect Answer 3")
    with pytest.raises(InputError, match=r"gpqa_diamond.csv record 0: missing column 'Incorrect Answer 3'.*Question"):
        load(path)


def test_each_sample_gets_its_own_order_and_the_gold_letter_follows(tmp_path):
    from overthink.sample.config import PromptConfig
    from overthink.sample.requests import expand, user_message

    problem = load(gpqa_csv(tmp_path / "gpqa_diamond.csv"))[0]
    requests = expand([problem], lambda p: user_message(p, PromptConfig()), n=12, base_seed=0)
    assert len({r["gold"] for r in requests}) > 1  # the order differs between samples
    for r in requests:
        shown = dict(line[1:].split(") ", 1) for line in r["problem"].splitlines() if line.startswith("("))
        assert shown[r["gold"]] == "right 0"  # the gold letter points at the correct answer
        assert r["prompt"].count("(A) ") == 1
    assert expand([problem], lambda p: user_message(p, PromptConfig()), n=12, base_seed=0) == requests
