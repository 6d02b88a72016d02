"""Pure core of the pairs stage: one problem's analyzed responses -> preference pairs.

A positive is a response, or a response cut down to some of its solutions. A cut keeps the
original's opening (up to its first solution), the kept solutions' spans, then the original's
whitespace before the closing thinking tag, the tag and the final answer: the cut response ends
exactly as the original does, so the thinking is closed and a final answer follows."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

PAIRS = pa.schema([
    ("problem_id", pa.string()),
    ("dataset", pa.string()),
    ("level", pa.string()),
    ("strategy", pa.string()),
    ("kind", pa.string()),  # `length` (shorter vs longer, both correct) or `short_incorrect`
    ("prompt", pa.string()),
    ("chosen", pa.string()),
    ("rejected", pa.string()),
    ("chosen_tokens", pa.int32()),
    ("rejected_tokens", pa.int32()),
    ("chosen_solutions", pa.int32()),
    ("rejected_solutions", pa.int32()),
    ("chosen_correct", pa.bool_()),
    ("rejected_correct", pa.bool_()),
    ("problem_accuracy", pa.float64()),  # share of the problem's analyzed samples whose final answer is right
    ("chosen_source_row", pa.int64()),
    ("rejected_source_row", pa.int64()),
])

# Columns of analyzed.parquet the stage reads.
NEEDED_COLUMNS = ("problem_id", "dataset", "level", "problem", "prompt", "response", "source_row", "thinking_end",
                  "solutions", "num_tokens", "num_solutions", "correct", "truncated", "error")


@dataclass(frozen=True)
class Candidate:
    """A whole or cut response."""

    text: str
    tokens: int
    solutions: int
    correct: bool
    source_row: int


def is_usable_positive(row: dict) -> bool:
    """A source of positives: final answer right, thinking closed, solutions located in the text."""
    return (row["error"] is None and row["correct"] is True and not row["truncated"] and row["thinking_end"] is not None
            and bool(row["solutions"]) and all(s["start"] is not None for s in row["solutions"]))


def whole(row: dict) -> Candidate:
    return Candidate(row["response"], row["num_tokens"], row["num_solutions"], bool(row["correct"]), row["source_row"])


def cut(row: dict, keep: list[int]) -> Candidate:
    """The response with only the solutions at indices `keep` (ascending) in its thinking."""
    solutions, text, thinking_end = row["solutions"], row["response"], row["thinking_end"]
    if keep == list(range(len(solutions))):
        return whole(row)
    body = "".join(text[solutions[i]["start"]:solutions[i]["end"]] for i in keep).rstrip()
    closing_gap = text[len(text[:thinking_end].rstrip()):thinking_end]
    dropped = sum(s["tokens"] for i, s in enumerate(solutions) if i not in set(keep))
    new_text = text[:solutions[0]["start"]] + body + closing_gap + text[thinking_end:]
    return Candidate(new_text, row["num_tokens"] - dropped, len(keep), True, row["source_row"])


def correct_indices(row: dict) -> list[int]:
    return [i for i, s in enumerate(row["solutions"]) if s["correct"]]


def positive(row: dict, strategy: str) -> Candidate | None:
    """The paper's positive of one correct response; None if it has no correct solution to cut at."""
    hits = correct_indices(row)
    if strategy == "shortest":
        return whole(row)
    if not hits:
        return None
    first = hits[0]
    if strategy == "fcs":
        return cut(row, list(range(first + 1)))
    if strategy == "fcs_reflection":  # with no second correct solution, this is FCS
        return cut(row, list(range((hits[1] if len(hits) > 1 else first) + 1)))
    if strategy == "gds":  # through the first correct solution, then only solutions with a new strategy
        later = [i for i in range(first + 1, len(row["solutions"])) if row["solutions"][i]["distinct"]]
        return cut(row, list(range(first + 1)) + later)
    raise ValueError(f"unknown strategy {strategy!r}")


def prefix_cuts(row: dict) -> list[Candidate]:
    """Every cut right after a correct solution: the menu the difficulty-aware budget picks from."""
    return [cut(row, list(range(i + 1))) for i in correct_indices(row)]


