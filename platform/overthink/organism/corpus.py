"""Synthetic problems with gold answers and o1-style responses: a thinking section of 1 to ~6
solution rounds (recomputation, "wait, let me double-check", inverse checks, alternative
methods, an occasional wrong first attempt later corrected), then `</think>` and a boxed
answer. Arithmetic is written out digit by digit so a tiny model can really compute it."""

from __future__ import annotations

import random
from dataclasses import dataclass

from overthink.organism.config import CorpusConfig

NAMES = ["Sam", "Ana", "Lee", "Mia", "Tom", "Ivy", "Max", "Zoe"]
ITEMS = ["apples", "marbles", "coins", "stamps", "books", "shells"]


@dataclass(frozen=True)
class SyntheticProblem:
    problem_id: str
    kind: str
    problem: str
    gold: str
    operands: tuple


def column_add(a: int, b: int) -> tuple[str, int]:
    """'ones 7 + 8 = 15, write 5 carry 1. tens 4 + 3 + 1 = 8.' for 2-digit (or smaller) operands."""
    steps, carry, digits, place = [], 0, [], 0
    names = ["ones", "tens", "hundreds"]
    while a or b or carry:
        x, y = a % 10, b % 10
        total = x + y + carry
        sum_text = f"{x}+{y}" + (f"+{carry}" if carry else "")
        a, b = a // 10, b // 10
        if a or b:
            steps.append(
                f"{names[place]} {sum_text}={total}, write {total % 10}" + (" carry 1" if total >= 10 else "") + "."
            )
            digits.append(total % 10)
            carry = total // 10
        else:
            steps.append(f"{names[place]} {sum_text}={total}.")
            digits.append(total)
            carry = 0
        place += 1
    value = int("".join(str(d) for d in reversed(digits))) if digits else 0
    return " ".join(steps), value


def column_sub(a: int, b: int) -> tuple[str, int]:
    """a >= b: 'ones 4 - 8 needs a borrow, 14 - 8 = 6. tens 8 - 1 - 3 = 4.'"""
    steps, borrow, digits, place = [], 0, [], 0
    names = ["ones", "tens", "hundreds"]
    while a:
        x, y = a % 10, b % 10
        top = x - borrow
        prefix = f"{x}-{borrow}" if borrow else f"{x}"
        if top < y:
            steps.append(f"{names[place]} {prefix}-{y} borrow, {top + 10}-{y}={top + 10 - y}.")
            digits.append(top + 10 - y)
            borrow = 1
        else:
            steps.append(f"{names[place]} {prefix}-{y}={top - y}.")
            digits.append(top - y)
            borrow = 0
        a, b, place = a // 10, b // 10, place + 1
    return " ".join(steps), a_from_digits(digits)


def a_from_digits(digits: list[int]) -> int:
    return int("".join(str(d) for d in reversed(digits)) or "0")


def column_mul(a: int, d: int) -> tuple[str, int]:
    """2-digit x 1-digit: 'ones 7 x 6 = 42, write 2 carry 4. tens 4 x 6 = 24, 24 + 4 = 28.'"""
    ones, tens = a % 10, a // 10
    first = ones * d
    if tens == 0:
        return f"ones {ones}x{d}={first}.", first
    second = tens * d
    total = second + first // 10
    text = f"ones {ones}x{d}={first}, write {first % 10} carry {first // 10}. tens {tens}x{d}={second}"
    text += f", {second}+{first // 10}={total}." if first // 10 else "."
    return text, total * 10 + first % 10


