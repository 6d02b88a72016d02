"""Bad input: a clear error naming the file/line/column, or a flagged row, never a crash."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.core import Analyzer
from overthink.analyze.records import canonical, plan_shards, read_shard
from overthink.config import load_config
from overthink.errors import InputError

GOOD = {"problem": "1+1?", "response": "<think>1+1=2. So the answer is 2.</think> \\boxed{2}", "gold": "2"}


def config_for(path, *overrides):
    return load_config(AnalyzeConfig, None, [f"input.path={path}", *overrides])


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def analyze_file(path, *overrides):
    config = config_for(path, *overrides)
    shards, _ = plan_shards(config.input, 2)
    records = [canonical(r, config.input.columns, None) for s in shards for r in read_shard(s)]
    return Analyzer(config).analyze(records)


def test_missing_column_names_it_and_lists_what_is_there(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"question": "q", "output": "o"}])
    with pytest.raises(
        InputError, match=r"a.jsonl:1: missing column\(s\) response .*problem .*the file has: question, output"
    ):
        plan_shards(config_for(path).input, 10)


def test_malformed_json_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "b.jsonl", [GOOD, GOOD, "{not json", GOOD])
    with pytest.raises(InputError, match=r"b.jsonl:3: malformed JSON"):
        plan_shards(config_for(path).input, 10)
    write_jsonl(path, [GOOD, "[1, 2]"])
    with pytest.raises(InputError, match=r"b.jsonl:2: expected a JSON object, got list"):
        plan_shards(config_for(path).input, 10)


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match="empty"):
        plan_shards(config_for(path).input, 10)


def test_missing_path_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        plan_shards(config_for(tmp_path / "nope.jsonl").input, 10)
    odd = tmp_path / "data.txt"
    odd.write_text(json.dumps(GOOD))
    with pytest.raises(InputError, match="set input.format"):
        plan_shards(config_for(odd).input, 10)
    assert plan_shards(config_for(odd, "input.format=jsonl").input, 10)[1]["rows"] == 1


def test_parquet_missing_columns_and_empty(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"prompt": ["x"]}), path)
    with pytest.raises(InputError, match=r"p.parquet: missing column\(s\).*the file has: prompt"):
        plan_shards(config_for(path).input, 10)
    pq.write_table(pa.table({"problem": pa.array([], pa.string()), "response": pa.array([], pa.string())}), path)
    with pytest.raises(InputError, match="empty"):
        plan_shards(config_for(path).input, 10)
    not_parquet = tmp_path / "q.parquet"
    not_parquet.write_text("hello")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        plan_shards(config_for(not_parquet).input, 10)


def test_shards_keep_line_numbers_across_blank_lines(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [GOOD, "", GOOD, GOOD, "", "", GOOD])
    shards, summary = plan_shards(config_for(path).input, 2)
    assert summary["rows"] == 4 and [s.num_rows for s in shards] == [2, 2]
    lines = [r["_source_row"] for s in shards for r in read_shard(s)]
    assert lines == [1, 3, 4, 7]


def test_bad_rows_are_flagged_not_fatal(tmp_path):
    rows = [
        GOOD,
        {**GOOD, "response": ""},
        {**GOOD, "response": 42},
        {**GOOD, "response": None},
        {k: v for k, v in GOOD.items() if k != "gold"},
        {**GOOD, "gold": "\\frac{{{"},
        {**GOOD, "response": "x" * 1_000_000 + "\n\nSo the answer is 2."},
        {**GOOD, "response": ["<think>ok, 2.</think> \\boxed{2}"]},
    ]
    out = analyze_file(write_jsonl(tmp_path / "d.jsonl", rows))
    assert out[0]["correct"] is True and out[0]["num_solutions"] == 1
    assert "empty_response" in out[1]["flags"] and out[1]["num_solutions"] is None
    assert "non_text_response" in out[2]["flags"]
    assert "empty_response" in out[3]["flags"]
    assert "no_gold" in out[4]["flags"] and out[4]["correct"] is None and out[4]["num_solutions"] == 1
    assert out[5]["correct"] is False  # unparseable gold LaTeX: graded wrong, not a crash
    assert out[6]["num_tokens"] > 1 and out[6]["correct"] is True  # a 1 MB response is analyzed
    assert out[7]["correct"] is True  # one-item list responses (SkyThought format) are unwrapped
    too_long = analyze_file(write_jsonl(tmp_path / "e.jsonl", rows[6:7]), "max_response_chars=1000")
    assert "too_long" in too_long[0]["flags"] and too_long[0]["num_solutions"] is None


def test_list_fields_in_python_repr_and_json(tmp_path):
    row = {**GOOD, "sols": "['<think>1+1=2. So the answer is 2.', '</think> \\\\boxed{2}']", "clusters": "[0, 0]"}
    out = analyze_file(
        write_jsonl(tmp_path / "f.jsonl", [row]),
        "input.columns.solutions=sols",
        "segment.method=presplit",
        "input.columns.solution_clusters=clusters",
        "distinct.method=clusters",
    )
    assert out[0]["num_solutions"] == 2
    assert [s["distinct"] for s in out[0]["solutions"]] == [True, False]
    bad = {**row, "sols": "not a list ["}
    out = analyze_file(
        write_jsonl(tmp_path / "g.jsonl", [bad]), "input.columns.solutions=sols", "segment.method=presplit"
    )
    assert any(f.startswith("bad_solutions") for f in out[0]["flags"])
