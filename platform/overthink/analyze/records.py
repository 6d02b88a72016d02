"""Read responses from JSONL or Parquet into canonical records.

`plan_shards` runs on the driver before any Ray work: it checks every file (exists, not empty,
well-formed JSON with file:line, mapped columns present) so that bad input fails fast with a
clear message. `read_shard` then reads one shard inside a worker."""

from __future__ import annotations

import ast
import glob
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from overthink.analyze.config import Columns, InputConfig
from overthink.errors import InputError

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Shard:
    """A slice of one input file: rows [first_row, first_row + num_rows)."""

    index: int
    path: str
    format: str
    first_row: int
    num_rows: int
    byte_offset: int = 0  # JSONL: where first_row starts
    first_line: int = 1  # JSONL: the 1-based line number of first_row
    row_groups: tuple[int, ...] = ()  # Parquet: the row groups holding the slice

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Shard:
        data = json.loads(text)
        data["row_groups"] = tuple(data["row_groups"])
        return cls(**data)


def expand_paths(patterns: Iterable[str]) -> list[str]:
    files: list[str] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            found = sorted(p for p in glob.glob(os.path.join(pattern, "**", "*"), recursive=True) if is_data_file(p))
            if not found:
                raise InputError(f"input folder {pattern} holds no .jsonl or .parquet files")
            files += found
        elif any(ch in pattern for ch in "*?["):
            found = sorted(glob.glob(pattern, recursive=True))
            if not found:
                raise InputError(f"input pattern {pattern} matches no files")
            files += found
        elif os.path.isfile(pattern):
            files.append(pattern)
        else:
            raise InputError(f"input file {pattern} does not exist")
    if not files:
        raise InputError("no input given: set --input (input.path)")
    return files


def is_data_file(path: str) -> bool:
    return os.path.isfile(path) and path.endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES)


def file_format(path: str, configured: str) -> str:
    if configured != "auto":
        return configured
    if path.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if path.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise InputError(f"cannot tell the format of {path} from its extension: set input.format to jsonl or parquet")


def required_columns(columns: Columns) -> dict[str, str]:
    """Mapped name -> column that every file must have."""
    required = {"response": columns.response, "problem": columns.problem}
    for key in ("solutions", "solution_clusters", "solution_correct"):
        if getattr(columns, key):
            required[key] = getattr(columns, key)
    return required


def check_columns(path: str, present: Iterable[str], columns: Columns, where: str = "") -> None:
    present = list(present)
    missing = [f"{col} (input.columns.{key})" for key, col in required_columns(columns).items() if col not in present]
    if missing:
        raise InputError(
            f"{path}{where}: missing column(s) {', '.join(missing)}; the file has: {', '.join(present) or 'no columns'}"
        )


def plan_jsonl(path: str, columns: Columns, rows_per_shard: int, start_index: int) -> tuple[list[Shard], int, bool]:
    """Validate every line and cut the file into shards; returns (shards, rows, has_gold_column)."""
    shards, offset, rows, shard_start, shard_offset, shard_line = [], 0, 0, 0, 0, 1
    has_gold = False
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if raw.strip():
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise InputError(f"{path}:{line_number}: malformed JSON ({err})") from None
                if not isinstance(record, dict):
                    raise InputError(f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}")
                check_columns(path, record.keys(), columns, where=f":{line_number}")
                has_gold = has_gold or (columns.gold in record if columns.gold else False)
                if rows == shard_start:
                    shard_offset, shard_line = offset, line_number
                rows += 1
                if rows - shard_start == rows_per_shard:
                    shards.append(
                        Shard(
                            start_index + len(shards),
                            path,
                            "jsonl",
                            shard_start,
                            rows - shard_start,
                            shard_offset,
                            shard_line,
                        )
                    )
                    shard_start = rows
            offset += len(raw)
    if rows == 0:
        raise InputError(f"{path}: the file is empty (no JSON lines)")
    if rows > shard_start:
        shards.append(
            Shard(start_index + len(shards), path, "jsonl", shard_start, rows - shard_start, shard_offset, shard_line)
        )
    return shards, rows, has_gold


def plan_parquet(path: str, columns: Columns, start_index: int) -> tuple[list[Shard], int, bool]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as err:  # pyarrow raises several types for a non-Parquet file
        raise InputError(f"{path}: not a readable Parquet file ({err})") from None
    names = meta.schema.to_arrow_schema().names
    check_columns(path, names, columns)
    if meta.num_rows == 0:
        raise InputError(f"{path}: the file is empty (0 rows)")
    shards, first = [], 0
    for group in range(meta.num_row_groups):
        count = meta.row_group(group).num_rows
        if count:
            shards.append(Shard(start_index + len(shards), path, "parquet", first, count, row_groups=(group,)))
        first += count
    return shards, meta.num_rows, bool(columns.gold and columns.gold in names)


