"""The one vLLM engine layer: the settings section sample (and so evaluate) and serve share, and
the one function that turns it into vLLM's engine arguments. The same arguments, as command-line
flags, start vLLM's own OpenAI server (the serve replica parses them with vLLM's own parser, and
the conformance test and the serving bench start the reference server with them), so every
engine is built the same way."""

from __future__ import annotations

import dataclasses
import json
import os

from pydantic import Field

from overthink.config import Section

# Defaults only (a user's own value wins). No HF_HUB_OFFLINE here: the driver downloads hub models
# before Ray starts and engines load that folder; offline mode is the tests' business.
VLLM_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_CONFIGURE_LOGGING": "0",
    "TOKENIZERS_PARALLELISM": "false",
}


class VLLMSettings(Section):
    """How a vLLM engine is built, the same in sample, evaluate and serve."""

    tensor_parallel_size: int = Field(
        1, ge=1, description="GPUs per engine (vLLM tensor parallelism), on one node when placement uses GPUs."
    )
    dtype: str = Field("auto", description="Weights dtype (auto, bfloat16, float32...).")
    max_model_len: int | None = Field(None, ge=1, description="Context length; null = the model's.")
    enforce_eager: bool | None = Field(
        None,
        description="Skip CUDA graph capture (faster start, slower steps); null = eager on CPU (vLLM captures "
        "no graphs there), graphs on GPUs.",
    )
    enable_chunked_prefill: bool | None = Field(
        None,
        description="Chunked prefill; null = on with GPUs, off on CPU (a chunked prefill rewinds a request's "
        "seeded generator, which CPU generators cannot do).",
    )
    enable_prefix_caching: bool | None = Field(
        None,
        description="Reuse the KV cache of shared prefixes (early-exit probes share the whole thinking); "
        "null = vLLM's default.",
    )
    cpu_threads: int | None = Field(
        None,
        ge=1,
        description="Compute threads of a CPU engine; null = all cores of its node (Ray would set 1 thread per "
        "reserved CPU, starving vllm-cpu).",
    )


def prepare_engine_process(settings: VLLMSettings) -> bool:
    """Environment of a process about to start an engine (vLLM's children inherit it); True when
    it has a GPU. Call before vLLM is imported."""
    for key, value in VLLM_ENV.items():
        os.environ.setdefault(key, value)
    import torch

    gpu = torch.cuda.is_available()
    if not gpu:  # Ray sets OMP_NUM_THREADS to an actor's reserved CPUs (1); a CPU engine wants the cores
        threads = settings.cpu_threads or os.cpu_count() or 1
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
    return gpu


def engine_args(settings: VLLMSettings, model_path: str, gpu: bool, thinking=None) -> dict:
    """vLLM EngineArgs keywords for this engine (what `vllm.LLM(**...)` and the server take).
    `thinking` (a PolicyConfig) names the model's thinking tags: for `<think>...</think>` vLLM's
    deepseek_r1 parser splits `reasoning` from `content` in served responses, and vLLM's own
    thinking budget (a request's `thinking_token_budget`, when a request reaches vLLM with one)
    closes the thinking with the policy's `close_text`, as overthink's budget does."""
    args = {
        "model": model_path,
        "dtype": settings.dtype,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "enforce_eager": settings.enforce_eager if settings.enforce_eager is not None else not gpu,
        "enable_chunked_prefill": (
            settings.enable_chunked_prefill if settings.enable_chunked_prefill is not None else gpu
        ),
        "seed": 0,
        "disable_log_stats": True,
    }
    if settings.max_model_len is not None:
        args["max_model_len"] = settings.max_model_len
    if settings.enable_prefix_caching is not None:
        args["enable_prefix_caching"] = settings.enable_prefix_caching
    if settings.tensor_parallel_size > 1:  # worker processes on this node, also inside a Ray actor
        args["distributed_executor_backend"] = "mp"
    if thinking is not None and (thinking.think_start, thinking.think_end) == ("<think>", "</think>"):
        from vllm.config import ReasoningConfig

        args["reasoning_parser"] = "deepseek_r1"
        args["reasoning_config"] = ReasoningConfig(
            reasoning_parser="deepseek_r1",
            reasoning_start_str=thinking.think_start,
            reasoning_end_str=thinking.close_text,
        )
    return args


def server_flags(args: dict, served_name: str | None = None) -> list[str]:
    """The same arguments as flags of vLLM's OpenAI server (`python -m
    vllm.entrypoints.openai.api_server ...`; the `vllm serve` CLI is broken in vllm-cpu)."""
    flags = []
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if key == "disable_log_stats":  # a plain switch, no --no- form
            flags += [flag] if value else []
        elif isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif dataclasses.is_dataclass(value):  # a vLLM config section: JSON of its own fields
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
            flags += [flag, json.dumps(fields)]
        else:
            flags += [flag, str(value)]
    return flags + (["--served-model-name", served_name] if served_name else [])
