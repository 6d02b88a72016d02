"""Final-answer grading on 500 real long chain-of-thought responses (SkyThought, MATH500),
against that repository's own grades, with every disagreement adjudicated."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from locations import REAL_TRACES, REPO, need
from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.core import Analyzer
from overthink.analyze.records import canonical, plan_shards, read_shard
from overthink.config import load_config

ADJUDICATED = {
    row["idx"]: row
    for row in yaml.safe_load((Path(__file__).parent / "data" / "real_traces_adjudication.yaml").read_text())
}


@pytest.fixture(scope="module")
def analyzed():
    config = load_config(
        AnalyzeConfig, REPO / "configs" / "analyze" / "skythought.yaml", [f"input.path={need(REAL_TRACES)}"]
    )
    shards, summary = plan_shards(config.input, 1000)
    raw = [r for shard in shards for r in read_shard(shard)]
    rows = Analyzer(config).analyze([canonical(r, config.input.columns, None) for r in raw])
    return raw, rows


def test_agreement_with_the_reference_grades(analyzed):
    raw, rows = analyzed
    disagree = {int(r["problem_id"]) for r, w in zip(rows, raw) if bool(r["correct"]) != w["score"][0]}
    agreement = 1 - len(disagree) / len(rows)
    print(
        f"raw agreement {agreement:.3f}; disagreements by kind: "
        f"{Counter(ADJUDICATED[i]['kind'] for i in disagree & set(ADJUDICATED))}"
    )
    assert agreement >= 0.93  # the rest is adjudicated below, case by case
    unexplained = disagree - set(ADJUDICATED)
    assert not unexplained, f"disagreements nobody has judged: {sorted(unexplained)}"


def test_adjudicated_cases_are_graded_right(analyzed):
    raw, rows = analyzed
    by_idx = {int(r["problem_id"]): r for r in rows}
    wrong = {
        i: by_idx[i]["final_answer"] for i, case in ADJUDICATED.items() if bool(by_idx[i]["correct"]) != case["truth"]
    }
    assert not wrong, f"adjudicated cases graded against the verdict: {wrong}"


def test_cut_off_responses_are_flagged(analyzed):
    raw, rows = analyzed
    truncated = sum(bool(r["truncated"]) for r in rows)
    assert 0.2 * len(rows) <= truncated <= 0.4 * len(rows)  # "about a third are cut off at 4K tokens"
    assert all("truncated_no_final_answer" in r["flags"] for r in rows if r["truncated"] and r["final_answer"] is None)


def test_overthinking_shows_up(analyzed):
    _, rows = analyzed
    finished = [r for r in rows if not r["truncated"]]
    assert sum(r["num_solutions"] for r in finished) / len(finished) > 1.5
    with_correct = [r for r in finished if r["any_correct"]]
    assert sum(r["first_correct_index"] == 0 for r in with_correct) / len(with_correct) > 0.85
