"""The thinking policies and the server's request additions, pure: a scripted token source stands
in for the engine (the real engine runs in tests/serve and tests/evaluate)."""

from __future__ import annotations

import pytest

from overthink.policy.config import PolicyConfig
from overthink.policy.core import Call, Markers, Reply, drive_batch, run_policy, settled, thinking_tokens
from overthink.serve.config import LimitsConfig
from overthink.serve.protocol import (
    ApiError,
    limit_max_tokens,
    refuse_unsupported,
    request_policy,
    take_thinking_fields,
)

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


def test_no_policy_is_one_call():
    calls = []

    def execute(batch):
        calls.extend(call for _, call in batch)
        return [Reply((5, END, EOS), "", "stop")] * len(batch)

    drive_batch([run_policy(PolicyConfig(), (0,), 50, MARKERS)], execute)
    assert [(c.prompt, c.max_tokens) for c in calls] == [((0,), 50)]


@pytest.mark.parametrize("opens_with_tag", [True, False])
def test_a_budget_holds_whether_or_not_the_response_opens_its_thinking_with_the_tag(opens_with_tag):
    """The issue's case: a model that starts thinking without `<think>` (vLLM's own budget never
    started counting there: 143 thinking tokens under a budget of 8)."""
    opening = (START,) if opens_with_tag else ()

    def execute(batch):
        replies = []
        for _, call in batch:
            done = call.prompt[1:]
            script = [*opening, *([5] * 100), END, 6, 6, EOS]  # the model's own response
            if END in done:  # closed (by the policy): it answers
                out = [6, 6, EOS][: call.max_tokens]
            else:
                out = script[len(done) : len(done) + call.max_tokens]
            replies.append(Reply(tuple(out), "", "stop" if out and out[-1] == EOS else "length"))
        return replies

    [outcome] = drive_batch([run_policy(PolicyConfig(kind="budget", thinking_budget=8), (0,), 60, MARKERS)], execute)
    assert thinking_tokens(outcome.token_ids, MARKERS.think_start, MARKERS.think_end) == 8
    assert outcome.token_ids == [*opening, *[5] * 8, *MARKERS.close, 6, 6, EOS] and outcome.finish_reason == "stop"
    assert outcome.stopped_at == len(opening) + 8
    # a thinking that ends within its budget is left alone
    [short] = drive_batch([run_policy(PolicyConfig(kind="budget", thinking_budget=500), (0,), 200, MARKERS)], execute)
    assert short.stopped_at is None and short.token_ids == [*opening, *[5] * 100, END, 6, 6, EOS]
    # max_tokens still bounds the whole response
    [capped] = drive_batch([run_policy(PolicyConfig(kind="budget", thinking_budget=8), (0,), 5, MARKERS)], execute)
    assert len(capped.token_ids) == 5 and capped.finish_reason == "length"


def fields(**body):
    return take_thinking_fields({"model": "m", "messages": [{"role": "user", "content": "hi"}], **body})


def test_thinking_fields_become_the_request_policy():
    server = PolicyConfig(early_exit={"agree": 4})
    limits = LimitsConfig(default_max_tokens=100, max_thinking_budget=50)
    thinking, rest = fields(thinking_token_budget=30, stop=["x"])
    assert request_policy(thinking, server, limits).thinking_budget == 30 and "thinking_token_budget" not in rest
    thinking, _ = fields(early_exit={"probe_every": 5})
    exit_policy = request_policy(thinking, server, limits)
    assert exit_policy.kind == "early_exit" and exit_policy.early_exit.agree == 4
    assert request_policy(fields(early_exit=False)[0], PolicyConfig(kind="early_exit"), limits).kind == "none"
    for body, words in [
        ({"thinking_budget": 60}, "thinking_budget=60"),
        ({"thinking_budget": 5, "early_exit": True}, "not both"),
        ({"early_exit": {"agree": 1}}, "early_exit.agree"),
    ]:
        with pytest.raises(ApiError, match=words) as caught:
            request_policy(fields(**body)[0], server, limits)
        assert caught.value.status == 400
    with pytest.raises(ApiError, match="thinking_budget") as caught:
        fields(thinking_budget=-1)
    assert caught.value.param == "thinking_budget"


def test_what_a_policy_cannot_honour_is_refused_by_name():
    budget = PolicyConfig(kind="budget", thinking_budget=8)
    early = PolicyConfig(kind="early_exit")
    refuse_unsupported({"logprobs": True}, PolicyConfig())  # no policy: vLLM honours everything
    refuse_unsupported({"stop": ["x"], "n": 2, "seed": 1, "response_format": {"type": "text"}}, budget)
    for body, policy, field in [
        ({"logprobs": True, "top_logprobs": 2}, budget, "logprobs"),
        ({"response_format": {"type": "json_object"}}, budget, "response_format"),
        ({"presence_penalty": 0.5}, early, "presence_penalty"),
        ({"stop": ["\n\n"]}, early, "stop"),
    ]:
        with pytest.raises(ApiError, match=f"{field} is not supported with") as caught:
            refuse_unsupported(body, policy)
        assert caught.value.param == field and caught.value.status == 400


def test_output_limits():
    limits = LimitsConfig(default_max_tokens=100, max_tokens=500)
    assert limit_max_tokens({}, limits)["max_tokens"] == 100
    assert limit_max_tokens({"max_completion_tokens": 300}, limits) == {"max_completion_tokens": 300}
    with pytest.raises(ApiError, match="max_tokens=995 is more than this server's limit 500") as caught:
        limit_max_tokens({"max_tokens": 995}, limits)
    assert caught.value.param == "max_tokens"
