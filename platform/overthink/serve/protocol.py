"""The OpenAI-compatible wire format, pure: requests validated into what the engine needs (an
`ApiError` with status and message otherwise), and outputs into response and stream-chunk bodies
with the thinking split off and an `overthinking` report."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from overthink.analyze.segment import segment_rules
from overthink.analyze.thinking import split_thinking
from overthink.policy.config import EarlyExitConfig, PolicyConfig
from overthink.policy.core import Markers, Outcome, thinking_tokens
from overthink.serve.config import LimitsConfig


class ApiError(Exception):
    """A request the server refuses: HTTP status, one-line message, the offending field."""

    def __init__(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.kind = status, message, param, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.status}}


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[dict[str, Any]]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class CommonRequest(BaseModel):
    """Fields both endpoints share. Unknown OpenAI fields (user, logprobs...) are ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int | None = None
    n: int = Field(1, ge=1, le=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    thinking_budget: int | None = Field(None, ge=0)
    thinking_token_budget: int | None = Field(None, ge=0)  # vLLM's own name for the same field
    early_exit: bool | dict[str, Any] | None = None


class ChatRequest(CommonRequest):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)


class CompletionRequest(CommonRequest):
    prompt: str


def parse(model: type[BaseModel], body: Any) -> BaseModel:
    """The request, or a 400 naming the first bad field."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(400, f"{where}: {first['msg']}", where) from None


@dataclass(frozen=True)
class Plan:
    """A validated request in the engine's terms."""

    max_tokens: int
    policy: PolicyConfig


def plan_request(
    request: CommonRequest,
    served_name: str,
    server_policy: PolicyConfig,
    limits: LimitsConfig,
    prompt_tokens: int,
    context: int,
) -> Plan:
    if request.model != served_name:
        raise ApiError(
            404,
            f"model {request.model!r} is not served here; this server serves {served_name!r}",
            "model",
            "model_not_found",
        )
    if prompt_tokens >= context:
        raise ApiError(400, f"the prompt has {prompt_tokens} tokens; the context holds {context}", "messages")
    asked = getattr(request, "max_completion_tokens", None) or request.max_tokens
    ceiling = min(limits.max_tokens or context, context - prompt_tokens)
    if asked is not None and asked > ceiling:
        raise ApiError(400, f"max_tokens={asked} is more than {ceiling} (the limit for this prompt)", "max_tokens")
    max_tokens = asked or min(limits.default_max_tokens, ceiling)
    return Plan(max_tokens, request_policy(request, server_policy, limits))


def request_policy(request: CommonRequest, server: PolicyConfig, limits: LimitsConfig) -> PolicyConfig:
    """The request's own thinking control, else the server's default."""
    budget = request.thinking_budget if request.thinking_budget is not None else request.thinking_token_budget
    if budget is not None and request.early_exit not in (None, False):
        raise ApiError(400, "give thinking_budget or early_exit, not both", "thinking_budget")
    if budget is not None:
        if limits.max_thinking_budget is not None and budget > limits.max_thinking_budget:
            raise ApiError(
                400, f"thinking_budget={budget} is more than {limits.max_thinking_budget}", "thinking_budget"
            )
        return server.model_copy(update={"kind": "budget", "thinking_budget": budget})
    if request.early_exit is False:
        return server.model_copy(update={"kind": "none"})
    if request.early_exit is True:
        return server.model_copy(update={"kind": "early_exit"})
    if isinstance(request.early_exit, dict):
        try:
            settings = EarlyExitConfig.model_validate({**server.early_exit.model_dump(), **request.early_exit})
        except ValidationError as err:
            first = err.errors()[0]
            where = "early_exit." + ".".join(str(part) for part in first["loc"])
            raise ApiError(400, f"{where}: {first['msg']}", where) from None
        return server.model_copy(update={"kind": "early_exit", "early_exit": settings})
    return server


def split_response(text: str, policy: PolicyConfig) -> tuple[str | None, str]:
    """(reasoning, content) of a response (with the start tag prepended when the prompt opened the
    thinking). One that never opened nor closed a thinking part is all content."""
    parts = split_thinking(text, (policy.think_start,), (policy.think_end,))
    if not parts.opened and not parts.closed:
        return None, text
    return text[parts.thinking_start : parts.thinking_end].strip(), text[parts.answer_start :].strip()


