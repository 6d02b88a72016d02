"""The thinking policies and the wire format, pure: a scripted token source stands in for the
engine (the real engine runs in tests/serve and tests/evaluate)."""

from __future__ import annotations

import random

import pytest

from overthink.policy.config import PolicyConfig
from overthink.policy.core import Call, Markers, Reply, drive_batch, run_policy, settled, thinking_tokens
from overthink.serve.config import LimitsConfig
from overthink.serve.protocol import ApiError, ChatRequest, ThinkingStream, plan_request, split_response

START, END, EOS = 1, 2, 3
MARKERS = Markers(think_start=(START,), think_end=(END,), close=(END, 9), probe=(END, 8))


def scripted(thinking: int, answers: list[str], confidence: float | None = None, paragraphs: tuple[int, ...] = ()):
    """An engine whose model thinks `thinking` tokens, then closes and answers; a probe made after
    k thinking tokens answers answers[min(k // 10, last)], with `confidence` when given. A call
    with a stop string ends at a paragraph end (after `paragraphs[i]` thinking tokens)."""

    def execute(calls: list[tuple[int, Call]]) -> list[Reply]:
        replies = []
        for _, call in calls:
            if call.purpose == "probe":
                generated = len(call.prompt) - 1 - len(MARKERS.probe)  # prompt is one token
                answer = answers[min(generated // 10, len(answers) - 1)]
                replies.append(Reply((7, 7), answer + "}", "boundary", confidence))
                continue
            done = call.prompt[1:]
            out = []
            while len(out) < call.max_tokens:
                position = len(done) + len(out)
                if END in done or END in out:
                    out.append(EOS)
                    break
                out.append(END if position >= thinking else 5)
                if call.stop and position + 1 in paragraphs:
                    break
            finish = "stop" if out[-1] == EOS else "boundary" if len(done) + len(out) in paragraphs else "length"
            replies.append(Reply(tuple(out), "", finish))
        return replies

    return execute


def test_settled_needs_k_equal_nonempty_answers():
    assert settled(["3", "4", "4"], 2) and not settled(["4", "3"], 2)
    assert settled(["12", "12.0", "12"], 3) and not settled(["", ""], 2) and not settled(["5"], 2)


@pytest.mark.parametrize(
    ("answer_from_probe", "ending"),
    [(True, [*MARKERS.probe, 7, 7]), (False, list(MARKERS.close))],  # the settling probe's (7, 7), or close
)
def test_early_exit_stops_when_probes_agree_and_closes_the_thinking(answer_from_probe, ending):
    settings = {"probe_every": 10, "agree": 2, "answer_from_probe": answer_from_probe}
    policy = PolicyConfig(kind="early_exit", early_exit=settings)
    [outcome] = drive_batch(
        [run_policy(policy, (0,), 500, MARKERS)], scripted(thinking=200, answers=["1", "7", "7", "7"])
    )
    # probes after 10 ("7" from 10 tokens on), 20 -> two agreeing answers: stop at 20 thinking tokens
    assert outcome.stopped_at == 20 and [a for _, a in outcome.probes] == ["7", "7"]
    assert outcome.token_ids[20 : 20 + len(ending)] == ending and outcome.token_ids[-1] == EOS
    assert thinking_tokens(outcome.token_ids, MARKERS.think_start, MARKERS.think_end) == 20
    assert outcome.probe_tokens == 4 and outcome.finish_reason == "stop"


@pytest.mark.parametrize(("confidence", "stopped_at"), [(0.97, 10), (0.9, 20), (None, 20)])
def test_a_confident_probe_exits_alone(confidence, stopped_at):
    policy = PolicyConfig(kind="early_exit", early_exit={"probe_every": 10, "agree": 2, "confidence": 0.95})
    [outcome] = drive_batch(
        [run_policy(policy, (0,), 500, MARKERS)], scripted(thinking=200, answers=["1", "7", "7"], confidence=confidence)
    )
    # at or above the threshold the first probe ("7" after 10 tokens) ends the thinking; below it,
    # or with no probabilities reported, two agreeing probes are needed as before
    assert outcome.stopped_at == stopped_at


@pytest.mark.parametrize(("probe_at", "probed_at"), [("tokens", [10, 20]), ("paragraphs", [40, 80])])
def test_where_probes_are_made(probe_at, probed_at):
    policy = PolicyConfig(kind="early_exit", early_exit={"probe_at": probe_at, "probe_every": 10, "agree": 2})
    # the first paragraph (40 tokens) works through an intermediate value "1" before its answer "7"
    [outcome] = drive_batch(
        [run_policy(policy, (0,), 500, MARKERS)],
        scripted(thinking=200, answers=["1"] * 4 + ["7"], paragraphs=(40, 80, 120)),
    )
    # tokens: two probes inside the first paragraph agree on the intermediate value; paragraphs:
    # the first paragraph's answer and the second's
    assert [at for at, _ in outcome.probes] == probed_at and outcome.stopped_at == probed_at[-1]


def test_early_exit_lets_short_thinking_end_on_its_own_and_respects_max_tokens():
    policy = PolicyConfig(kind="early_exit", early_exit={"probe_every": 10, "agree": 3})
    short, capped = drive_batch(
        [run_policy(policy, (0,), 500, MARKERS), run_policy(policy, (0,), 25, MARKERS)],
        scripted(thinking=15, answers=["1", "2"]),
    )
    assert short.stopped_at is None and short.token_ids[15] == END and short.finish_reason == "stop"
    assert len(capped.token_ids) <= 25


def test_budget_and_none_are_one_call():
    calls = []

    def execute(batch):
        calls.extend(call for _, call in batch)
        return [Reply((5, END, EOS), "", "stop")] * len(batch)

    drive_batch([run_policy(PolicyConfig(kind="budget", thinking_budget=7), (0,), 50, MARKERS)], execute)
    drive_batch([run_policy(PolicyConfig(), (0,), 50, MARKERS)], execute)
    assert [c.thinking_budget for c in calls] == [7, None]


@pytest.mark.parametrize("opened", [False, True])
def test_streamed_thinking_matches_the_whole_response_however_it_is_cut(opened):
    policy = PolicyConfig()
    text = "\nFirst 2+3=5.\n\nWait, again: 5.\n</think>\n\nThe answer is \\boxed{5}."
    whole = text if opened else "<think>" + text
    reasoning, content = split_response("<think>" + text, policy)
    rng = random.Random(0)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(whole)), 6))
        router = ThinkingStream(policy, opened)
        parts = {"reasoning": "", "content": ""}
        for piece in (whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)])):
            for field, delta in router.feed(piece):
                parts[field] += delta
        for field, delta in router.flush():
            parts[field] += delta
        assert (parts["reasoning"].strip(), parts["content"].strip()) == (reasoning, content)


