"""Pair construction on analyzer output of known structure (see conftest.records)."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from known_responses import analyzed  # noqa: F401  (fixture)
from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.stage import run_analyze
from overthink.config import load_config
from overthink.errors import ConfigError
from overthink.pairs.core import problem_pairs
from overthink.pairs.strategies import cut

ALL = ["shortest", "fcs", "fcs_reflection", "gds", "difficulty"]


def by_problem(analyzed) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in pq.read_table(analyzed).to_pylist():
        groups.setdefault(row["problem_id"], []).append(row)
    return groups


def pairs_of(rows, strategies=ALL, stats=None, **options):
    settings = {
        "negative": "longest_correct",
        "short_incorrect_pairs": False,
        "difficulty_scale": 1.0,
        "min_token_gap": 1,
        **options,
    }
    return {
        (p["strategy"], p["kind"]): p
        for p in problem_pairs(rows, strategies, prompt="P", stats=Counter() if stats is None else stats, **settings)
    }


def test_paper_strategies_pick_the_shortest_positive_of_their_kind(analyzed):
    easy = pairs_of(by_problem(analyzed)["easy"])
    solutions = {strategy: easy[(strategy, "length")]["chosen_solutions"] for strategy in ALL}
    # shortest: the whole 2-solution response; FCS: 1; FCS+Reflection: 2; GDS: sample 3 keeps only its
    # first solution (its check adds no new strategy); difficulty on an all-correct problem = FCS.
    assert solutions == {"shortest": 2, "fcs": 1, "fcs_reflection": 2, "gds": 1, "difficulty": 1}
    rejected = {p["rejected"] for p in easy.values()}
    assert len(rejected) == 1 and all(
        p["rejected_tokens"] == 115 and p["rejected_solutions"] == 4 for p in easy.values()
    )
    assert all(p["chosen_tokens"] < p["rejected_tokens"] and p["chosen_correct"] for p in easy.values())


def test_cut_after_a_wrong_first_solution_keeps_it(analyzed):
    untidy = pairs_of(by_problem(analyzed)["untidy"])
    assert untidy[("fcs", "length")]["chosen_solutions"] == 2  # wrong attempt, then the first correct one
    assert untidy[("fcs_reflection", "length")]["chosen_solutions"] == 3


def test_cut_responses_are_well_formed_and_grade_like_their_label(analyzed, tmp_path):
    """Feed every chosen response back through the analyzer: thinking closed, the same final
    answer, the solution count and (nearly) the token count the pair claims."""
    groups = by_problem(analyzed)
    pairs = [p for rows in groups.values() for p in pairs_of(rows).values()]
    source = {r["problem_id"]: r for rows in groups.values() for r in rows}
    records = [
        {
            "problem_id": f"{p['problem_id']}/{p['strategy']}",
            "problem": source[p["problem_id"]]["problem"],
            "gold": source[p["problem_id"]]["gold"],
            "response": p["chosen"],
        }
        for p in pairs
    ]
    (tmp_path / "chosen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = load_config(
        AnalyzeConfig,
        None,
        [f"input.path={tmp_path / 'chosen.jsonl'}", f"output_dir={tmp_path / 'a'}", "mlflow.enabled=false"],
    )
    again = pq.read_table(run_analyze(config, use_ray=False).output_dir / "analyzed.parquet").to_pylist()
    for pair, row in zip(pairs, again):
        assert pair["chosen"].startswith("<think>\nOkay, let's solve this carefully.\n\nWe need")
        assert pair["chosen"].count("</think>") == 1 and row["thinking_end"] is not None
        assert pair["chosen"].endswith(pair["rejected"][pair["rejected"].index("\n</think>") :])
        assert row["correct"] is True and row["num_solutions"] == pair["chosen_solutions"], pair
        assert abs(row["num_tokens"] - pair["chosen_tokens"]) <= 2, pair


def test_no_correct_response_gives_no_pair(analyzed):
    stats = Counter()
    assert pairs_of(by_problem(analyzed)["none"], stats=stats, short_incorrect_pairs=True) == {}
    assert stats["problems_without_correct_response"] == 1


def test_short_incorrect_pairs_protect_hard_problems(analyzed):
    hard = pairs_of(by_problem(analyzed)["hard"], strategies=["fcs"], short_incorrect_pairs=True)
    extra = hard[("fcs", "short_incorrect")]
    assert extra["rejected_correct"] is False and extra["rejected_tokens"] == 49
    assert extra["chosen_correct"] is True and extra["chosen_tokens"] == 115  # the next-longer correct one
    assert hard[("fcs", "length")]["rejected_tokens"] == 138
    assert ("fcs", "short_incorrect") not in pairs_of(by_problem(analyzed)["easy"], short_incorrect_pairs=True)


def test_difficulty_budget_keeps_more_checking_on_hard_problems(analyzed):
    hard = by_problem(analyzed)["hard"]  # accuracy 0.5: budget = 49 + 0.5 × (126.5 − 49) = 87.75 tokens
    assert pairs_of(hard)[("difficulty", "length")]["chosen_tokens"] == 94
    assert pairs_of(hard, difficulty_scale=0.0)[("difficulty", "length")]["chosen_tokens"] == 49
    assert pairs_of(hard)[("fcs", "length")]["chosen_tokens"] == 49


def test_negative_choice_and_minimum_gap(analyzed):
    hard = by_problem(analyzed)["hard"]
    assert pairs_of(hard, negative="longest")[("fcs", "length")]["rejected_tokens"] == 138
    untidy = by_problem(analyzed)["untidy"]
    assert pairs_of(untidy, negative="longest_correct")[("shortest", "length")]["rejected_tokens"] == 116
    stats = Counter()
    assert pairs_of(untidy, strategies=["shortest"], min_token_gap=100, stats=stats) == {}
    assert stats["shortest.no_shorter_positive"] == 1


def test_cut_keeping_every_solution_is_the_response_itself(analyzed):
    row = by_problem(analyzed)["easy"][0]
    whole = cut(row, list(range(row["num_solutions"])))
    assert whole.text == row["response"] and whole.tokens == row["num_tokens"]
    with pytest.raises(ConfigError, match="unknown pair strategy"):
        problem_pairs(by_problem(analyzed)["easy"], ["nope"], "longest_correct", False, 1.0, 1, "P", Counter())
