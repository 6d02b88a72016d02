"""The one problem schema every stage shares, and its Arrow / JSONL forms.

A problem set is written as Parquet (or JSONL) with exactly the columns of `PROBLEM_SCHEMA`:

| column       | type           | meaning                                                            |
|--------------|----------------|--------------------------------------------------------------------|
| `problem_id` | string         | unique within the set: the dataset's own id, else `name/split/row` |
| `dataset`    | string         | `gsm8k`, `math500`, `asdiv`, `aime2024`, `gpqa_diamond`, `prm12k`, or a local name |
| `problem`    | string         | the text given to the model (GPQA: with the lettered choices appended) |
| `gold`       | string         | the reference answer (GPQA: the letter A-D of the correct choice)  |
| `choices`    | list<string>?  | multiple-choice options in the order shown; null for open answers  |
| `level`      | string?        | difficulty level when the dataset has one (MATH: "1".."5")         |
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from overthink.errors import InputError

PROBLEM_SCHEMA = pa.schema(
    [
        pa.field("problem_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("problem", pa.string(), nullable=False),
        pa.field("gold", pa.string(), nullable=False),
        pa.field("choices", pa.list_(pa.string()), nullable=True),
        pa.field("level", pa.string(), nullable=True),
    ],
    metadata={"overthink.schema": "problems/v1"},
)

REQUIRED_TEXT = ("problem_id", "dataset", "problem", "gold")


@dataclass(frozen=True)
class Problem:
    """One benchmark or training problem with its reference answer."""

    problem_id: str
    dataset: str
    problem: str
    gold: str
    choices: list[str] | None = None
    level: str | None = None

    def __post_init__(self) -> None:
        # Checked here once so that no stage downstream meets an empty prompt or gold.
        for name in REQUIRED_TEXT:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if self.choices is not None:
            if not isinstance(self.choices, list) or not self.choices:
                raise ValueError(f"choices must be a non-empty list of strings or null, got {self.choices!r}")
            if not all(isinstance(c, str) and c.strip() for c in self.choices):
                raise ValueError(f"choices must all be non-empty strings, got {self.choices!r}")
        if self.level is not None and not isinstance(self.level, str):
            raise ValueError(f"level must be a string or null, got {self.level!r}")


FIELD_NAMES = tuple(f.name for f in fields(Problem))


def problem_to_record(problem: Problem) -> dict[str, Any]:
    """A plain dict with exactly the schema's keys (JSON-serialisable)."""
    record = asdict(problem)
    if record["choices"] is not None:
        record["choices"] = list(record["choices"])
    return record


def problem_from_record(record: dict[str, Any], where: str = "record") -> Problem:
    """Build a Problem from a schema-shaped dict; extra keys are ignored, missing ones are errors."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected an object with keys {', '.join(FIELD_NAMES)}, got {type(record).__name__}")
    missing = [name for name in REQUIRED_TEXT if name not in record]
    if missing:
        raise InputError(
            f"{where}: missing key(s) {', '.join(missing)}; the record has: {', '.join(record) or 'no keys'}"
        )
    try:
        return Problem(**{name: record.get(name) for name in FIELD_NAMES})
    except ValueError as err:
        raise InputError(f"{where}: {err}") from None


def problems_to_records(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    return [problem_to_record(p) for p in problems]


def problems_from_records(records: Iterable[dict[str, Any]], source: str = "records") -> list[Problem]:
    return [problem_from_record(r, where=f"{source} record {i}") for i, r in enumerate(records)]


def problems_to_table(problems: Iterable[Problem]) -> pa.Table:
    """An Arrow table with exactly `PROBLEM_SCHEMA`."""
    return pa.Table.from_pylist(problems_to_records(problems), schema=PROBLEM_SCHEMA)


def problems_from_table(table: pa.Table, source: str = "table") -> list[Problem]:
    """Read the schema's columns back (others are ignored); a missing or mistyped column is an InputError."""
    missing = [name for name in PROBLEM_SCHEMA.names if name not in table.column_names]
    if missing:
        raise InputError(
            f"{source}: missing column(s) {', '.join(missing)}; it has: {', '.join(table.column_names) or 'no columns'}"
        )
    try:
        table = table.select(PROBLEM_SCHEMA.names).cast(PROBLEM_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise InputError(f"{source}: columns do not match the problem schema ({err})") from None
    return [problem_from_record(r, where=f"{source} row {i}") for i, r in enumerate(table.to_pylist())]


def write_problems(problems: Iterable[Problem], path: str | Path) -> Path:
    """Write a problem set as Parquet (`.parquet`) or JSONL (`.jsonl`), chosen by the extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(problems_to_table(problems), path)
    elif path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for record in problems_to_records(problems):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        raise InputError(f"cannot write problems to {path}: use a .parquet or .jsonl file name")
    return path
