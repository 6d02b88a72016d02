"""Pure core of the pairs stage: one problem's analyzed responses -> preference pairs. The chosen
response comes from a named strategy (`pairs.strategies`), the rejected one from `negative`."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from overthink.pairs.strategies import STRATEGIES, Candidate, StrategyOptions, shortest_of, whole

PAIRS = pa.schema(
    [
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
    ]
)

# Columns of analyzed.parquet the stage reads.
NEEDED_COLUMNS = (
    "problem_id",
    "dataset",
    "level",
    "problem",
    "prompt",
    "response",
    "source_row",
    "thinking_end",
    "solutions",
    "num_tokens",
    "num_solutions",
    "correct",
    "truncated",
    "error",
)


def is_usable_positive(row: dict) -> bool:
    """A source of positives: final answer right, thinking closed, solutions located in the text."""
    return (
        row["error"] is None
        and row["correct"] is True
        and not row["truncated"]
        and row["thinking_end"] is not None
        and bool(row["solutions"])
        and all(s["start"] is not None for s in row["solutions"])
    )


def pair_row(
    first: dict, strategy: str, kind: str, prompt: str, chosen: Candidate, rejected: Candidate, accuracy: float
) -> dict:
    return {
        "problem_id": first["problem_id"],
        "dataset": first["dataset"],
        "level": first["level"],
        "strategy": strategy,
        "kind": kind,
        "prompt": prompt,
        "chosen": chosen.text,
        "rejected": rejected.text,
        "chosen_tokens": chosen.tokens,
        "rejected_tokens": rejected.tokens,
        "chosen_solutions": chosen.solutions,
        "rejected_solutions": rejected.solutions,
        "chosen_correct": chosen.correct,
        "rejected_correct": rejected.correct,
        "problem_accuracy": accuracy,
        "chosen_source_row": chosen.source_row,
        "rejected_source_row": rejected.source_row,
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


def problem_pairs(
    rows: list[dict],
    strategies: list[str],
    negative: str,
    short_incorrect_pairs: bool,
    difficulty_scale: float,
    min_token_gap: int,
    prompt: str,
    stats: Counter,
) -> list[dict]:
    """All pairs of one problem (its rows: every analyzed sample of it). `stats` counts why none came."""
    chosen_by = [STRATEGIES.get(name) for name in strategies]  # an unknown name fails before any work
    analyzed = [r for r in rows if r["error"] is None and r["num_tokens"] is not None and r["correct"] is not None]
    correct_rows = [r for r in analyzed if is_usable_positive(r)]
    if not correct_rows:
        stats["problems_without_correct_response"] += 1
        return []
    accuracy = sum(bool(r["correct"]) for r in analyzed) / len(analyzed)
    pool = correct_rows if negative == "longest_correct" else analyzed
    rejected = whole(max(pool, key=lambda r: (r["num_tokens"], -r["source_row"])))
    options = StrategyOptions(difficulty_scale=difficulty_scale)
    pairs = []
    for strategy, choose in zip(strategies, chosen_by):
        chosen = choose(correct_rows, accuracy, options)
        if chosen is None or rejected.tokens - chosen.tokens < max(min_token_gap, 1) or chosen.text == rejected.text:
            stats[f"{strategy}.no_shorter_positive"] += 1
        else:
            pairs.append(pair_row(rows[0], strategy, "length", prompt, chosen, rejected, accuracy))
        if short_incorrect_pairs:
            extra = short_incorrect(analyzed, correct_rows)
            if extra:
                pairs.append(pair_row(rows[0], strategy, "short_incorrect", prompt, extra[0], extra[1], accuracy))
    return pairs
