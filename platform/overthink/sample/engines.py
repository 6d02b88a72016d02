"""Generating engines behind one interface: `generate(prompts, seeds) -> [Generation]`.

- vllm: one `vllm.LLM` per engine (tensor parallel inside it); per-request seeds.
- transformers: `generate` one request at a time, seeded (the slow baseline).
- openai: any OpenAI-compatible completions endpoint (API models, our own server)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from overthink.policy.config import PolicyConfig
from overthink.policy.core import Call, Markers, Reply, drive_batch, run_policy
from overthink.sample.config import EngineConfig, SamplingConfig

# Defaults only (a user's own value wins). No HF_HUB_OFFLINE here: the driver downloads hub models
# before Ray starts and engines load that folder; offline mode is the tests' business.
VLLM_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_CONFIGURE_LOGGING": "0",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclass(frozen=True)
class Generation:
    text: str
    num_tokens: int
    finish_reason: str  # "stop" or "length"
    stopped_at: int | None = None  # a thinking policy closed the thinking after this many tokens
    probe_tokens: int = 0  # tokens the policy's probes generated


def use_cpu_threads(engine: EngineConfig) -> None:
    """Ray sets OMP_NUM_THREADS to an actor's reserved CPUs (1); a CPU engine wants the cores."""
    import torch

    if not torch.cuda.is_available():
        threads = engine.cpu_threads or os.cpu_count() or 1
        os.environ["OMP_NUM_THREADS"] = str(threads)  # inherited by vLLM's engine-core process
        torch.set_num_threads(threads)


class VLLMEngine:
    def __init__(self, engine: EngineConfig, model_path: str, policy: PolicyConfig | None = None):
        for key, value in VLLM_ENV.items():
            os.environ.setdefault(key, value)
        use_cpu_threads(engine)
        import torch
        from vllm import LLM

        from overthink.policy.vllm_calls import reasoning_config

        self.policy = policy or PolicyConfig()
        budget = {"reasoning_config": reasoning_config(self.policy)} if self.policy.kind == "budget" else {}
        chunked = engine.chunked_prefill if engine.chunked_prefill is not None else torch.cuda.is_available()
        self.llm = LLM(
            enable_chunked_prefill=chunked,
            model=model_path,
            tensor_parallel_size=engine.tensor_parallel_size,
            distributed_executor_backend="mp" if engine.tensor_parallel_size > 1 else None,
            dtype=engine.dtype,
            max_model_len=engine.max_model_len,
            enforce_eager=engine.enforce_eager,
            seed=0,
            **budget,
        )
        self.markers = Markers.from_tokenizer(self.llm.get_tokenizer(), self.policy)

    def generate(self, prompts: list[str], seeds: list[int], sampling: SamplingConfig) -> list[Generation]:
        if self.policy.kind != "none":
            return self.generate_with_policy(prompts, seeds, sampling)
        from vllm import SamplingParams

        params = [
            SamplingParams(
                n=1,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=seed,
                skip_special_tokens=True,
            )
            for seed in seeds
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [
            Generation(o.outputs[0].text, len(o.outputs[0].token_ids), o.outputs[0].finish_reason or "stop")
            for o in outputs
        ]

    def generate_with_policy(self, prompts: list[str], seeds: list[int], sampling: SamplingConfig) -> list[Generation]:
        """Every request as a policy generator; each round's calls go to vLLM as one batch."""
        from overthink.policy.vllm_calls import reply_of, sampling_params, tokens_prompt

        tokenizer = self.llm.get_tokenizer()
        requests = [
            run_policy(self.policy, tokenizer.encode(p, add_special_tokens=False), sampling.max_tokens, self.markers)
            for p in prompts
        ]

        def execute(calls: list[tuple[int, Call]]) -> list[Reply]:
            params = [sampling_params(c, sampling.temperature, sampling.top_p, seeds[i]) for i, c in calls]
            outputs = self.llm.generate([tokens_prompt(c) for _, c in calls], params, use_tqdm=False)
            return [reply_of(o.outputs[0]) for o in outputs]

        return [
            Generation(
                tokenizer.decode(o.token_ids, skip_special_tokens=True),
                len(o.token_ids),
                o.finish_reason,
                o.stopped_at,
                o.probe_tokens,
            )
            for o in drive_batch(requests, execute)
        ]


def watch_engine_processes(on_death: Callable[[int], None], poll_s: float = 1.0) -> int:
    """Call `on_death(pid)` from a daemon thread once a vLLM process below this one dies.

    vLLM runs its engine core (and tensor-parallel workers) in child processes; when one is killed
    (out of memory, crash) a blocked `LLM.generate` waits forever instead of raising. Returns how
    many processes are watched (0: an in-process engine, nothing to watch)."""
    import psutil

    watched = [p for p in psutil.Process().children(recursive=True) if _is_vllm_process(p)]

    def dead(process) -> bool:
        try:
            return process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    def watch() -> None:
        while True:
            for process in watched:
                if dead(process):
                    on_death(process.pid)
                    return
            time.sleep(poll_s)

    if watched:
        threading.Thread(target=watch, name="vllm-engine-watch", daemon=True).start()
    return len(watched)


def _is_vllm_process(process) -> bool:
    """vLLM titles its processes VLLM::EngineCore, VLLM::Worker_TP0, ..."""
    try:
        return process.name().startswith("VLLM::") or "VLLM::" in " ".join(process.cmdline())
    except Exception:  # gone already, or not ours to read
        return False


class TransformersEngine:
    def __init__(self, engine: EngineConfig, model_path: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        use_cpu_threads(engine)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        dtype = "auto" if engine.dtype == "auto" else getattr(torch, engine.dtype)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).eval()

    def generate(self, prompts: list[str], seeds: list[int], sampling: SamplingConfig) -> list[Generation]:
        import torch
        from transformers import set_seed

        out = []
        for prompt, seed in zip(prompts, seeds):
            set_seed(seed)
            inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                ids = self.model.generate(
                    **inputs,
                    do_sample=sampling.temperature > 0,
                    temperature=sampling.temperature or None,
                    top_p=sampling.top_p,
                    max_new_tokens=sampling.max_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                )[0, inputs["input_ids"].shape[1] :]
            ended = len(ids) > 0 and int(ids[-1]) in _eos_ids(self.model, self.tokenizer)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            out.append(Generation(text, len(ids), "stop" if ended or len(ids) < sampling.max_tokens else "length"))
        return out


def _eos_ids(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
    return ids | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())


class OpenAIEngine:
    def __init__(self, engine: EngineConfig, model_path: str):
        from openai import OpenAI

        self.model = model_path
        self.client = OpenAI(base_url=engine.base_url, api_key=os.environ.get(engine.api_key_env) or "EMPTY")

    def generate(self, prompts: list[str], seeds: list[int], sampling: SamplingConfig) -> list[Generation]:
        out = []
        for prompt, seed in zip(prompts, seeds):
            reply = self.client.completions.create(
                model=self.model,
                prompt=prompt,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=seed,
            )
            choice = reply.choices[0]
            tokens = reply.usage.completion_tokens if reply.usage else 0
            out.append(Generation(choice.text, tokens, "length" if choice.finish_reason == "length" else "stop"))
        return out


ENGINES = {"vllm": VLLMEngine, "transformers": TransformersEngine, "openai": OpenAIEngine}


def make_engine(engine: EngineConfig, model_path: str, policy: PolicyConfig | None = None):
    if engine.backend == "vllm":
        return VLLMEngine(engine, model_path, policy)
    return ENGINES[engine.backend](engine, model_path)
