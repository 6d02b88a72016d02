"""Policy calls in vLLM's terms, for the sync engine (sample) and the async one (serve)."""

from __future__ import annotations

from overthink.policy.config import PolicyConfig
from overthink.policy.core import Call, Reply, call_seed


def reasoning_config(policy: PolicyConfig):
    """vLLM's thinking-budget settings: a budget that runs out forces `close_text`. The deepseek_r1
    parser tells vLLM where thinking ends on its own for `</think>` models (R1, QwQ, the organism)."""
    from vllm.config import ReasoningConfig

    parser = "deepseek_r1" if policy.think_end == "</think>" else ""
    return ReasoningConfig(
        reasoning_parser=parser, reasoning_start_str=policy.think_start, reasoning_end_str=policy.close_text
    )


def sampling_params(call: Call, temperature: float, top_p: float, seed: int | None, **extra):
    from vllm import SamplingParams

    return SamplingParams(
        n=1,
        temperature=0.0 if call.greedy else temperature,
        top_p=1.0 if call.greedy else top_p,
        max_tokens=call.max_tokens,
        seed=None if seed is None else call_seed(seed, call.step),
        stop=[call.stop] if call.stop else None,
        include_stop_str_in_output=call.purpose == "output",  # a paragraph end stays in the response
        thinking_token_budget=call.thinking_budget,
        skip_special_tokens=True,
        logprobs=0 if call.purpose == "probe" else None,  # the chosen tokens' own: a probe's confidence
        **extra,
    )


def tokens_prompt(call: Call) -> dict:
    return {"prompt_token_ids": list(call.prompt)}


def reply_of(completion) -> Reply:
    """A vLLM CompletionOutput as a Reply: `length`, `stop` (end of sequence) or `boundary` (the
    call's stop string, which vLLM also reports as `stop`, with the string as stop_reason)."""
    reason = completion.finish_reason or "stop"
    if reason == "stop" and isinstance(completion.stop_reason, str):
        reason = "boundary"
    finish = "length" if reason == "length" else reason
    return Reply(tuple(completion.token_ids), completion.text, finish, confidence_of(completion))


def confidence_of(completion) -> float | None:
    """Mean probability of the generated tokens (greedy: each the most likely), when vLLM returned
    their log-probabilities."""
    import math

    if not completion.logprobs or not completion.token_ids:
        return None
    chosen = [step[token].logprob for token, step in zip(completion.token_ids, completion.logprobs)]
    return sum(math.exp(logprob) for logprob in chosen) / len(chosen)