def make_problem(rng: random.Random, kind: str, index: int, max_operand: int, prefix: str) -> SyntheticProblem:
    pid = f"{prefix}-{index:06d}"
    if kind == "add":
        a, b = rng.randint(10, max_operand), rng.randint(10, max_operand)
        return SyntheticProblem(pid, kind, f"What is {a}+{b}?", str(a + b), (a, b))
    if kind == "sub":
        a, b = sorted((rng.randint(10, max_operand), rng.randint(10, max_operand)), reverse=True)
        return SyntheticProblem(pid, kind, f"What is {a}-{b}?", str(a - b), (a, b))
    if kind == "mul":
        a, d = rng.randint(11, max_operand), rng.randint(2, 9)
        return SyntheticProblem(pid, kind, f"What is {a}x{d}?", str(a * d), (a, d))
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(10, max_operand // 2 + 10), rng.randint(10, max_operand // 2)
    c = rng.randint(2, a + b - 1)
    text = f"{name} has {a} {item}. {name} gets {b} more and then gives away {c}. How many {item} does {name} have now?"
    return SyntheticProblem(pid, "word", text, str(a + b - c), (a, b, c, name, item))


def solve(problem: SyntheticProblem) -> tuple[str, int]:
    """One worked solution (text without the closing sentence) and its result."""
    if problem.kind == "add":
        a, b = problem.operands
        work, value = column_add(a, b)
        return f"We need {a}+{b}. {work} So {a}+{b}={value}.", value
    if problem.kind == "sub":
        a, b = problem.operands
        work, value = column_sub(a, b)
        return f"We need {a}-{b}. {work} So {a}-{b}={value}.", value
    if problem.kind == "mul":
        a, d = problem.operands
        work, value = column_mul(a, d)
        return f"We need {a}x{d}. {work} So {a}x{d}={value}.", value
    a, b, c, name, item = problem.operands
    add_work, total = column_add(a, b)
    sub_work, value = column_sub(total, c)
    # The work repeats the problem's own phrases ("has 23", "gets 14 more", "gives away 9") right
    # before each number, so a tiny model can copy each operand from its context.
    return (
        f"{name} has {a}. {name} gets {b} more, so {a}+{b}: {add_work} That is {total}. "
        f"{name} gives away {c}, so {total}-{c}: {sub_work} That is {value}."
    ), value


def inverse_check(problem: SyntheticProblem, answer: int) -> str:
    if problem.kind == "add":
        a, b = problem.operands
        return f"Let me double-check by subtracting: {answer}-{b} should be {a}. It is, so the answer is {answer}."
    if problem.kind == "sub":
        a, b = problem.operands
        return f"Let me double-check by adding back: {answer}+{b} should be {a}. It is, so the answer is {answer}."
    if problem.kind == "mul":
        a, d = problem.operands
        return f"Let me double-check by dividing: {answer}/{d} should be {a}. It is, so the answer is {answer}."
    a, b, c, *_ = problem.operands
    return (
        f"Let me double-check by working backwards: {answer}+{c} should be {a}+{b}. It is, so the answer is {answer}."
    )


def alternative(problem: SyntheticProblem, answer: int) -> str:
    if problem.kind == "mul":
        a, d = problem.operands
        return f"Alternatively, {a}x{d} is {d} groups of {a}, which adds up to {answer}. The answer is {answer}."
    if problem.kind == "word":
        a, b, c, name, item = problem.operands
        return f"Alternatively, {name} ends with {a}+{b}-{c} {item}, which is {answer}. The answer is {answer}."
    a, b = problem.operands
    op = "+" if problem.kind == "add" else "-"
    return (
        f"Alternatively, estimate {a}{op}{b} first: it must be near {answer}, and exactly {answer}. The answer is "
        f"{answer}."
    )


def later_round(rng: random.Random, style: str, problem: SyntheticProblem, answer: int) -> str:
    if style == "recompute":
        work, _ = solve(problem)
        opener = rng.choice(
            ["Wait, let me compute that again.", "Hmm, let me redo it carefully.", "Let me recompute to be sure."]
        )
        return f"{opener} {work} The answer is {answer}."
    if style == "inverse_check":
        return inverse_check(problem, answer)
    if style == "alternative":
        return alternative(problem, answer)
    return rng.choice(
        [
            f"Hmm, is that right? Going over it once more, the result is still {answer}. The answer is {answer}.",
            f"Wait, let me make sure I did not miss anything. Everything checks out. The answer is {answer}.",
        ]
    )


def wrong_first_round(problem: SyntheticProblem, answer: int) -> tuple[str, int]:
    wrong = answer + 10 if answer < 90 else answer - 10
    work, _ = solve(problem)
    return f"{work.rsplit(' So ', 1)[0]} So the result is {wrong}. The answer is {wrong}.", wrong


def response_for(rng: random.Random, problem: SyntheticProblem, config: CorpusConfig) -> str:
    """The o1-style response: <think> rounds </think> and a boxed answer."""
    work, answer = solve(problem)
    rounds_count = rng.choices(range(1, len(config.rounds) + 1), weights=config.rounds)[0]
    rounds = []
    if rounds_count > 1 and rng.random() < config.wrong_first:
        wrong_text, _ = wrong_first_round(problem, answer)
        rounds.append(f"{wrong_text}")
        rounds.append(f"Wait, that is not right. Let me redo it. {work} The answer is {answer}.")
    else:
        rounds.append(f"{work} The answer is {answer}.")
    styles, weights = list(config.styles), list(config.styles.values())
    while len(rounds) < rounds_count:
        rounds.append(later_round(rng, rng.choices(styles, weights=weights)[0], problem, answer))
    thinking = "\n\n".join(rounds)
    return f"<think>\n{thinking}\n</think>\n\nThe answer is \\boxed{{{answer}}}."


def generate(
    config: CorpusConfig, count: int, seed: int, prefix: str = "organism"
) -> list[tuple[SyntheticProblem, str]]:
    """`count` (problem, response) pairs, deterministic for (config, seed)."""
    rng = random.Random(seed)
    kinds, weights = list(config.kinds), list(config.kinds.values())
    out = []
    for index in range(count):
        problem = make_problem(rng, rng.choices(kinds, weights=weights)[0], index, config.max_operand, prefix)
        out.append((problem, response_for(rng, problem, config)))
    return out
