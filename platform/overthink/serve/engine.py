"""One replica's engine: vLLM's OpenAI serving layer (its request models, chat template, reasoning
parser, response and stream formats: the same objects vLLM's own server builds, from the same
flags) over an AsyncLLM whose `generate` applies each request's thinking policy. No Ray here: the
Serve deployment (app.py) holds one of these.

A request without a policy goes to vLLM unchanged, so the server answers exactly as vLLM's own
(tests/serve/test_conformance.py checks it field by field). A request with a policy becomes the
policy's engine calls (overthink.policy.core); their outputs reach vLLM's serving code as one
generation, so reasoning, content, usage and stream chunks come out in vLLM's own format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from vllm.outputs import CompletionOutput, RequestOutput
from vllm.sampling_params import RequestOutputKind
from vllm.v1.engine.async_llm import AsyncLLM

from overthink.policy.config import PolicyConfig
from overthink.policy.core import Call, Markers, Outcome, Reply, run_policy
from overthink.serve.protocol import POLICY_KEY


@dataclass
class Record:
    """What one choice generated, for its `overthinking` report."""

    policy: PolicyConfig
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    outcome: Outcome | None = None  # a policy's own account (probes, where it stopped)


class PolicyLLM(AsyncLLM):
    """AsyncLLM whose `generate` runs the request's thinking policy (SamplingParams.extra_args
    carries it) and records each choice for its report (`records[request_id][index]`)."""

    markers: Markers
    records: dict[str, dict[int, Record]]

    def attach(self, markers: Markers) -> None:
        self.markers, self.records = markers, {}

    async def generate(self, prompt, sampling_params, request_id, **kwargs) -> AsyncIterator[RequestOutput]:
        extra = sampling_params.extra_args or {}
        policy = PolicyConfig.model_validate_json(extra.pop(POLICY_KEY)) if POLICY_KEY in extra else PolicyConfig()
        sampling_params.extra_args = extra or None
        records = self.records.setdefault(request_id, {})
        if policy.kind == "none":
            delta = sampling_params.output_kind == RequestOutputKind.DELTA
            async for output in super().generate(prompt, sampling_params, request_id, **kwargs):
                for piece in output.outputs:
                    record = records.setdefault(piece.index, Record(policy))
                    record.token_ids = [*record.token_ids, *piece.token_ids] if delta else list(piece.token_ids)
                    record.text = record.text + piece.text if delta else piece.text
                yield output
            return
        prompt_ids = list(prompt["prompt_token_ids"])
        async for output in self._policy_outputs(prompt_ids, sampling_params, request_id, policy, records, kwargs):
            yield output

    async def _policy_outputs(self, prompt_ids, base, request_id, policy, records, kwargs):
        """The n choices' policy runs as the RequestOutputs of one generation (deltas when
        streaming, else one final output holding every choice)."""
        n = base.n or 1
        choices = [self._choice(i, prompt_ids, base, policy, request_id, records, kwargs) for i in range(n)]
        final = base.output_kind != RequestOutputKind.DELTA
        done: dict[int, CompletionOutput] = {}
        async for piece in merge(choices):
            if piece.finish_reason is not None:
                done[piece.index] = piece
            if final:
                continue
            yield RequestOutput(request_id, None, prompt_ids, None, [piece], finished=len(done) == n)
        if final:
            yield RequestOutput(request_id, None, prompt_ids, None, [done[i] for i in range(n)], finished=True)

    async def _choice(self, index, prompt_ids, base, policy, request_id, records, kwargs):
        """One choice: its policy's calls, streamed as CompletionOutput deltas (inserted tokens
        too) and a last one with the finish reason; or, not streaming, one whole output."""
        from overthink.policy.vllm_calls import call_params, confidence_of, tokens_prompt

        stream = base.output_kind == RequestOutputKind.DELTA
        seed = None if base.seed is None else base.seed + index  # vLLM's own seeds for n > 1
        request = run_policy(policy, prompt_ids, base.max_tokens, self.markers)
        call: Call = next(request)
        parts: list[str] = []  # the response text: vLLM's text of each call, inserted tokens decoded
        sent, stop_reason = 0, None  # response tokens already out; the last output call's stop reason
        while True:
            output = call.purpose == "output"
            inserted = call.prompt[len(prompt_ids) + sent :] if output else ()
            if inserted:
                sent += len(inserted)
                parts.append(self.decode(inserted, base))
                if stream:
                    for piece in self.token_by_token(index, inserted, base):
                        yield piece
            kind = RequestOutputKind.DELTA if stream and output else RequestOutputKind.FINAL_ONLY
            params = call_params(base, call, seed, output_kind=kind) if output else call_params(base, call, seed)
            tokens, text, last, held = [], "", None, None  # held: the newest streamed piece, sent one late
            call_id = f"{request_id}-{index}-{call.step}"
            async for out in super().generate(tokens_prompt(call), params, call_id, **kwargs):
                piece = out.outputs[0]
                tokens.extend(piece.token_ids)
                text += piece.text
                last = piece
                if stream and output and (piece.token_ids or piece.text):
                    if held is not None:
                        yield held
                    held = piece_of(index, piece.text, piece.token_ids)
            if output:
                sent += len(tokens)
                parts.append(text)
                stop_reason = last.stop_reason if last is not None else None
            reply = reply_from(tokens, text, last, call, confidence_of(last) if last is not None else None)
            try:
                call = request.send(reply)
            except StopIteration as finished:
                outcome: Outcome = finished.value
                rest = outcome.token_ids[sent:]  # a closing text the policy added last
                if rest:
                    parts.append(self.decode(rest, base))
                text = "".join(parts)
                records[index] = Record(policy, list(outcome.token_ids), text, outcome)
                reason = outcome.finish_reason
                if not stream:
                    yield piece_of(index, text, outcome.token_ids, reason, stop_reason)
                    return
                # the last piece carries the finish reason, as vLLM's last output does
                pieces = [held, *self.token_by_token(index, rest, base)]
                pieces = [piece for piece in pieces if piece is not None] or [piece_of(index, "", [])]
                for piece in pieces[:-1]:
                    yield piece
                yield piece_of(index, pieces[-1].text, pieces[-1].token_ids, reason, stop_reason)
                return
            if held is not None:
                yield held

    def token_by_token(self, index: int, tokens, params):
        """Tokens the policy inserts, streamed one per delta as vLLM streams the tokens it forces
        (a token that ends inside a character waits for the next)."""
        pending, shown = [], ""
        for position, token in enumerate(tokens):
            pending.append(token)
            text = self.decode(tokens[: position + 1], params)
            if text.endswith("\ufffd") and position + 1 < len(tokens):
                continue
            yield piece_of(index, text[len(shown) :], pending)
            pending, shown = [], text

    def decode(self, tokens, params) -> str:
        return self.get_tokenizer().decode(list(tokens), skip_special_tokens=params.skip_special_tokens)


def piece_of(index: int, text: str, tokens, finish_reason: str | None = None, stop_reason=None) -> CompletionOutput:
    return CompletionOutput(index, text, list(tokens), None, None, finish_reason=finish_reason, stop_reason=stop_reason)


def reply_from(tokens: list[int], text: str, last, call: Call, confidence: float | None) -> Reply:
    """A call's whole output (its pieces gathered) as the policy's Reply."""
    reason = (last.finish_reason if last is not None else None) or "stop"
    if reason == "stop" and call.stop is not None and last is not None and last.stop_reason == call.stop:
        reason = "boundary"
    return Reply(tuple(tokens), text, reason, confidence)


async def merge(generators: list) -> AsyncIterator:
    """Items of several async generators as they come (one generator: just its items)."""
    if len(generators) == 1:
        async for item in generators[0]:
            yield item
        return
    queue: asyncio.Queue = asyncio.Queue()
    finished = object()

    async def drain(generator):
        try:
            async for item in generator:
                await queue.put(item)
        except BaseException as err:  # the consumer re-raises it
            await queue.put(err)
        finally:
            await queue.put(finished)

    tasks = [asyncio.ensure_future(drain(g)) for g in generators]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is finished:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()


def policy_xargs(body: dict, policy: PolicyConfig) -> dict:
    """The request body with its policy for `PolicyLLM.generate` in `vllm_xargs` (which vLLM
    passes on as SamplingParams.extra_args)."""
    return {**body, "vllm_xargs": {**(body.get("vllm_xargs") or {}), POLICY_KEY: json.dumps(policy.model_dump())}}


@dataclass
class Serving:
    """vLLM's serving objects over one PolicyLLM, as vLLM's own server builds them."""

    llm: PolicyLLM
    chat: object  # vllm OpenAIServingChat
    completion: object  # vllm OpenAIServingCompletion
    models: object  # vllm OpenAIServingModels

    def shutdown(self) -> None:
        self.llm.shutdown()


async def start_serving(flags: list[str], policy: PolicyConfig) -> Serving:
    """Parse vLLM's server flags with vLLM's own parser and build what its server builds."""
    from starlette.datastructures import State
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.launchers.api_server.app_state import init_app_state
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.usage.usage_lib import UsageContext
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    args = make_arg_parser(FlexibleArgumentParser()).parse_args(flags)
    engine_args = AsyncEngineArgs.from_cli_args(args)
    config = engine_args.create_engine_config(usage_context=UsageContext.OPENAI_API_SERVER)
    # The engine takes seconds to minutes to start: off the event loop, which keeps answering
    # (a replica restarting its engine answers 503 meanwhile); its loop tasks start at first use.
    llm = await asyncio.to_thread(
        PolicyLLM.from_vllm_config,
        vllm_config=config,
        usage_context=UsageContext.OPENAI_API_SERVER,
        enable_log_requests=engine_args.enable_log_requests,
        disable_log_stats=engine_args.disable_log_stats,
    )
    llm.attach(Markers.from_tokenizer(llm.get_tokenizer(), policy))
    state = State()
    await init_app_state(llm, state, args, supported_tasks=await llm.get_supported_tasks())
    return Serving(llm, state.openai_serving_chat, state.openai_serving_completion, state.openai_serving_models)
