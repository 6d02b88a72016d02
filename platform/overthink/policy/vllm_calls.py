"""Policy calls in vLLM's terms, for the sync engine (sample) and the async one (serve)."""

from __future__ import annotations

from overthink.policy.core import Call, Reply, call_seed


def call_params(base, call: Call, seed: int | None, **changes):
    """The SamplingParams of one policy call. Output calls keep the request's own sampling
    settings (`base`: temperature, top_p, top_k, stop strings...) with this call's length, stop
    string and seed; probes are greedy, short and return their tokens' log-probabilities (a probe's
    confidence). Budgets are the policy's own, never vLLM's."""
    import msgspec
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    seed = None if seed is None else call_seed(seed, call.step)
    if call.purpose == "probe":
        return SamplingParams(
            n=1,
            temperature=0.0,
            max_tokens=call.max_tokens,
            seed=seed,
            stop=[call.stop] if call.stop else None,
            skip_special_tokens=True,
            logprobs=0,  # the chosen tokens' own: a probe's confidence
            output_kind=RequestOutputKind.FINAL_ONLY,
        )
    stop = [*base.stop, *([call.stop] if call.stop else [])]
    return msgspec.structs.replace(
        base,
        n=1,
        max_tokens=call.max_tokens,
        seed=seed,
        stop=stop,
        # a paragraph end (the policy's own stop string) stays in the response
        include_stop_str_in_output=bool(call.stop) or base.include_stop_str_in_output,
        output_text_buffer_length=0,  # recomputed from the stop strings
        thinking_token_budget=None,
        extra_args=None,
        **changes,
    )


def base_params(temperature: float, top_p: float, max_tokens: int):
    """A plain request's sampling settings (the sample stage's; the server takes vLLM's own
    conversion of the request)."""
    from vllm import SamplingParams

    return SamplingParams(n=1, temperature=temperature, top_p=top_p, max_tokens=max_tokens, skip_special_tokens=True)


def tokens_prompt(call: Call) -> dict:
    return {"prompt_token_ids": list(call.prompt)}


def reply_of(completion, call: Call) -> Reply:
    """A vLLM CompletionOutput as a Reply: `length`, `stop` (end of sequence, or a stop string of
    the request's) or `boundary` (the call's own stop string, which vLLM also reports as `stop`)."""
    reason = completion.finish_reason or "stop"
    if reason == "stop" and call.stop is not None and completion.stop_reason == call.stop:
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
