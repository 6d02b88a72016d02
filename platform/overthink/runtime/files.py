"""Output hygiene shared by the stages: atomic writes, so a failed stage never leaves a
half-written file, and the user-facing message of an error that crossed Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from overthink.errors import InputError, OverthinkError


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


def parquet_schema(path: str | Path, needed: tuple[str, ...] = (), hint: str = "") -> pa.Schema:
    """The schema of a Parquet input, checked: the file exists, is Parquet and has `needed`
    columns. Errors name the file and say what it should be (`hint`)."""
    path = str(path)
    if not os.path.isfile(path):
        raise InputError(f"{path} does not exist{f' ({hint})' if hint else ''}")
    try:
        schema = pq.read_schema(path)
    except Exception as err:  # pyarrow raises several types for a non-Parquet file
        raise InputError(f"{path}: not a readable Parquet file ({err})") from None
    missing = [name for name in needed if name not in schema.names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}{f'; {hint}' if hint else ''}")
    return schema


def read_parquet(
    path: str | Path, columns: list[str] | tuple[str, ...] | None = None, needed: tuple[str, ...] = (), hint: str = ""
) -> pa.Table:
    """A Parquet input (optionally only `columns`), with parquet_schema's checks."""
    parquet_schema(path, tuple(needed) or tuple(columns or ()), hint)
    try:
        return pq.read_table(str(path), columns=list(columns) if columns else None)
    except Exception as err:
        raise InputError(f"{path}: cannot read it ({err})") from None
