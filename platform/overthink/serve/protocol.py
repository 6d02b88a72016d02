"""What overthink adds to the OpenAI wire format, pure. Requests and responses are vLLM's own
(its protocol models and serving code, in engine.py and app.py); here are the additions: the
thinking-control fields a request may carry (validated into a policy, or an `ApiError` naming the
field), the parameters a policy cannot honour (refused, never dropped), and the `overthinking`
report each choice gets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from overthink.analyze.segment import segment_rules
from overthink.analyze.thinking import split_thinking
from overthink.policy.config import EarlyExitConfig, PolicyConfig
from overthink.policy.core import Markers, Outcome, thinking_tokens
from overthink.serve.config import LimitsConfig

POLICY_KEY = "overthink_policy"  # where the request's policy rides to the engine (SamplingParams.extra_args)


class ApiError(Exception):
    """A request the server refuses: HTTP status, one-line message, the offending field."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.kind = status, message, param, kind
        self.retry_after = retry_after  # seconds, sent as Retry-After

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.status}}


class ThinkingFields(BaseModel):
    """The request fields overthink reads (top level; `extra_body` in the openai client)."""

    model_config = ConfigDict(extra="ignore")
    thinking_budget: int | None = Field(None, ge=0)
    thinking_token_budget: int | None = Field(None, ge=0)  # vLLM's own name for the same field
    early_exit: bool | dict[str, Any] | None = None


def first_error(err: ValidationError, prefix: str = "") -> ApiError:
    first = err.errors()[0]
    where = prefix + ".".join(str(part) for part in first["loc"])
    return ApiError(400, f"{where}: {first['msg']}", where)


def take_thinking_fields(body: dict) -> tuple[ThinkingFields, dict]:
    """The thinking fields and the rest of the body, which vLLM's own request model validates."""
    try:
        fields = ThinkingFields.model_validate(body)
    except ValidationError as err:
        raise first_error(err) from None
    return fields, {k: v for k, v in body.items() if k not in ThinkingFields.model_fields}


def request_policy(fields: ThinkingFields, server: PolicyConfig, limits: LimitsConfig) -> PolicyConfig:
    """The request's own thinking control, else the server's default."""
    budget = fields.thinking_budget if fields.thinking_budget is not None else fields.thinking_token_budget
    if budget is not None and fields.early_exit not in (None, False):
        raise ApiError(400, "give thinking_budget or early_exit, not both", "thinking_budget")
    if budget is not None:
        if limits.max_thinking_budget is not None and budget > limits.max_thinking_budget:
            raise ApiError(
                400, f"thinking_budget={budget} is more than {limits.max_thinking_budget}", "thinking_budget"
            )
        return server.model_copy(update={"kind": "budget", "thinking_budget": budget})
    if fields.early_exit is False:
        return server.model_copy(update={"kind": "none"})
    if fields.early_exit is True:
        return server.model_copy(update={"kind": "early_exit"})
    if isinstance(fields.early_exit, dict):
        try:
            settings = EarlyExitConfig.model_validate({**server.early_exit.model_dump(), **fields.early_exit})
        except ValidationError as err:
            raise first_error(err, "early_exit.") from None
        return server.model_copy(update={"kind": "early_exit", "early_exit": settings})
    return server


# Request fields a thinking policy cannot honour, with the reason the refusal gives. A policy runs
# a request as several engine calls and inserts tokens of its own (the closing text, a probe's).
POLICY_REFUSES = {
    "logprobs": "tokens the policy inserts have no log-probabilities",
    "top_logprobs": "tokens the policy inserts have no log-probabilities",
    "prompt_logprobs": "the policy's calls have prompts of their own",
    "response_format": "a structured output would have to hold across the policy's calls",
    "structured_outputs": "a structured output would have to hold across the policy's calls",
    "use_beam_search": "beam search is one engine call",
    "presence_penalty": "penalties would restart at each of the policy's calls",
    "frequency_penalty": "penalties would restart at each of the policy's calls",
    "min_tokens": "it would apply to each of the policy's calls",
    "echo": "not with thinking control",
}
EARLY_EXIT_REFUSES = {
    "stop": "early exit cuts the thinking at its own stop strings",
    "stop_token_ids": "early exit cuts the thinking at its own stop strings",
}
NEUTRAL = (None, False, 0, [], {}, "")


def refuse_unsupported(body: dict, policy: PolicyConfig) -> None:
    """A 400 naming the first request field the policy cannot honour (set to a non-default value)."""
    if policy.kind == "none":
        return
    refused = {**POLICY_REFUSES, **(EARLY_EXIT_REFUSES if policy.kind == "early_exit" else {})}
    for field, reason in refused.items():
        value = body.get(field)
        if any(value is neutral or value == neutral for neutral in NEUTRAL):
            continue
        if field == "response_format" and isinstance(value, dict) and value.get("type") == "text":
            continue
        raise ApiError(400, f"{field} is not supported with {policy.label() or policy.kind}: {reason}", field)


def limit_max_tokens(body: dict, limits: LimitsConfig) -> dict:
    """The server's limits on output length: a default for requests that set none and, when
    configured, a ceiling (vLLM's own bound, the context left after the prompt, also applies)."""
    for field in ("max_completion_tokens", "max_tokens"):
        asked = body.get(field)
        if isinstance(asked, int) and limits.max_tokens is not None and asked > limits.max_tokens:
            raise ApiError(400, f"{field}={asked} is more than this server's limit {limits.max_tokens}", field)
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        return {**body, "max_tokens": limits.default_max_tokens}
    return body


def overthinking_report(
    token_ids: Sequence[int], text: str, outcome: Outcome | None, policy: PolicyConfig, markers: Markers
) -> dict:
    """One choice: its thinking tokens (generated before the end-of-thinking tag, after an opening
    tag), whether the thinking closed, the solutions the analyze stage's splitter finds in it and
    the answers they reach, and what the policy did."""
    parts = split_thinking(text, (policy.think_start,), (policy.think_end,))
    solutions = (
        segment_rules({}, text, parts.thinking_start, parts.thinking_end) if parts.opened or parts.closed else []
    )
    report: dict[str, Any] = {
        "thinking_tokens": thinking_tokens(token_ids, markers.think_start, markers.think_end),
        "thinking_closed": parts.closed,
        "solutions": [{"index": i, "answer": s.answer} for i, s in enumerate(solutions)],
        "answers": [s.answer for s in solutions if s.answer is not None],
        "policy": {"kind": policy.kind},
    }
    if policy.kind == "budget":
        report["policy"]["thinking_budget"] = policy.thinking_budget
    if policy.kind == "early_exit" and outcome is not None:
        report["policy"].update(
            probes=[{"at_token": at, "answer": answer} for at, answer in outcome.probes],
            probe_tokens=outcome.probe_tokens,
        )
    if outcome is not None and outcome.stopped_at is not None:
        report["policy"]["stopped_at_token"] = outcome.stopped_at
    return report