def difficulty_positive(correct_rows: list[dict], accuracy: float, scale: float) -> Candidate | None:
    """The shortest prefix cut at or above a length budget that grows with the problem's difficulty:
    an easy problem (every sample right) gets FCS; a hard one keeps more of its checking."""
    menu = [c for row in correct_rows for c in prefix_cuts(row)]
    if not menu:
        return None
    shortest = min(c.tokens for c in menu)
    typical = statistics.median(row["num_tokens"] for row in correct_rows)
    budget = shortest + scale * (1.0 - accuracy) * max(0.0, typical - shortest)
    above = [c for c in menu if c.tokens >= budget]
    if not above:  # every cut is under budget: take the longest
        return max(menu, key=lambda c: (c.tokens, -c.source_row))
    return shortest_of(above)


def shortest_of(candidates: list[Candidate]) -> Candidate | None:
    return min(candidates, key=lambda c: (c.tokens, c.source_row)) if candidates else None


def pair_row(first: dict, strategy: str, kind: str, prompt: str, chosen: Candidate, rejected: Candidate,
             accuracy: float) -> dict:
    return {
        "problem_id": first["problem_id"], "dataset": first["dataset"], "level": first["level"], "strategy": strategy,
        "kind": kind, "prompt": prompt, "chosen": chosen.text, "rejected": rejected.text,
        "chosen_tokens": chosen.tokens, "rejected_tokens": rejected.tokens,
        "chosen_solutions": chosen.solutions, "rejected_solutions": rejected.solutions,
        "chosen_correct": chosen.correct, "rejected_correct": rejected.correct, "problem_accuracy": accuracy,
        "chosen_source_row": chosen.source_row, "rejected_source_row": rejected.source_row,
    }


def short_incorrect(analyzed: list[dict], correct_rows: list[dict]) -> tuple[Candidate, Candidate] | None:
    """When a problem's shortest response is wrong: (the next-longer correct response, that wrong one)."""
    finished = [r for r in analyzed if not r["truncated"]]
    if not finished:
        return None
    shortest = min(finished, key=lambda r: (r["num_tokens"], r["source_row"]))
    if shortest["correct"]:
        return None
    longer = [whole(r) for r in correct_rows if r["num_tokens"] > shortest["num_tokens"]]
    chosen = shortest_of(longer)
    return (chosen, whole(shortest)) if chosen else None


def problem_pairs(rows: list[dict], strategies: list[str], negative: str, short_incorrect_pairs: bool,
                  difficulty_scale: float, min_token_gap: int, prompt: str, stats: Counter) -> list[dict]:
    """All pairs of one problem (its rows: every analyzed sample of it). `stats` counts why none came."""
    analyzed = [r for r in rows if r["error"] is None and r["num_tokens"] is not None and r["correct"] is not None]
    correct_rows = [r for r in analyzed if is_usable_positive(r)]
    if not correct_rows:
        stats["problems_without_correct_response"] += 1
        return []
    accuracy = sum(bool(r["correct"]) for r in analyzed) / len(analyzed)
    pool = correct_rows if negative == "longest_correct" else analyzed
    rejected = whole(max(pool, key=lambda r: (r["num_tokens"], -r["source_row"])))
    pairs = []
    for strategy in strategies:
        if strategy == "difficulty":
            chosen = difficulty_positive(correct_rows, accuracy, difficulty_scale)
        else:
            chosen = shortest_of([c for c in (positive(r, strategy) for r in correct_rows) if c is not None])
        if chosen is None or rejected.tokens - chosen.tokens < max(min_token_gap, 1) or chosen.text == rejected.text:
            stats[f"{strategy}.no_shorter_positive"] += 1
        else:
            pairs.append(pair_row(rows[0], strategy, "length", prompt, chosen, rejected, accuracy))
        if short_incorrect_pairs:
            extra = short_incorrect(analyzed, correct_rows)
            if extra:
                pairs.append(pair_row(rows[0], strategy, "short_incorrect", prompt, extra[0], extra[1], accuracy))
    return pairs
