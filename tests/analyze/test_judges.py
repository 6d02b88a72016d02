"""Distinctness judges and the LLM passes. The LLM endpoint is a stand-in OpenAI-compatible
HTTP server on 127.0.0.1 (tests/standin.py; no judge model can run here); the rest is real."""

from collections import Counter

import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.core import Analyzer
from overthink.analyze.distinct import JUDGES, EmbeddingJudge, LexicalJudge
from overthink.config import load_config
from standin import chat_reply, standin_endpoint

RESPONSE = """<think>
We need 6 * 7. Six sevens are 42. So the answer is 42.

Wait, let me double-check: 7 * 6 = 42. The answer is 42.

Alternatively, 6 * 7 = 6 * 5 + 6 * 2 = 30 + 12 = 42. The answer is 42.
</think>
\\boxed{42}"""


def record(response=RESPONSE):
    return {
        "source_file": "x",
        "source_row": 1,
        "problem_id": None,
        "dataset": "d",
        "level": None,
        "problem": "6*7?",
        "response": response,
        "gold": "42",
        "finish_reason": None,
        "given_solutions": None,
        "given_clusters": None,
        "given_correct": None,
        "flags": [],
    }


def test_lexical_judge_flags_repeats():
    judge = LexicalJudge(0.5)
    assert judge(["add 2 and 3 to get 5", "add 2 and 3 to get 5", "multiply 5 by 1 gives 5 via product rule"]) == [
        True,
        False,
        True,
    ]
    assert judge([]) == []


def test_embedding_judge_offline():
    judge = EmbeddingJudge(0.9, None)
    flags = judge(
        [
            "We add the two numbers: 2 + 3 = 5.",
            "We add the two numbers: 2 + 3 = 5.",
            "Consider the geometry of the triangle and apply the law of cosines.",
        ]
    )
    assert flags == [True, False, True]


@pytest.fixture
def endpoint():
    """Replies pop from `replies` in order; the prompts sent are kept in `prompts`."""
    state = {"replies": [], "prompts": []}

    def reply(body):
        state["prompts"].append(body["messages"][0]["content"])
        return chat_reply(state["replies"].pop(0), body["model"])

    with standin_endpoint(reply) as (url, _):
        yield url, state


def llm_config(url):
    return load_config(
        AnalyzeConfig,
        None,
        [
            "segment.method=llm",
            "distinct.method=llm",
            f"segment.llm.base_url={url}",
            f"distinct.llm.base_url={url}",
            "segment.llm.max_retries=0",
            "distinct.llm.max_retries=0",
        ],
    )


def test_llm_split_and_clusters_are_used(endpoint):
    url, state = endpoint
    state["replies"] += [
        "Sure:\n<solution1><step>###STEP 1</step><answer>42</answer><complete>true</complete></solution1>"
        "<solution2><step>###STEP 2 ... ###STEP 3</step><answer>42</answer><complete>true</complete></solution2>",
        '{"result": false}',  # stage 2: step 2 alone does not end a solution
        '```json\n{"clusters": [[1], [2]]}\n```',
    ]
    row = Analyzer(llm_config(url)).analyze([record()])[0]
    assert row["num_solutions"] == 2
    assert row["solutions"][1]["text"].startswith("Wait")
    assert [s["distinct"] for s in row["solutions"]] == [True, True]
    assert "###STEP 1\n" in state["prompts"][0] and "Expected answer" in state["prompts"][1]
    assert "Solution 2:" in state["prompts"][2]
    assert not [f for f in row["flags"] if "fallback" in f]


def test_malformed_judge_output_falls_back_and_is_counted(endpoint):
    url, state = endpoint
    state["replies"] += ["I think there are two solutions.", '{"clusters": [[1, 2], [2, 3]]}']
    row = Analyzer(llm_config(url)).analyze([record()])[0]
    assert "llm_split_fallback" in row["flags"] and "llm_cluster_fallback" in row["flags"]
    assert row["num_solutions"] == 3  # the rules split


# Similarity of the last text to the first: Jaccard 0.32 (lexical), cosine 0.81 (MiniLM).
TEXTS = [
    "We add the two numbers: 2 + 3 = 5.",
    "We add the two numbers: 2 + 3 = 5.",
    "Consider the geometry of the triangle and apply the law of cosines.",
    "Check by subtracting: 5 - 3 = 2, so the sum 2 + 3 = 5 holds.",
]
CLUSTERS = [0, 1, 1, 2]  # the row's given cluster ids
CLUSTER_REPLY = '{"clusters": [[1, 2, 3], [4]]}'  # the stand-in LLM's grouping
EXPECTED = {
    "lexical": [True, False, True, False],  # default threshold 0.15
    "embedding": [True, False, True, True],  # default threshold 0.9
    "llm": [True, False, False, True],  # from CLUSTER_REPLY
    "clusters": [True, True, False, True],  # from CLUSTERS
}


def judge_texts(method, url, *overrides, clusters=CLUSTERS):
    """(flags, the row's flags, stats) of the registered judge `method` on TEXTS."""
    config = load_config(
        AnalyzeConfig,
        None,
        [
            f"distinct.method={method}",
            "input.columns.solution_clusters=ids",
            f"distinct.llm.base_url={url}",
            "distinct.llm.max_retries=0",
            *overrides,
        ],
    )
    stats, row = Counter(), {"problem": "2+3?", "given_clusters": clusters, "flags": []}
    return JUDGES.get(method)(config, stats)(TEXTS, row), row["flags"], stats


def test_every_registered_judge_has_an_expectation():
    assert set(EXPECTED) == set(JUDGES.names())


@pytest.mark.parametrize("method", JUDGES.names())
def test_registered_judges(method, endpoint):
    url, state = endpoint
    state["replies"].append(CLUSTER_REPLY)
    flags, row_flags, _ = judge_texts(method, url)
    assert flags == EXPECTED[method] and row_flags == []


def test_lexical_judge_reads_the_configured_threshold(endpoint):
    assert judge_texts("lexical", endpoint[0], "distinct.threshold=0.5")[0] == [True, False, True, True]


def test_clusters_that_do_not_match_fall_back_to_lexical(endpoint):
    flags, row_flags, _ = judge_texts("clusters", endpoint[0], "distinct.threshold=0.5", clusters=[0, 1])
    assert flags == [True, False, True, True] and row_flags == ["clusters_mismatch"]
    assert judge_texts("clusters", endpoint[0], clusters=None)[:2] == (EXPECTED["lexical"], ["clusters_mismatch"])


def test_llm_judge_falls_back_to_lexical_at_its_default_threshold(endpoint):
    url, state = endpoint
    state["replies"].append('{"clusters": [[1, 2], [2, 3, 4]]}')  # solution 2 twice
    flags, row_flags, stats = judge_texts("llm", url, "distinct.threshold=0.5")
    assert flags == EXPECTED["lexical"] and row_flags == ["llm_cluster_fallback"]
    assert stats == {"llm_cluster_calls": 1, "llm_cluster_fallbacks": 1}


def test_llm_judge_asks_nothing_of_a_single_solution(endpoint):
    url, state = endpoint
    config = load_config(AnalyzeConfig, None, ["distinct.method=llm", f"distinct.llm.base_url={url}"])
    assert JUDGES.get("llm")(config, Counter())(["only one"], {"problem": "p", "flags": []}) == [True]
    assert state["prompts"] == []
