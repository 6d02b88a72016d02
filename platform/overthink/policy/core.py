"""One request under a thinking policy, as a generator of engine calls.

`run_policy(...)` yields `Call`s (token ids in, at most `max_tokens` out) and receives each
`Reply`; it returns the `Outcome`. Engines never see the policy: the sample stage drives many
generators in lock-step batches (`drive_batch`), the server drives one per request and streams
the `output` calls. Working on token ids, not text, keeps counts exact across calls.

A thinking budget counts the tokens before the end-of-thinking tag (after an opening tag, when the
response opens with one): the thinking is generated in calls no longer than the budget left, and
once it is spent `close_text` is inserted and the model answers. vLLM's own per-request budget is
not used: it counts only after an explicit opening tag, and reasoning models may begin thinking
without one (the organism does on some prompts, as models whose chat template opens the thinking
do always when served another template): there it never started counting.

Early exit follows Dynasor (Fu et al., 2025): every `probe_every` thinking tokens, ask the model
greedily for its answer so far ("... </think> The answer is \\boxed{"); when the last `agree`
probes agree, close the thinking and answer: by default the settling probe's own answer begins
the final answer (as Dynasor-CoT returns the probed answer) and the model goes on from there.
DEER (Yang et al., 2025) probes where a new attempt begins instead (`probe_at: paragraphs`) and
may exit on one confident probe. Probe tokens are compute, not output: they are counted apart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from overthink.analyze.grade import same_answer
from overthink.policy.config import PolicyConfig


@dataclass(frozen=True)
class Markers:
    """The policy's strings as the model's token ids (tokenized once per engine)."""

    think_start: tuple[int, ...]
    think_end: tuple[int, ...]
    close: tuple[int, ...]
    probe: tuple[int, ...]

    @classmethod
    def from_tokenizer(cls, tokenizer, policy: PolicyConfig) -> Markers:
        def ids(text: str) -> tuple[int, ...]:
            return tuple(tokenizer.encode(text, add_special_tokens=False))

        return cls(
            ids(policy.think_start), ids(policy.think_end), ids(policy.close_text), ids(policy.early_exit.probe_text)
        )


@dataclass(frozen=True)
class Call:
    prompt: tuple[int, ...]  # the whole input: prompt and everything generated so far
    max_tokens: int
    purpose: Literal["output", "probe"]  # output tokens reach the user; probe tokens never do
    step: int  # this call's index within its request (derives its seed)
    greedy: bool = False
    stop: str | None = None


@dataclass(frozen=True)
class Reply:
    token_ids: tuple[int, ...]
    text: str
    finish_reason: str  # "stop" (end of sequence), "boundary" (the call's stop string) or "length"
    confidence: float | None = None  # a probe's mean token probability, when the engine reports it


@dataclass
class Outcome:
    token_ids: list[int]
    finish_reason: str
    stopped_at: int | None = None  # generated tokens when the policy closed the thinking
    probes: list[tuple[int, str]] = field(default_factory=list)  # (generated tokens then, probed answer)
    probe_tokens: int = 0


Request = Generator[Call, Reply, Outcome]
PARAGRAPH_END = "\n\n"


def call_seed(seed: int, step: int) -> int:
    """The request's own seed for its first call, a derived one for each later call."""
    if step == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}:{step}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def contains(tokens: Sequence[int], part: Sequence[int]) -> bool:
    width = len(part)
    return width > 0 and any(tuple(tokens[i : i + width]) == tuple(part) for i in range(len(tokens) - width + 1))


def thinking_tokens(tokens: Sequence[int], think_start: Sequence[int], think_end: Sequence[int]) -> int:
    """Generated tokens of the thinking: after a start tag the response opens with, before the end
    tag (all of them while it is still open): what a thinking budget counts."""
    first = len(think_start) if think_start and tuple(tokens[: len(think_start)]) == tuple(think_start) else 0
    width = len(think_end)
    for i in range(first, len(tokens) - width + 1):
        if tuple(tokens[i : i + width]) == tuple(think_end):
            return i - first
    return len(tokens) - first


def settled(answers: Sequence[str], agree: int) -> bool:
    """The last `agree` probed answers are non-empty and the same answer."""
    last = [a for a in answers[-agree:] if a]
    return len(answers) >= agree and len(last) == agree and all(same_answer(last[0], a) for a in last[1:])


