"""Distinctness judges and the LLM passes. The LLM endpoint is a stand-in OpenAI-compatible
HTTP server on 127.0.0.1 (tests/standin.py; no judge model can run here); the rest is real."""

import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.core import Analyzer
from overthink.analyze.distinct import EmbeddingJudge, LexicalJudge
from overthink.config import load_config
from standin import chat_reply, standin_endpoint

RESPONSE = """<think>
We need 6 * 7. Six sevens are 42. So the answer is 42.

Wait, let me double-check: 7 * 6 = 42. The answer is 42.

Alternatively, 6 * 7 = 6 * 5 + 6 * 2 = 30 + 12 = 42. The answer is 42.
</think>
\\boxed{42}"""


def record(response=RESPONSE):
    return {"source_file": "x", "source_row": 1, "problem_id": None, "dataset": "d", "level": None,
            "problem": "6*7?", "response": response, "gold": "42", "finish_reason": None,
            "given_solutions": None, "given_clusters": None, "given_correct": None, "flags": []}


def test_lexical_judge_flags_repeats():
    judge = LexicalJudge(0.5)
    assert judge(["add 2 and 3 to get 5", "add 2 and 3 to get 5", "multiply 5 by 1 gives 5 via product rule"]) == [True, False, True]
    assert judge([]) == []


def test_embedding_judge_offline():
    judge = EmbeddingJudge(0.9, None)
    flags = judge(["We add the two numbers: 2 + 3 = 5.", "We add the two numbers: 2 + 3 = 5.",
                   "Consider the geometry of the triangle and apply the law of cosines."])
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
    return load_config(AnalyzeConfig, None, ["segment.method=llm", "distinct.method=llm",
                                             f"segment.llm.base_url={url}", f"distinct.llm.base_url={url}",
                                             "segment.llm.max_retries=0", "distinct.llm.max_retries=0"])


def test_llm_split_and_clusters_are_used(endpoint):
    url, state = endpoint
    state["replies"] += ['Sure: {"solutions": [[1, 1], [2, 3]]}', '```json\n{"clusters": [[1], [2]]}\n```']
    row = Analyzer(llm_config(url)).analyze([record()])[0]
    assert row["num_solutions"] == 2
    assert row["solutions"][1]["text"].startswith("Wait")
    assert [s["distinct"] for s in row["solutions"]] == [True, True]
    assert "[1] " in state["prompts"][0] and "Solution 2:" in state["prompts"][1]
    assert not [f for f in row["flags"] if "fallback" in f]


def test_malformed_judge_output_falls_back_and_is_counted(endpoint):
    url, state = endpoint
    state["replies"] += ["I think there are two solutions.", '{"clusters": [[1, 2], [2, 3]]}']
    row = Analyzer(llm_config(url)).analyze([record()])[0]
    assert "llm_split_fallback" in row["flags"] and "llm_cluster_fallback" in row["flags"]
    assert row["num_solutions"] == 3  # the rules split
