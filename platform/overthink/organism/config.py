"""Config of the model organism: its corpus, tokenizer, architecture and training."""

from __future__ import annotations

from pydantic import Field, field_validator

from overthink.config import Section


class CorpusConfig(Section):
    seed: int = Field(0, description="Seed of the training corpus (held-out problems use other seeds).")
    examples: int = Field(24000, ge=100, description="Training responses to generate.")
    max_operand: int = Field(99, ge=10, le=999, description="Largest operand of arithmetic problems.")
    kinds: dict[str, float] = Field(
        {"add": 0.25, "sub": 0.25, "mul": 0.15, "word": 0.35},
        description="Problem kinds and their weights: add, sub, mul (2-digit x 1-digit), word (two-step).",
    )
    rounds: list[float] = Field(
        [0.06, 0.24, 0.32, 0.2, 0.11, 0.07],
        description="Probability of 1, 2, ... solution rounds per response.",
    )
    styles: dict[str, float] = Field(
        {"recompute": 0.1, "inverse_check": 0.35, "alternative": 0.25, "reflect": 0.3},
        description="Weights of the styles of rounds after the first.",
    )
    wrong_first: float = Field(
        0.04, ge=0, le=1, description="Share of responses whose first round is wrong and later corrected."
    )

    @field_validator("kinds", "styles")
    @classmethod
    def _positive_weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        return value

    @field_validator("rounds")
    @classmethod
    def _round_distribution(cls, value: list[float]) -> list[float]:
        if not value or any(p < 0 for p in value) or sum(value) <= 0:
            raise ValueError("round probabilities must be non-negative with a positive sum")
        return value


class OrganismModelConfig(Section):
    vocab_size: int = Field(512, ge=300, description="BPE vocabulary size of the organism's tokenizer.")
    hidden_size: int = Field(128, ge=32, description="Hidden size.")
    layers: int = Field(2, ge=1, description="Transformer layers.")
    heads: int = Field(2, ge=1, description="Attention heads; head size = hidden_size / heads.")
    intermediate_size: int = Field(384, ge=32, description="MLP width.")
    max_positions: int = Field(1024, ge=128, description="Longest sequence (prompt + response) in tokens.")

    @field_validator("heads")
    @classmethod
    def _vllm_head_size(cls, heads: int, info) -> int:
        hidden = info.data.get("hidden_size", 128)
        supported = {32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512}
        if hidden % heads or hidden // heads not in supported:
            raise ValueError(
                f"head size hidden_size/heads = {hidden}/{heads} must be one of {sorted(supported)} "
                "(vLLM's CPU attention supports only these)"
            )
        return heads


class OrganismTrainConfig(Section):
    steps: int = Field(1600, ge=1, description="Optimizer steps.")
    bf16: bool | None = Field(
        None,
        description="bf16 autocast for the forward pass; null = where the CPU computes bf16 natively (AVX512-BF16 "
        "or AMX: 1.8x faster), fp32 elsewhere (emulated bf16 is ~6x slower). Part of the recipe's fingerprint.",
    )
    batch_size: int = Field(16, ge=1, description="Packed rows per step.")
    row_length: int = Field(512, ge=64, description="Tokens per packed row (examples are concatenated, no padding).")
    learning_rate: float = Field(3e-3, gt=0, description="Peak AdamW learning rate (cosine decay, linear warm-up).")
    warmup_steps: int = Field(100, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; null = all cores.")
    seed: int = Field(0, description="Seed of initialization and batching.")


class OrganismConfig(Section):
    corpus: CorpusConfig = Field(default_factory=CorpusConfig, description="The synthetic o1-style corpus.")
    model: OrganismModelConfig = Field(default_factory=OrganismModelConfig, description="Tiny Qwen2 architecture.")
    train: OrganismTrainConfig = Field(default_factory=OrganismTrainConfig, description="Training from scratch.")
    system_prompt: str = Field(
        "You are a careful math assistant. Think step by step, then give the final answer in \\boxed{}.",
        description="System prompt baked into the chat template's default and the training data.",
    )
    cache_dir: str | None = Field(
        None,
        description="Where built organisms are cached, by recipe fingerprint; null = $OVERTHINK_CACHE/organism "
        "(default ~/.cache/overthink/organism). On a cluster OVERTHINK_CACHE is on shared storage.",
    )
    force: bool = Field(False, description="Rebuild even if a cached organism with this config exists.")
