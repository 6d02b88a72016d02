"""The paper's per-response efficiency metrics (arXiv 2412.21187, section 2), as pure functions.

T = all tokens of the response; T^m = tokens of solution m; T-hat = tokens up to and including
the first correct solution; tau^m = 1 when solution m is distinct.
  outcome efficiency  xi_O = sigma * T-hat / T         (sigma = 1 if any solution is correct)
  process efficiency  xi_P = sum_m tau^m T^m / T       (correctness plays no part)
"""

from __future__ import annotations

from collections.abc import Sequence


def first_correct_index(correct: Sequence[bool]) -> int | None:
    return next((m for m, ok in enumerate(correct) if ok), None)


def response_metrics(
    total_tokens: int,
    solution_tokens: Sequence[int],
    prefix_tokens: Sequence[int],
    correct: Sequence[bool],
    distinct: Sequence[bool],
) -> dict:
    """Metrics of one response. `prefix_tokens[m]` = tokens from the response start through the
    end of solution m (T-hat when m is the first correct one)."""
    first = first_correct_index(correct)
    any_correct = first is not None
    distinct_tokens = sum(t for t, new in zip(solution_tokens, distinct) if new)
    ratio = (lambda part: part / total_tokens) if total_tokens > 0 else (lambda part: None)
    return {
        "num_solutions": len(solution_tokens),
        "first_correct_index": first,
        "any_correct": any_correct,
        "outcome_efficiency": ratio(prefix_tokens[first]) if any_correct else (0.0 if total_tokens else None),
        "process_efficiency": ratio(distinct_tokens) if solution_tokens else None,
        "additional_solutions": len(solution_tokens) - first - 1 if any_correct else None,
        "additional_tokens": total_tokens - prefix_tokens[first] if any_correct else None,
    }