def confident(probe: Reply, settings) -> bool:
    """DEER's exit: one probe whose answer the model gives with high probability."""
    threshold = settings.confidence
    answer = probe_answer(probe.text, settings.probe_stop)
    return bool(answer) and threshold is not None and probe.confidence is not None and probe.confidence >= threshold


def probe_answer(text: str, stop: str) -> str:
    return text.split(stop, 1)[0].strip()


def run_policy(policy: PolicyConfig, prompt: Sequence[int], max_tokens: int, markers: Markers) -> Request:
    prompt = tuple(prompt)
    if policy.kind == "none":
        reply = yield Call(prompt, max_tokens, "output", 0)
        return Outcome(list(reply.token_ids), reply.finish_reason)
    if policy.kind == "budget":
        return (yield from run_budget(policy.thinking_budget or 0, prompt, max_tokens, markers))
    return (yield from run_early_exit(policy, prompt, max_tokens, markers))


def run_budget(budget: int, prompt: tuple[int, ...], max_tokens: int, markers: Markers) -> Request:
    """At most `budget` thinking tokens, then `close_text` and the answer."""
    out: list[int] = []
    outcome = Outcome(out, "length")
    step = 0
    while not contains(out, markers.think_end):
        room = min(budget - thinking_tokens(out, markers.think_start, markers.think_end), max_tokens - len(out))
        if room <= 0:
            if len(out) < max_tokens:  # the budget is spent, not the response's room
                outcome.stopped_at = len(out)
                out.extend(markers.close[: max_tokens - len(out)])
            break
        reply = yield Call(prompt + tuple(out), room, "output", step)
        step += 1
        out.extend(reply.token_ids)
        if reply.finish_reason == "stop":
            outcome.finish_reason = "stop"
            return outcome
    if len(out) >= max_tokens:
        return outcome
    reply = yield Call(prompt + tuple(out), max_tokens - len(out), "output", step)
    out.extend(reply.token_ids)
    outcome.finish_reason = reply.finish_reason
    return outcome


def run_early_exit(policy: PolicyConfig, prompt: tuple[int, ...], max_tokens: int, markers: Markers) -> Request:
    settings = policy.early_exit
    out: list[int] = []
    outcome = Outcome(out, "length")
    step = 0

    def rest() -> Call:
        return Call(prompt + tuple(out), max_tokens - len(out), "output", step)

    by_paragraph = settings.probe_at == "paragraphs"
    while True:
        room = max_tokens - len(out)
        chunk = room if by_paragraph else min(settings.probe_every, room)
        reply = yield Call(prompt + tuple(out), chunk, "output", step, stop=PARAGRAPH_END if by_paragraph else None)
        step += 1
        out.extend(reply.token_ids)
        if reply.finish_reason == "stop" or len(out) >= max_tokens:
            outcome.finish_reason = "stop" if reply.finish_reason == "stop" else "length"
            return outcome
        if contains(out, markers.think_end):  # the thinking ended on its own: nothing left to cut
            break
        if len(out) < settings.min_thinking_tokens:
            continue
        probe = yield Call(
            prompt + tuple(out) + markers.probe,
            settings.probe_max_tokens,
            "probe",
            step,
            greedy=True,
            stop=settings.probe_stop,
        )
        step += 1
        outcome.probe_tokens += len(probe.token_ids)
        outcome.probes.append((len(out), probe_answer(probe.text, settings.probe_stop)))
        if settled([answer for _, answer in outcome.probes], settings.agree) or confident(probe, settings):
            outcome.stopped_at = len(out)
            ending = markers.probe + probe.token_ids if settings.answer_from_probe else markers.close
            out.extend(ending[: max_tokens - len(out)])
            if len(out) >= max_tokens:
                return outcome
            break
    reply = yield rest()
    out.extend(reply.token_ids)
    outcome.finish_reason = reply.finish_reason
    return outcome


def drive_batch(requests: list[Request], execute: Callable[[list[tuple[int, Call]]], list[Reply]]) -> list[Outcome]:
    """Run every request to its outcome, each round sending all their pending calls as one batch
    (as (request index, call) pairs)."""
    outcomes: dict[int, Outcome] = {}
    pending = {i: next(request) for i, request in enumerate(requests)}
    while pending:
        order = list(pending)
        for i, reply in zip(order, execute([(i, pending[i]) for i in order])):
            try:
                pending[i] = requests[i].send(reply)
            except StopIteration as done:
                outcomes[i] = done.value
                del pending[i]
    return [outcomes[i] for i in range(len(requests))]
