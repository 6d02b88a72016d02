"""The paper's LLM splitter (segment.method=llm) against a local stand-in judge endpoint (no 70B
judge runs here): both stages, bounded concurrency, the cache, and every kind of bad reply."""

import threading
import time
from collections import Counter

import pytest

from overthink.analyze.config import EndpointConfig
from overthink.analyze.llm_judges import EndpointClient
from overthink.analyze.llm_split import LLMSplitter, parse_judgement, parse_solutions
from overthink.analyze.segment import segment_rules
from standin import chat_reply, standin_endpoint

PARAGRAPHS = [
    "We need 6 * 7. Six sevens are 42.",
    "So the answer is 42.",
    "Wait, let me double-check: 7 * 6 = 42.",
    "Yes, 42 again.",
    "Alternatively, 6 * 7 = 30 + 12 = 42. The answer is 42.",
]
RESPONSE = "<think>\n" + "\n\n".join(PARAGRAPHS) + "\n</think>\n\\boxed{42}"
START, END = len("<think>"), RESPONSE.index("</think>")
# stage 1: solutions end at steps 2 and 5; stage 2 then finds the answer alone in step 4
STAGE1 = (
    "Explanation: two solutions.\n"
    "<solution1><step>###STEP 1\n...\n###STEP 2</step><answer>42</answer><complete>true</complete></solution1>\n"
    "<solution2><step>###STEP 3\n...\n###STEP 5</step><answer>42</answer><complete>true</complete></solution2>"
)


def step_of(prompt: str) -> str:
    return prompt.split('Step:\n"""\n')[1].split('\n"""')[0]


def scripted(stage1=STAGE1, says_yes=lambda step: step == PARAGRAPHS[3], delay=0.0, seen=None):
    """Stand-in judge: `stage1` to splitting requests; a step judgement is yes for `says_yes(step)`."""

    def reply(body):
        prompt = body["messages"][0]["content"]
        if seen is not None:
            seen.enter()
        time.sleep(delay)
        if seen is not None:
            seen.leave()
        if "###STEP" in prompt:
            return chat_reply(stage1, body["model"])
        verdict = "true" if says_yes(step_of(prompt)) else "false"
        return chat_reply(f'```json\n{{"result": {verdict}}}\n```', body["model"])

    return reply


class InFlight:
    def __init__(self):
        self.now = self.most = 0
        self.lock = threading.Lock()

    def enter(self):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1


def splitter(url, stats=None, **options):
    client = EndpointClient(EndpointConfig(base_url=url, model="judge-70b", max_retries=0, timeout_s=10))
    return LLMSplitter(
        client.complete_text, "judge-70b", segment_rules, Counter() if stats is None else stats, **options
    )


def texts(solutions, response=RESPONSE):
    return [response[s.start : s.end].strip() for s in solutions]


def test_two_stages_split_where_the_judge_sees_answers():
    stats = Counter()
    with standin_endpoint(scripted()) as (url, requests):
        row = {"problem": "What is 6 * 7?", "flags": []}
        found = splitter(url, stats)(row, RESPONSE, START, END)
    assert texts(found) == ["\n\n".join(PARAGRAPHS[:2]), "\n\n".join(PARAGRAPHS[2:4]), PARAGRAPHS[4]]
    assert [s.answer for s in found] == ["42"] * 3 and found[-1].end == END and row["flags"] == []
    # one splitting request, then one judgement per step inside a solution but its last (1, 3, 4)
    assert stats == {"llm_split_calls": 1, "llm_step_calls": 3}
    assert len(requests) == 4 and all(r["model"] == "judge-70b" and r["temperature"] == 0.0 for r in requests)
    assert "###STEP 5\n" + PARAGRAPHS[4] in requests[0]["messages"][0]["content"]


def test_requests_of_many_rows_go_out_together_within_the_bound():
    seen = InFlight()
    rows = [({"problem": f"What is 6 * 7? ({i})", "flags": []}, RESPONSE, START, END) for i in range(12)]
    with standin_endpoint(scripted(delay=0.05, seen=seen)) as (url, requests):
        split = splitter(url, concurrency=4)
        split.prepare(rows)
        assert len(requests) == 12 * 4
        results = [split(*row) for row in rows]  # answered from the cache
        assert len(requests) == 12 * 4
    assert 1 < seen.most <= 4
    assert all(len(found) == 3 for found in results)


