"""Generating engines behind one interface: `generate(prompts, seeds) -> [Generation]`.

- vllm: one `vllm.LLM` per engine (tensor parallel inside it), built by the one engine layer
  (`overthink.runtime.vllm_engine`, as the server's); per-request seeds.
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
from overthink.runtime.reaper import engine_processes, reap_with_owner
from overthink.runtime.vllm_engine import VLLM_ENV, engine_args, prepare_engine_process
from overthink.sample.config import EngineConfig, SamplingConfig

__all__ = ["VLLM_ENV", "Generation", "make_engine", "watch_engine_processes"]


@dataclass(frozen=True)
class Generation:
    text: str
    num_tokens: int
    finish_reason: str  # "stop" or "length"
    stopped_at: int | None = None  # a thinking policy closed the thinking after this many tokens
    probe_tokens: int = 0  # tokens the policy's probes generated


class VLLMEngine:
    def __init__(self, engine: EngineConfig, model_path: str, policy: PolicyConfig | None = None):
        gpu = prepare_engine_process(engine)
        from vllm import LLM

        self.policy = policy or PolicyConfig()
        self.reaper = reap_with_owner()  # the engine's processes die with this one, however it ends
        self.llm = LLM(**engine_args(engine, model_path, gpu, self.policy))
        self.markers = Markers.from_tokenizer(self.llm.get_tokenizer(), self.policy)

    def generate(self, prompts: list[str], seeds: list[int], sampling: SamplingConfig) -> list[Generation]:
        """Every request as a policy generator (one call each without a policy); each round's
        calls go to vLLM as one batch."""
        from overthink.policy.vllm_calls import base_params, call_params, reply_of, tokens_prompt

        tokenizer = self.llm.get_tokenizer()
        base = base_params(sampling.temperature, sampling.top_p, sampling.max_tokens)
        requests = [
            run_policy(self.policy, tokenizer.encode(p, add_special_tokens=False), sampling.max_tokens, self.markers)
            for p in prompts
        ]

        def execute(calls: list[tuple[int, Call]]) -> list[Reply]:
            params = [call_params(base, c, seeds[i]) for i, c in calls]
            outputs = self.llm.generate([tokens_prompt(c) for _, c in calls], params, use_tqdm=False)
            return [reply_of(o.outputs[0], c) for o, (_, c) in zip(outputs, calls)]

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

    watched = engine_processes()

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


class TransformersEngine:
    def __init__(self, engine: EngineConfig, model_path: str):
        prepare_engine_process(engine)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

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
