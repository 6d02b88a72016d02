"""The shared Problem schema and its Arrow / JSONL forms."""

import dataclasses
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overthink.errors import InputError
from overthink.problems import (
    PROBLEM_SCHEMA,
    Problem,
    problem_from_record,
    problem_to_record,
    problems_from_records,
    problems_from_table,
    problems_to_records,
    problems_to_table,
    read_problems,
    write_problems,
)

PROBLEMS = [
    Problem("test/algebra/1.json", "math500", "Solve $x+1=3$.", "2", level="1"),
    Problem("rec123", "gpqa_diamond", "Which?\n\n(A) x\n(B) y", "B", choices=["x", "y"]),
    Problem("local/0", "mine", "Ünïcode ∑ problem", "\\frac{1}{2}"),
]


def test_schema_is_fixed_and_documented_in_order():
    assert PROBLEM_SCHEMA.names == ["problem_id", "dataset", "problem", "gold", "choices", "level"]
    assert PROBLEM_SCHEMA.field("choices").type == pa.list_(pa.string())
    assert not PROBLEM_SCHEMA.field("gold").nullable and PROBLEM_SCHEMA.field("level").nullable


def test_arrow_round_trip_keeps_every_field():
    table = problems_to_table(PROBLEMS)
    assert table.schema.equals(PROBLEM_SCHEMA)
    assert table.column("choices").to_pylist() == [None, ["x", "y"], None]
    assert problems_from_table(table) == PROBLEMS


def test_table_with_extra_columns_and_other_order_reads_back():
    table = problems_to_table(PROBLEMS)
    shuffled = pa.table({"extra": [1, 2, 3], **{name: table.column(name) for name in reversed(table.column_names)}})
    assert problems_from_table(shuffled) == PROBLEMS


def test_table_missing_a_column_names_it():
    table = problems_to_table(PROBLEMS).drop_columns(["gold"])
    with pytest.raises(InputError, match=r"my.parquet: missing column\(s\) gold; it has: problem_id, dataset"):
        problems_from_table(table, source="my.parquet")


def test_jsonl_records_round_trip_through_json_text():
    text = "\n".join(json.dumps(r) for r in problems_to_records(PROBLEMS))
    records = [json.loads(line) for line in text.splitlines()]
    assert records[1] == {
        "problem_id": "rec123",
        "dataset": "gpqa_diamond",
        "problem": "Which?\n\n(A) x\n(B) y",
        "gold": "B",
        "choices": ["x", "y"],
        "level": None,
    }
    assert problems_from_records(records) == PROBLEMS
    assert problem_from_record(problem_to_record(PROBLEMS[0])) == PROBLEMS[0]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_written_files_read_back_identically(tmp_path, suffix):
    path = write_problems(PROBLEMS, tmp_path / "out" / f"problems{suffix}")
    assert read_problems(path) == PROBLEMS
    if suffix == ".parquet":
        assert pq.read_schema(path).remove_metadata().equals(PROBLEM_SCHEMA.remove_metadata())


def test_write_to_an_unknown_extension_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"\.parquet or \.jsonl"):
        write_problems(PROBLEMS, tmp_path / "problems.csv")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"gold": ""}, "gold must be a non-empty string"),
        ({"gold": 2}, "gold must be a non-empty string"),
        ({"problem": "  "}, "problem must be a non-empty string"),
        ({"choices": "A,B"}, "choices must be a non-empty list"),
        ({"choices": []}, "choices must be a non-empty list"),
        ({"choices": ["a", ""]}, "choices must all be non-empty strings"),
        ({"level": 3}, "level must be a string or null"),
    ],
)
def test_invalid_problems_are_rejected_naming_the_field(fields, message):
    base = {"problem_id": "p", "dataset": "d", "problem": "q", "gold": "1"}
    with pytest.raises(ValueError, match=message):
        Problem(**{**base, **fields})


def test_record_errors_name_where_they_are():
    with pytest.raises(InputError, match=r"f.jsonl record 1: missing key\(s\) gold; the record has: problem_id"):
        problems_from_records(
            [problem_to_record(PROBLEMS[0]), {"problem_id": "x", "dataset": "d", "problem": "q"}], source="f.jsonl"
        )
    with pytest.raises(InputError, match=r"r: gold must be a non-empty string"):
        problem_from_record({"problem_id": "x", "dataset": "d", "problem": "q", "gold": ""}, where="r")


def test_problems_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROBLEMS[0].gold = "3"