def request(**fields) -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields})


def test_request_policy_and_limits():
    server = PolicyConfig(early_exit={"agree": 4})
    limits = LimitsConfig(default_max_tokens=100, max_thinking_budget=50)
    assert plan_request(request(), "m", server, limits, 10, 1000).max_tokens == 100
    assert plan_request(request(thinking_token_budget=30), "m", server, limits, 10, 1000).policy.thinking_budget == 30
    exit_plan = plan_request(request(early_exit={"probe_every": 5}), "m", server, limits, 10, 1000)
    assert exit_plan.policy.kind == "early_exit" and exit_plan.policy.early_exit.agree == 4
    for fields, prompt, status, words in [
        ({"thinking_budget": 60}, 10, 400, "thinking_budget=60"),
        ({"thinking_budget": 5, "early_exit": True}, 10, 400, "not both"),
        ({"max_tokens": 995}, 10, 400, "max_tokens=995"),
        ({}, 1000, 400, "context holds 1000"),
    ]:
        with pytest.raises(ApiError, match=words) as caught:
            plan_request(request(**fields), "m", server, limits, prompt, 1000)
        assert caught.value.status == status
    with pytest.raises(ApiError, match="not served here") as caught:
        plan_request(request(model="x"), "m", server, limits, 10, 1000)
    assert caught.value.status == 404
