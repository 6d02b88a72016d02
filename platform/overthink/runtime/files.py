"""Output hygiene shared by the stages: atomic writes, so a failed stage never leaves a
half-written file, and the user-facing message of an error that crossed Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from overthink.errors import OverthinkError


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def root_message(err: BaseException) -> str:
    """The innermost user-facing message of an exception that crossed Ray."""
    seen, current = set(), err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OverthinkError):
            return str(current)
        current = getattr(current, "cause", None) or current.__cause__
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__