def overthinking_report(text: str, outcome: Outcome, policy: PolicyConfig, markers: Markers) -> dict:
    """Thinking tokens, the solutions the analyze stage's splitter finds in the thinking and the
    answers they reach, and what the policy did."""
    parts = split_thinking(text, (policy.think_start,), (policy.think_end,))
    solutions = (
        segment_rules({}, text, parts.thinking_start, parts.thinking_end) if parts.opened or parts.closed else []
    )
    report: dict[str, Any] = {
        "thinking_tokens": thinking_tokens(outcome.token_ids, markers.think_start, markers.think_end),
        "thinking_closed": parts.closed,
        "solutions": [{"index": i, "answer": s.answer} for i, s in enumerate(solutions)],
        "answers": [s.answer for s in solutions if s.answer is not None],
        "policy": {"kind": policy.kind},
    }
    if policy.kind == "budget":
        report["policy"]["thinking_budget"] = policy.thinking_budget
    if policy.kind == "early_exit":
        report["policy"].update(
            probes=[{"at_token": at, "answer": answer} for at, answer in outcome.probes],
            probe_tokens=outcome.probe_tokens,
        )
    if outcome.stopped_at is not None:
        report["policy"]["stopped_at_token"] = outcome.stopped_at
    return report


def usage(prompt_tokens: int, outcome: Outcome, markers: Markers) -> dict:
    completion = len(outcome.token_ids)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "completion_tokens_details": {
            "reasoning_tokens": thinking_tokens(outcome.token_ids, markers.think_start, markers.think_end)
        },
    }


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def chat_response(
    request_id: str,
    model: str,
    text: str,
    outcome: Outcome,
    policy: PolicyConfig,
    prompt_tokens: int,
    markers: Markers,
) -> dict:
    reasoning, content = split_response(text, policy)
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "reasoning": reasoning,
                    "reasoning_content": reasoning,
                },
                "finish_reason": outcome.finish_reason,
            }
        ],
        "usage": usage(prompt_tokens, outcome, markers),
        "overthinking": overthinking_report(text, outcome, policy, markers),
    }


def completion_response(
    request_id: str,
    model: str,
    text: str,
    outcome: Outcome,
    policy: PolicyConfig,
    prompt_tokens: int,
    markers: Markers,
) -> dict:
    return {
        "id": request_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": outcome.finish_reason, "logprobs": None}],
        "usage": usage(prompt_tokens, outcome, markers),
        "overthinking": overthinking_report(text, outcome, policy, markers),
    }


class ThinkingStream:
    """Routes streamed text to `reasoning` until the end-of-thinking tag, to `content` after. A
    response opens its thinking with the start tag, or the prompt did (`opened`, QwQ's template)."""

    def __init__(self, policy: PolicyConfig, opened: bool = False):
        self.start, self.end = policy.think_start, policy.think_end
        self.mode = "reasoning" if opened else "undecided"
        self.buffer, self.started = "", {"reasoning": False, "content": False}

    def feed(self, text: str) -> list[tuple[str, str]]:
        """(field, text) deltas ready to send; text that may be the start of a tag is held back."""
        self.buffer += text
        out: list[tuple[str, str]] = []
        while self.buffer:
            if self.mode == "undecided":
                head = self.buffer.lstrip()
                if len(head) < len(self.start) and self.start.startswith(head):
                    break
                self.mode = "reasoning" if head.startswith(self.start) else "content"
                if self.mode == "reasoning":
                    self.buffer = head[len(self.start) :]
            elif self.mode == "reasoning":
                at = self.buffer.find(self.end)
                if at != -1:
                    out.append(("reasoning", self.buffer[:at]))
                    self.buffer, self.mode = self.buffer[at + len(self.end) :], "content"
                    continue
                ready = self.buffer[: max(0, len(self.buffer) - len(self.end) + 1)]
                out.append(("reasoning", ready))
                self.buffer = self.buffer[len(ready) :]
                break
            else:
                out.append(("content", self.buffer))
                self.buffer = ""
        return self._trimmed(out)

    def flush(self) -> list[tuple[str, str]]:
        rest, self.buffer = self.buffer, ""
        return self._trimmed([("content" if self.mode == "content" else "reasoning", rest)])

    def _trimmed(self, deltas: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Without the newlines that open each part (as the non-streamed response strips them)."""
        kept = []
        for field, text in deltas:
            if not self.started[field]:
                text = text.lstrip()
                self.started[field] = bool(text)
            if text:
                kept.append((field, text))
        return kept


def delta_of(field: str, text: str) -> dict:
    """A stream delta; thinking goes out under both names (`reasoning_content` for older clients)."""
    return {field: text, "reasoning_content": text} if field == "reasoning" else {field: text}


def chat_chunk(request_id: str, model: str, delta: dict, finish_reason: str | None = None, **extra) -> dict:
    return {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **extra,
    }


def completion_chunk(request_id: str, model: str, text: str, finish_reason: str | None = None, **extra) -> dict:
    return {
        "id": request_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}],
        **extra,
    }
