"""Each registered pair strategy on hand-built analyzed rows, against hand-computed positives."""

from collections import Counter

import pytest

from overthink.errors import ConfigError
from overthink.pairs.core import problem_pairs
from overthink.pairs.strategies import STRATEGIES, StrategyOptions, fcs

OVERHEAD = 10  # tokens outside the solutions (the opening, the tags, the final answer)


def analyzed_row(source_row: int, rounds: list[tuple[int, bool, bool]]) -> dict:
    """A correct, closed response with one paragraph per (tokens, correct, distinct) round."""
    text, solutions = "<think>\n", []
    for number, (tokens, correct, distinct) in enumerate(rounds, start=1):
        body = f"Round {number} of row {source_row}.\n\n"
        solutions.append(
            {
                "start": len(text),
                "end": len(text) + len(body),
                "tokens": tokens,
                "correct": correct,
                "distinct": distinct,
            }
        )
        text += body
    thinking_end = len(text)
    return {
        "response": text + "</think>\n\nThe answer is 42.",
        "thinking_end": thinking_end,
        "solutions": solutions,
        "num_tokens": OVERHEAD + sum(r[0] for r in rounds),
        "num_solutions": len(rounds),
        "correct": True,
        "truncated": False,
        "error": None,
        "source_row": source_row,
        "problem_id": "p",
        "dataset": "d",
        "level": None,
    }


# Row 0 (80 tokens): wrong, right, a right check with no new strategy, a right one with a new strategy.
# Row 1 (57 tokens): right, then a right check with a new strategy.
ROWS = [
    analyzed_row(0, [(10, False, True), (20, True, True), (15, True, False), (25, True, True)]),
    analyzed_row(1, [(35, True, True), (12, True, True)]),
]

EXPECTED = {  # (source row, tokens, solutions) of the positive; the problem is all correct (accuracy 1)
    "shortest": (1, 57, 2),  # row 1 whole
    "fcs": (0, 40, 2),  # row 0 through its first correct solution (row 1's FCS has 45)
    "fcs_reflection": (0, 55, 3),  # row 0 through its second correct solution (row 1 whole: 57)
    "gds": (1, 57, 2),  # row 0 drops its repeated check: 65 tokens; row 1 keeps both: 57
    "difficulty": (0, 40, 2),  # an easy problem: the shortest prefix cut, FCS
}


def picked(name: str, accuracy: float = 1.0, scale: float = 1.0, rows=ROWS) -> tuple[int, int, int] | None:
    chosen = STRATEGIES.get(name)(rows, accuracy, StrategyOptions(difficulty_scale=scale))
    return chosen and (chosen.source_row, chosen.tokens, chosen.solutions)


def test_every_registered_strategy_has_an_expectation():
    assert set(EXPECTED) == set(STRATEGIES.names())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_registered_strategies_pick_their_positive(name):
    assert picked(name) == EXPECTED[name]


def test_difficulty_budget_grows_with_difficulty():
    # Prefix cuts: row 0 at 40, 55, 80 tokens; row 1 at 45, 57. Median correct length 68.5.
    assert picked("difficulty", accuracy=0.5) == (0, 55, 3)  # budget 40 + 0.5 × 28.5 = 54.25
    assert picked("difficulty", accuracy=0.5, scale=2.0) == (0, 80, 4)  # budget 68.5
    assert picked("difficulty", accuracy=0.0, scale=10.0) == (0, 80, 4)  # over every cut: the longest


def test_a_cut_closes_the_thinking_like_the_original():
    assert fcs(ROWS[0]).text == "<think>\nRound 1 of row 0.\n\nRound 2 of row 0.\n\n</think>\n\nThe answer is 42."


def test_response_strategies_need_a_correct_solution():
    wrong = [analyzed_row(2, [(30, False, True), (30, False, False)])]
    assert fcs(wrong[0]) is None
    assert {name: picked(name, rows=wrong) for name in STRATEGIES.names()} == {
        "shortest": (2, 70, 2),
        "fcs": None,
        "fcs_reflection": None,
        "gds": None,
        "difficulty": None,
    }


def test_problem_pairs_rejects_an_unknown_strategy_by_name():
    with pytest.raises(ConfigError, match="unknown pair strategy 'nope': choose one of shortest, fcs, "):
        problem_pairs(ROWS, ["fcs", "nope"], "longest_correct", False, 1.0, 1, "P", Counter())
