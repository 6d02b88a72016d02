"""The analyzed dataset's schema: one row per response (documented in docs/stages/analyze.md)."""

from __future__ import annotations

import pyarrow as pa

# Bump when a column is added or changes meaning: finished analyses with another version are redone.
SCHEMA_VERSION = 2

SOLUTION = pa.struct(
    [
        ("text", pa.string()),
        ("start", pa.int32()),  # character span in `response`; null when given solutions are not verbatim
        ("end", pa.int32()),
        ("tokens", pa.int32()),
        ("answer", pa.string()),
        ("correct", pa.bool_()),
        ("distinct", pa.bool_()),
    ]
)

ANALYZED = pa.schema(
    [
        ("shard", pa.int32()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("problem_id", pa.string()),
        ("dataset", pa.string()),
        ("level", pa.string()),
        ("problem", pa.string()),
        ("prompt", pa.string()),
        ("response", pa.string()),
        ("gold", pa.string()),
        ("finish_reason", pa.string()),
        ("thinking_end", pa.int32()),  # offset of the closing thinking tag; null when the thinking never closes
        ("solutions", pa.list_(SOLUTION)),
        ("num_solutions", pa.int32()),
        ("num_tokens", pa.int32()),
        ("final_answer", pa.string()),
        ("first_correct_index", pa.int32()),
        ("correct", pa.bool_()),
        ("any_correct", pa.bool_()),
        ("truncated", pa.bool_()),
        ("outcome_efficiency", pa.float64()),
        ("process_efficiency", pa.float64()),
        ("additional_solutions", pa.int32()),
        ("additional_tokens", pa.int32()),
        ("flags", pa.list_(pa.string())),
        ("error", pa.string()),
    ]
)


def rows_to_table(rows: list[dict], shard: int) -> pa.Table:
    return pa.Table.from_pylist([{**row, "shard": shard} for row in rows], schema=ANALYZED)