def plan_shards(config: InputConfig, rows_per_shard: int) -> tuple[list[Shard], dict]:
    """All shards of all input files, and a summary (files, rows, whether gold answers exist)."""
    shards: list[Shard] = []
    summary = {"files": [], "rows": 0, "has_gold": False}
    for path in expand_paths(config.path):
        kind = file_format(path, config.format)
        if os.path.getsize(path) == 0:
            raise InputError(f"{path}: the file is empty")
        if kind == "jsonl":
            found, rows, has_gold = plan_jsonl(path, config.columns, rows_per_shard, len(shards))
        else:
            found, rows, has_gold = plan_parquet(path, config.columns, len(shards))
        shards += found
        summary["files"].append(
            {
                "path": os.path.abspath(path),
                "rows": rows,
                "bytes": os.path.getsize(path),
                "mtime": os.path.getmtime(path),
            }
        )
        summary["rows"] += rows
        summary["has_gold"] = summary["has_gold"] or has_gold
    return shards, summary


def read_shard(shard: Shard) -> list[dict]:
    """The raw records of one shard, each with `_source_file` and `_source_row` (1-based line
    for JSONL, 0-based row for Parquet)."""
    if shard.format == "jsonl":
        records = []
        with open(shard.path, "rb") as handle:
            handle.seek(shard.byte_offset)
            for line_number, raw in enumerate(handle, start=shard.first_line):
                if len(records) == shard.num_rows:
                    break
                if raw.strip():
                    records.append({**json.loads(raw), "_source_file": shard.path, "_source_row": line_number})
        return records
    import pyarrow.parquet as pq

    table = pq.ParquetFile(shard.path).read_row_groups(list(shard.row_groups))
    return [
        {**row, "_source_file": shard.path, "_source_row": shard.first_row + i}
        for i, row in enumerate(table.to_pylist())
    ]


def as_list(value: Any, field: str) -> list | None:
    """Lists come as lists, JSON strings or Python-repr strings (the paper authors' format)."""
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise ValueError(f"{field} is neither a list nor a JSON/Python list literal") from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{field} must be a list, got {type(value).__name__}")
    return list(value)


def canonical(raw: dict, columns: Columns, dataset_name: str | None) -> dict:
    """Map one raw record to the analyzer's fields; problems go to `flags`, never raise."""
    flags: list[str] = []
    response = raw.get(columns.response)
    if isinstance(response, (list, tuple)) or hasattr(response, "tolist"):
        items = list(response.tolist() if hasattr(response, "tolist") else response)
        response = items[0] if len(items) == 1 else response
        if len(items) != 1:
            flags.append("response_list_not_single")
    if response is None or (isinstance(response, str) and not response.strip()):
        flags.append("empty_response")
        response = ""
    elif not isinstance(response, str):
        flags.append("non_text_response")
        response = ""
    gold = raw.get(columns.gold) if columns.gold else None
    if isinstance(gold, (list, tuple)) and len(gold) == 1:
        gold = gold[0]
    gold = None if gold is None or (isinstance(gold, str) and not gold.strip()) else str(gold)
    if gold is None:
        flags.append("no_gold")
    source = Path(raw["_source_file"]).stem
    record = {
        "source_file": raw["_source_file"],
        "source_row": int(raw["_source_row"]),
        "problem_id": _optional_str(raw, columns.problem_id),
        "dataset": _optional_str(raw, columns.dataset) or dataset_name or source,
        "level": _optional_str(raw, columns.level),
        "problem": str(raw.get(columns.problem) or ""),
        "prompt": _optional_str(raw, columns.prompt),
        "response": response,
        "gold": gold,
        "finish_reason": _optional_str(raw, columns.finish_reason),
        "given_solutions": None,
        "given_clusters": None,
        "given_correct": None,
        "flags": flags,
    }
    for key, column in (
        ("given_solutions", columns.solutions),
        ("given_clusters", columns.solution_clusters),
        ("given_correct", columns.solution_correct),
    ):
        if column:
            try:
                record[key] = as_list(raw.get(column), column)
            except ValueError as err:
                flags.append(f"bad_{key.removeprefix('given_')}: {err}")
    if record["given_correct"] is not None:
        record["given_correct"] = [bool(c["correct"] if isinstance(c, dict) else c) for c in record["given_correct"]]
    return record


def _optional_str(raw: dict, column: str | None) -> str | None:
    if not column or raw.get(column) is None:
        return None
    return str(raw[column])
