"""Metrics against hand computation, including the paper authors' own five examples."""

import json

import pytest

from locations import OFFICIAL, need
from overthink.analyze.aggregate import distinctness_by_position, summarize
from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.core import Analyzer
from overthink.analyze.metrics import response_metrics
from overthink.analyze.records import canonical, plan_shards, read_shard
from overthink.analyze.tokens import TokenCounter
from overthink.config import load_config


def test_response_metrics_by_hand():
    # 4 solutions of 10, 20, 30, 40 tokens in a 110-token response; first correct = 2nd;
    # distinct = 1st and 3rd.
    m = response_metrics(
        110, [10, 20, 30, 40], [10, 30, 60, 100], [False, True, True, False], [True, False, True, False]
    )
    assert m["outcome_efficiency"] == pytest.approx(30 / 110)
    assert m["process_efficiency"] == pytest.approx(40 / 110)
    assert m["first_correct_index"] == 1
    assert m["additional_solutions"] == 2
    assert m["additional_tokens"] == 80


def test_incorrect_response_has_zero_outcome_efficiency():
    m = response_metrics(50, [25, 25], [25, 50], [False, False], [True, True])
    assert m["outcome_efficiency"] == 0.0 and m["process_efficiency"] == pytest.approx(1.0)
    assert m["additional_solutions"] is None and not m["any_correct"]


def test_conventional_single_solution_model():
    m = response_metrics(40, [40], [40], [True], [True])
    assert m["outcome_efficiency"] == 1.0 and m["process_efficiency"] == 1.0


def test_distinctness_ratio_by_position():
    rows = [
        {"solutions": [{"distinct": True}, {"distinct": False}]},
        {"solutions": [{"distinct": True}, {"distinct": True}, {"distinct": False}]},
    ]
    assert distinctness_by_position(rows) == {"1": 1.0, "2": 0.5, "3": 0.0}


def analyze_official():
    config = load_config(
        AnalyzeConfig,
        None,
        [
            f"input.path={need(OFFICIAL)}",
            "input.columns.gold=expected_answer",
            "input.columns.solutions=split_solutions",
            "input.columns.solution_clusters=cluster_ids",
            "input.columns.solution_correct=solution_correctness",
            "segment.method=presplit",
            "distinct.method=clusters",
        ],
    )
    shards, _ = plan_shards(config.input, 100)
    records = [canonical(raw, config.input.columns, None) for raw in read_shard(shards[0])]
    return config, Analyzer(config).analyze(records)


def test_official_examples_follow_the_definitions():
    """Given the authors' splits, per-solution correctness and strategy clusters, xi_O and xi_P
    are the definitions computed here by hand: T by the tokenizer on the whole response, T^m on
    each solution's text, T-hat on the response up to the end of the first correct solution."""
    _, rows = analyze_official()
    counter = TokenCounter(None)
    originals = [json.loads(line) for line in OFFICIAL.open()]
    assert len(rows) == 5
    for row, original in zip(rows, originals):
        response, pieces = original["response"], original["split_solutions"]
        correct = [c["correct"] for c in original["solution_correctness"]]
        seen, distinct = set(), []
        for cluster in original["cluster_ids"]:
            distinct.append(cluster not in seen)
            seen.add(cluster)
        total = counter.count([response])[0]
        piece_tokens = counter.count(pieces)
        expected_p = sum(t for t, d in zip(piece_tokens, distinct) if d) / total
        if any(correct):
            first = correct.index(True)
            cut = response.index(pieces[first].strip()[-200:]) + len(pieces[first].strip()[-200:])
            expected_o = counter.count([response[:cut]])[0] / total
        else:
            expected_o = 0.0
        assert row["num_solutions"] == len(pieces)
        assert row["num_tokens"] == total
        assert row["process_efficiency"] == pytest.approx(expected_p, abs=2 / total)
        assert row["outcome_efficiency"] == pytest.approx(expected_o, abs=2 / total)
        assert [s["distinct"] for s in row["solutions"]] == distinct
        assert [s["correct"] for s in row["solutions"]] == correct


def test_official_example_janet_by_hand():
    """Janet's ducks: 4 solutions, all correct, clusters [0, 0, 1, 1]:
    xi_O = T^1 / T (the first solution is correct), xi_P = (T^1 + T^3) / T."""
    _, rows = analyze_official()
    janet = rows[0]
    t = [s["tokens"] for s in janet["solutions"]]
    assert janet["outcome_efficiency"] == pytest.approx(t[0] / janet["num_tokens"], abs=1e-9)
    assert janet["process_efficiency"] == pytest.approx((t[0] + t[2]) / janet["num_tokens"], abs=1e-9)
    assert janet["additional_solutions"] == 3


def test_summary_means_and_intervals():
    _, rows = analyze_official()
    summary = summarize(rows, bootstrap_samples=200, seed=1)
    assert summary["responses"] == 5
    assert summary["outcome_efficiency"] == pytest.approx(sum(r["outcome_efficiency"] for r in rows) / 5)
    low, high = summary["ci95"]["process_efficiency"]
    assert low <= summary["process_efficiency"] <= high
    assert summary["first_correct_position"]["1"] == pytest.approx(3 / 4)  # 4 responses reach a correct solution
