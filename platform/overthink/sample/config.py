"""Config of the sample stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from overthink.config import Section, Settings, wiring_of
from overthink.policy.config import PolicyConfig
from overthink.problems.config import ProblemSetConfig
from overthink.runtime.config import Runtime
from overthink.runtime.placement import Placement
from overthink.runtime.vllm_engine import VLLMSettings

# The paper's QwQ setup: QwQ's own system prompt; the answer format asked for in the user turn.
QWQ_SYSTEM_PROMPT = (
    "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should think step-by-step."
)


BLOCKS_PER_ENGINE = 4  # work-stealing granularity: a slow engine delays the end by ~1/4 of its share
MAX_BLOCK_ROWS = 256  # a block is also the unit of resumption: at most this much work is redone


class PromptConfig(Section):
    system_prompt: str | None = Field(QWQ_SYSTEM_PROMPT, description="System prompt; null = none.")
    answer_instruction: str = Field(
        "Please reason step by step, and put your final answer within \\boxed{}.",
        description="Appended to each problem (multiple-choice problems get their lettered choices first).",
    )


class SamplingConfig(Section):
    n: int = Field(4, ge=1, description="Responses per problem, each with its own seed.")
    temperature: float = Field(1.0, ge=0, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int = Field(
        1024, ge=1, description="Generated tokens per response at most (finish reason `length` beyond)."
    )
    seed: int = Field(0, description="Base seed; sample k of problem p uses a seed derived from (seed, p, k).")


class EngineConfig(VLLMSettings):
    """The generating engine: vLLM's settings (shared with serve), the backend and the actors."""

    backend: Literal["vllm", "transformers", "openai"] = Field("vllm", description="Engine behind every actor.")
    batch_size: int = Field(64, ge=1, description="Requests per engine call.")
    max_restarts: int = Field(
        3,
        ge=0,
        description="Times an engine actor is restarted after it or its vLLM engine process dies (out-of-memory "
        "kill, crash); its unfinished blocks run again on the new one. Beyond this the stage fails.",
    )
    base_url: str = Field("http://127.0.0.1:8000/v1", description="backend=openai: the endpoint.")
    api_key_env: str = Field("OPENAI_API_KEY", description="backend=openai: env var with the API key (may be unset).")


class SampleSettings(Settings):
    """What is sampled and how."""

    problems: list[ProblemSetConfig] = Field(
        default_factory=list, description="Problem sets to sample (see `problems`)."
    )
    prompt: PromptConfig = Field(default_factory=PromptConfig, description="Prompt construction.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="Sampling parameters.")
    engine: EngineConfig = Field(default_factory=EngineConfig, description="The generating engine.")
    placement: Placement = Field(
        default_factory=Placement,
        description="Where the engine actors run and how many (count = engines; GPUs per engine = "
        "engine.tensor_parallel_size).",
    )
    policy: PolicyConfig = Field(
        default_factory=PolicyConfig,
        description="Thinking control at generation time, as the server applies it (backend=vllm only).",
    )
    requests_per_shard: int | None = Field(
        None,
        ge=1,
        description="Requests per Ray Data block: each block goes whole to one engine actor; null = enough blocks "
        f"for {BLOCKS_PER_ENGINE} per engine (at most {MAX_BLOCK_ROWS} requests each), so every engine stays busy.",
    )

    @model_validator(mode="after")
    def _openai_holds_no_gpu(self):
        if self.engine.backend == "openai" and self.placement.device == "gpu":
            raise ValueError("placement.device=gpu: backend=openai calls a server and holds no GPU; use auto or cpu")
        return self

    @model_validator(mode="after")
    def _policy_engine(self):
        if self.policy.kind != "none" and self.engine.backend != "vllm":
            raise ValueError(f"policy.kind={self.policy.kind} needs engine.backend=vllm (got {self.engine.backend})")
        return self


class SampleConfig(Runtime, SampleSettings):
    """The sample stage: settings plus where the model comes from and the samples go."""

    model: str = Field(
        "organism", description="Model folder, hub id, `organism` (the cached model organism) or MLflow model URI."
    )
    output_dir: str | None = Field(None, description="Folder for samples.parquet.")


wiring_of(SampleConfig, SampleSettings)
