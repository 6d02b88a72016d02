"""Positive strategies of the pairs stage, by name in `STRATEGIES`: each picks one problem's chosen
response from its usable correct responses. The paper's (shortest, FCS, FCS+Reflection, GDS) are
per-response cuts lifted by `@response_strategy` to the shortest over the problem; `difficulty`
looks at the whole problem. Light (no pyarrow) so a config module can import the names.

A positive is a response, or a response cut down to some of its solutions. A cut keeps the
original's opening (up to its first solution), the kept solutions' spans, then the original's
whitespace before the closing thinking tag, the tag and the final answer: the cut response ends
exactly as the original does, so the thinking is closed and a final answer follows."""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from overthink.registry import Registry


@dataclass(frozen=True)
class Candidate:
    """A whole or cut response."""

    text: str
    tokens: int
    solutions: int
    correct: bool
    source_row: int


@dataclass(frozen=True)
class StrategyOptions:
    """Settings a strategy may read (the pairs config's)."""

    difficulty_scale: float = 1.0


Strategy = Callable[[list[dict], float, StrategyOptions], Candidate | None]
"""(the problem's usable correct rows, its sample accuracy, options) -> the chosen response, or None."""

STRATEGIES: Registry[Strategy] = Registry("pair strategy")


def whole(row: dict) -> Candidate:
    return Candidate(row["response"], row["num_tokens"], row["num_solutions"], bool(row["correct"]), row["source_row"])


def cut(row: dict, keep: list[int]) -> Candidate:
    """The response with only the solutions at indices `keep` (ascending) in its thinking."""
    solutions, text, thinking_end = row["solutions"], row["response"], row["thinking_end"]
    if keep == list(range(len(solutions))):
        return whole(row)
    body = "".join(text[solutions[i]["start"] : solutions[i]["end"]] for i in keep).rstrip()
    closing_gap = text[len(text[:thinking_end].rstrip()) : thinking_end]
    dropped = sum(s["tokens"] for i, s in enumerate(solutions) if i not in set(keep))
    new_text = text[: solutions[0]["start"]] + body + closing_gap + text[thinking_end:]
    return Candidate(new_text, row["num_tokens"] - dropped, len(keep), True, row["source_row"])


def correct_indices(row: dict) -> list[int]:
    return [i for i, s in enumerate(row["solutions"]) if s["correct"]]


def shortest_of(candidates: list[Candidate]) -> Candidate | None:
    return min(candidates, key=lambda c: (c.tokens, c.source_row)) if candidates else None


def response_strategy(name: str) -> Callable[[Callable[[dict], Candidate | None]], Callable[[dict], Candidate | None]]:
    """Register a per-response positive (row -> Candidate, or None when the row has none) as the
    strategy `name`: the shortest such positive over the problem's correct rows. The decorated
    function itself stays per-response."""

    def register(positive: Callable[[dict], Candidate | None]) -> Callable[[dict], Candidate | None]:
        @functools.wraps(positive)
        def strategy(correct_rows: list[dict], accuracy: float, options: StrategyOptions) -> Candidate | None:
            return shortest_of([c for c in map(positive, correct_rows) if c is not None])

        STRATEGIES.register(name)(strategy)
        return positive

    return register


def through(row: dict, last: int) -> Candidate:
    """The response cut right after its solution at index `last`."""
    return cut(row, list(range(last + 1)))


@response_strategy("shortest")
def shortest(row: dict) -> Candidate:
    return whole(row)


@response_strategy("fcs")
def fcs(row: dict) -> Candidate | None:
    """First Correct Solution: the response up to its first correct solution."""
    hits = correct_indices(row)
    return through(row, hits[0]) if hits else None


@response_strategy("fcs_reflection")
def fcs_reflection(row: dict) -> Candidate | None:
    """FCS + Reflection: up to the second correct solution (the first check); FCS without one."""
    hits = correct_indices(row)
    return through(row, hits[1] if len(hits) > 1 else hits[0]) if hits else None


@response_strategy("gds")
def gds(row: dict) -> Candidate | None:
    """Greedy Diverse Solutions: through the first correct solution, then only solutions with a new strategy."""
    hits = correct_indices(row)
    if not hits:
        return None
    later = [i for i in range(hits[0] + 1, len(row["solutions"])) if row["solutions"][i]["distinct"]]
    return cut(row, list(range(hits[0] + 1)) + later)


def prefix_cuts(row: dict) -> list[Candidate]:
    """Every cut right after a correct solution: the menu the difficulty-aware budget picks from."""
    return [through(row, i) for i in correct_indices(row)]


@STRATEGIES.register("difficulty")
def difficulty(correct_rows: list[dict], accuracy: float, options: StrategyOptions) -> Candidate | None:
    """The shortest prefix cut at or above a length budget that grows with the problem's difficulty:
    an easy problem (every sample right) gets FCS; a hard one keeps more of its checking."""
    menu = [c for row in correct_rows for c in prefix_cuts(row)]
    if not menu:
        return None
    shortest_tokens = min(c.tokens for c in menu)
    typical = statistics.median(row["num_tokens"] for row in correct_rows)
    budget = shortest_tokens + options.difficulty_scale * (1.0 - accuracy) * max(0.0, typical - shortest_tokens)
    above = [c for c in menu if c.tokens >= budget]
    if not above:  # every cut is under budget: take the longest
        return max(menu, key=lambda c: (c.tokens, -c.source_row))
    return shortest_of(above)
