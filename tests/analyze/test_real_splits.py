"""The rules splitter against careful readers' solution splits of 48 real SkyThought traces
(../shared/fixtures/real_splits, scored the way ../shared/tools/score_splits.py scores an
analyze output), and against model readers' splits of 155 more (tests/analyze/data/model_readers).
The bounds are what the splitter reaches (docs/stages/analyze.md has the figures and how they
were reached); a regression in splitting fails here."""

import importlib.util
import json

import pytest

from locations import REAL_TRACES, REPO, SHARED, need
from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.core import Analyzer
from overthink.analyze.records import canonical, plan_shards, read_shard
from overthink.config import load_config

LABELS = SHARED / "real_splits" / "labels.jsonl"
MODEL_READERS = REPO / "tests" / "analyze" / "data" / "model_readers"
SCORER = SHARED.parent / "tools" / "score_splits.py"


def scorer():
    spec = importlib.util.spec_from_file_location("score_splits", need(SCORER))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scores(*overrides: str, labels_path=LABELS) -> dict:
    """count exact, within one, boundary F1 and mean solutions (predicted, labelled), per half."""
    labels = [json.loads(line) for line in need(labels_path).read_text().splitlines() if line.strip()]
    config = load_config(
        AnalyzeConfig, REPO / "configs" / "analyze" / "skythought.yaml", [f"input.path={need(REAL_TRACES)}", *overrides]
    )
    shards, _ = plan_shards(config.input, 1000)
    wanted = {label["idx"] for label in labels}
    raw = [r for shard in shards for r in read_shard(shard) if r["idx"] in wanted]
    rows = {
        int(r["problem_id"]): r
        for r in Analyzer(config).analyze([canonical(r, config.input.columns, None) for r in raw])
    }
    predicted_ends = scorer().predicted_ends
    out = {}
    for half, keep in (("all", lambda i: True), ("even", lambda i: i % 2 == 0), ("odd", lambda i: i % 2 == 1)):
        n = exact = near = tp = fp = fn = ours = theirs = 0
        for label in labels:
            if not keep(label["idx"]):
                continue
            pred, gold = set(predicted_ends(rows[label["idx"]])), set(label["ends"])
            n, exact, near = n + 1, exact + (len(pred) == len(gold)), near + (abs(len(pred) - len(gold)) <= 1)
            tp, fp, fn = tp + len(pred & gold), fp + len(pred - gold), fn + len(gold - pred)
            ours, theirs = ours + len(pred), theirs + len(gold)
        out[half] = {
            "exact": exact / n,
            "within_one": near / n,
            "f1": 2 * tp / (2 * tp + fp + fn),
            "mean": ours / n,
            "readers": theirs / n,
        }
    return out


@pytest.fixture(scope="module")
def with_gold():
    return scores()


def test_solution_counts_and_boundaries_agree_with_readers(with_gold):
    every = with_gold["all"]
    print(with_gold)
    assert every["exact"] >= 0.70 and every["within_one"] >= 0.87 and every["f1"] >= 0.85
    assert abs(every["mean"] / every["readers"] - 1) <= 0.05  # 3.75 against the readers' 3.73


def test_the_untouched_half_scores_like_the_worked_half(with_gold):
    """Rules were developed on even idx only; odd idx were never read to fix them. The untouched
    half improved with every rule kept, but less than the worked half (docs/stages/analyze.md)."""
    even, odd = with_gold["even"], with_gold["odd"]
    assert odd["exact"] >= 0.62 and odd["within_one"] >= 0.78 and odd["f1"] >= 0.78
    assert abs(even["f1"] - odd["f1"]) <= 0.2 and abs(even["exact"] - odd["exact"]) <= 0.25


def test_without_a_gold_the_response_s_own_answers_still_split_it():
    every = scores("input.columns.gold=null")["all"]
    print(every)
    assert every["exact"] >= 0.66 and every["within_one"] >= 0.87 and every["f1"] >= 0.85


@pytest.mark.parametrize(
    ("labels", "bounds"),
    [
        # developed on (issue 21's third round): 0.56 / 0.75 / 0.71 before it, 0.66 / 0.87 / 0.83 after
        ("dev.jsonl", {"exact": 0.65, "within_one": 0.86, "f1": 0.82}),
        # never shown while developing: unchanged by that round (0.61 / 0.81 / 0.78 before and after)
        ("held.jsonl", {"exact": 0.61, "within_one": 0.80, "f1": 0.77}),
    ],
)
def test_model_readers_splits_of_more_traces(labels, bounds):
    every = scores(labels_path=MODEL_READERS / labels)["all"]
    print(labels, every)
    assert all(every[key] >= bound for key, bound in bounds.items())
