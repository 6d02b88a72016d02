"""GPQA multiple choice: a deterministic shuffle of the four options, gold = the letter; the
loader shuffles once per problem, and `reshuffle` gives each sample its own order.

The hub rows always list the correct answer first ("Correct Answer", then "Incorrect Answer 1..3"),
so showing them in that order would leak the answer. Each problem gets its own permutation from
`random.Random(f"{seed}:{problem_id}")`: string seeds are hashed with SHA-512 by Python, so the
order is the same on every machine and run, does not depend on PYTHONHASHSEED, and does not change
when `limit` or the row order changes."""

from __future__ import annotations

import random

LETTERS = "ABCDEFGHIJ"
INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def shuffle_choices(correct: str, incorrect: list[str], seed: int, key: str) -> tuple[list[str], str]:
    """(options in shown order, letter of the correct one)."""
    options = [correct, *incorrect]
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} choices are supported, got {len(options)}")
    order = list(range(len(options)))
    random.Random(f"{seed}:{key}").shuffle(order)
    shown = [options[i] for i in order]
    return shown, LETTERS[order.index(0)]


def with_choices(question: str, choices: list[str]) -> str:
    """The question followed by its lettered options: "(A) ...\\n(B) ..."."""
    lettered = "\n".join(f"({LETTERS[i]}) {choice}" for i, choice in enumerate(choices))
    return f"{question.rstrip()}\n\n{lettered}"


def reshuffle(problem, seed: int):
    """The problem with its choices in a fresh order for one sample (`seed`), gold following."""
    from dataclasses import replace

    correct = problem.choices[LETTERS.index(problem.gold)]
    others = [c for i, c in enumerate(problem.choices) if i != LETTERS.index(problem.gold)]
    choices, letter = shuffle_choices(correct, others, seed, problem.problem_id)
    return replace(problem, choices=choices, gold=letter)