def test_finished_splits_are_cached_by_response_and_judge_on_disk(tmp_path):
    row = {"problem": "What is 6 * 7?", "flags": []}
    with standin_endpoint(scripted()) as (url, requests):
        first = splitter(url, cache_dir=str(tmp_path))(dict(row), RESPONSE, START, END)
        again = splitter(url, cache_dir=str(tmp_path))(dict(row), RESPONSE, START, END)  # a new worker
        assert len(requests) == 4 and first == again
        other = LLMSplitter(
            EndpointClient(EndpointConfig(base_url=url, model="other", max_retries=0)).complete_text,
            "other",
            segment_rules,
            Counter(),
            cache_dir=str(tmp_path),
        )
        other(dict(row), RESPONSE, START, END)  # another judge is asked afresh
        assert len(requests) == 8


def test_long_thinking_goes_in_windows():
    stage1 = "<solution1><step>###STEP 5</step><answer>42</answer><complete>true</complete></solution1>"
    with standin_endpoint(scripted(stage1=stage1, says_yes=lambda step: False)) as (url, requests):
        found = splitter(url, steps_per_request=2)({"problem": "6*7?", "flags": []}, RESPONSE, START, END)
    prompts = [r["messages"][0]["content"] for r in requests]
    windows = sorted(p.split("Reasoning:")[1] for p in prompts if "Reasoning:" in p)  # sent concurrently
    assert len(windows) == 3 and windows[1].count("###STEP") == 2 and "###STEP 3\n" in windows[1]
    assert len(found) == 1  # only the window holding step 5 may end a solution there


def test_a_response_the_judge_finds_no_answer_in_has_no_solution():
    stage1 = (
        "<solution1><step>###STEP 1\n...\n###STEP 5</step><answer>none</answer><complete>false</complete></solution1>"
    )
    with standin_endpoint(scripted(stage1=stage1)) as (url, _):
        row = {"problem": "6*7?", "flags": []}
        assert splitter(url)(row, RESPONSE, START, END) == [] and row["flags"] == []


@pytest.mark.parametrize(
    "reply",
    ["I think there are two solutions.", "", "<solution1><step>no step numbers</step></solution1"],
    ids=["prose", "empty", "broken-tags"],
)
def test_an_unreadable_split_falls_back_to_rules(reply):
    stats = Counter()
    with standin_endpoint(scripted(stage1=reply)) as (url, _):
        row = {"problem": "What is 6 * 7?", "flags": []}
        found = splitter(url, stats)(row, RESPONSE, START, END)
    assert found == segment_rules({"problem": "What is 6 * 7?"}, RESPONSE, START, END)
    assert row["flags"] == ["llm_split_fallback"] and stats["llm_split_fallbacks"] == 1


def test_a_dead_endpoint_costs_a_fallback_not_the_run():
    stats = Counter()
    row = {"problem": "What is 6 * 7?", "flags": []}
    found = splitter("http://127.0.0.1:9/v1", stats)(row, RESPONSE, START, END)
    assert found and row["flags"] == ["llm_split_fallback"]
    assert stats["llm_request_errors.APIConnectionError"] == 1


def test_parsing_keeps_complete_solutions_in_order_within_the_window():
    reply = (
        "<solution1><step>###STEP 3 ... ###STEP 4</step><answer>7</answer><complete>true</complete></solution1>"
        "<solution2><step>###STEP 2</step><answer>9</answer><complete>true</complete></solution2>"  # goes back
        "<solution3><step>###STEP 6</step><answer>none</answer><complete>true</complete></solution3>"  # no answer
        "<solution4><step>###STEP 7</step><answer>8</answer><complete>false</complete></solution4>"  # incomplete
        "<solution5><step>###STEP 99</step><answer>8</answer><complete>true</complete></solution5>"  # out of range
        "<solution6><step>###STEP 9</step><answer>8</answer><complete>TRUE</complete></solution6>"
    )
    assert parse_solutions(reply, 3, 10) == [(4, "7"), (9, "8")]
    assert parse_solutions("no blocks", 1, 5) is None


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ('```json\n{"result": true}\n```', True),
        ('Analysis... {"result": false}', False),
        ('{"result": "True"}', True),
        ('{"result": 1}', None),
        ("yes", None),
        ('{"result": tru', None),
    ],
)
def test_step_judgements_are_read_strictly(reply, verdict):
    assert parse_judgement(reply) is verdict


def test_an_unreadable_step_judgement_counts_as_no():
    stats = Counter()

    def reply(body):
        prompt = body["messages"][0]["content"]
        return chat_reply(STAGE1 if "###STEP" in prompt else "maybe?", body["model"])

    with standin_endpoint(reply) as (url, _):
        found = splitter(url, stats)({"problem": "6*7?", "flags": []}, RESPONSE, START, END)
    assert len(found) == 2 and stats["llm_step_unreadable"] == 3
