"""Issue 24 item 3: the analysis of a row is linear in its length, and a pathological row is
flagged `row_timeout` instead of stalling its shard."""

import time

from test_judges import record as judged_record

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.core import Analyzer
from overthink.config import load_config


def record(paragraphs: int) -> dict:
    """A response of many short paragraphs, each one a small step that states an answer."""
    thinking = "\n\n".join(f"Hmm, {i} + 1 = {i + 1}. So the answer is {i % 7}." for i in range(paragraphs))
    return judged_record(f"<think>\n{thinking}\n</think>\n\\boxed{{42}}")


def seconds(analyzer: Analyzer, paragraphs: int) -> float:
    best = float("inf")
    for _ in range(2):  # the better of two: a loaded machine adds noise, never speed
        start = time.perf_counter()
        row = analyzer.analyze([record(paragraphs)])[0]
        best = min(best, time.perf_counter() - start)
        assert row["error"] is None and row["num_solutions"] == paragraphs
    return best


def test_time_grows_linearly_with_the_number_of_paragraphs():
    analyzer = Analyzer(load_config(AnalyzeConfig, None, ["row_timeout_s=null"]))
    analyzer.analyze([record(50)])  # warm caches and imports
    small, large = seconds(analyzer, 400), seconds(analyzer, 1600)
    # 4x the paragraphs: linear work takes ~4x; comparing every solution with every other (as
    # before) took ~16x
    assert large / small < 8, (small, large)


def test_a_row_over_its_budget_is_flagged_and_the_rest_go_on():
    analyzer = Analyzer(load_config(AnalyzeConfig, None, ["row_timeout_s=0.5"]))
    start = time.perf_counter()
    huge, fine = analyzer.analyze([record(20_000), record(3)])
    assert time.perf_counter() - start < 30
    assert huge["flags"] == ["row_timeout"] and "over 0.5 s" in huge["error"] and huge["num_solutions"] is None
    assert fine["error"] is None and fine["num_solutions"] == 3 and fine["correct"] is True  # boxed 42, gold 42
    assert analyzer.stats["row_timeouts"] == 1
