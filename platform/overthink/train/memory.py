"""Pre-flight memory plan of one preference-training step on one GPU, before any worker starts.

Terms (bytes; P = parameters, N = data-parallel workers, S = 2 x per_device_batch_size sequences
of max_length tokens: chosen and rejected go through the model in one forward):
- model states, mixed-precision Adam (ZeRO paper): bf16 weights 2P, bf16 grads 2P, fp32 master
  weights + 2 moments 12P. DDP keeps all 16P per GPU; ZeRO-2 shards grads and optimizer (2P +
  14P/N); ZeRO-3 shards all (16P/N); optimizer offload leaves 4P/N on the GPU; full offload keeps
  only the layers being computed (two layers' weights, gathered and prefetched). LoRA: frozen
  bf16 base 2P plus 16 bytes per adapter parameter. fp32 training (bf16 off) doubles weights and
  grads.
- reference model (DPO/RPO unless its log-probs are precomputed): bf16 weights, sharded by ZeRO-3.
- activations: with gradient checkpointing each layer keeps its input (S x h x 2 bytes), plus one
  layer recomputed in full during backward; without it every layer keeps everything. A decoder
  layer holds ~(7h + 4i) bf16 values per token (norms, q/k/v/o inputs, residuals, gate/up/act/down
  of the gated MLP; FlashAttention/SDPA keeps no s x s scores).
- logits: S x vocab in bf16 from the LM head plus their fp32 log-softmax (6 bytes per entry);
  for Qwen's 152k vocabulary at 16k tokens this is the largest single term.
- overhead: CUDA context, NCCL buffers and allocator fragmentation (a fixed allowance).

An estimate, not a measurement: it is for refusing plans that cannot fit and choosing among
those that can, and is calibrated to the published breakdown for QwQ-32B (docs/stages/train.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GB = 1e9
OVERHEAD_GB = 5.0


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    tied_embeddings: bool

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        return cls(
            hidden=config["hidden_size"],
            layers=config["num_hidden_layers"],
            intermediate=config["intermediate_size"],
            vocab=config["vocab_size"],
            heads=config["num_attention_heads"],
            kv_heads=config.get("num_key_value_heads") or config["num_attention_heads"],
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        )

    @classmethod
    def from_folder(cls, folder: str | Path) -> ModelShape:
        return cls.from_config(json.loads((Path(folder) / "config.json").read_text()))

    @property
    def layer_parameters(self) -> int:
        """One Qwen2/Llama decoder layer: q, o (h x h), k, v (h x kv), q/k/v biases, gated MLP, 2 norms."""
        h, kv = self.hidden, self.hidden // self.heads * self.kv_heads
        return 2 * h * h + 2 * h * kv + (h + 2 * kv) + 3 * h * self.intermediate + 2 * h

    @property
    def parameters(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        return embeddings + self.layers * self.layer_parameters + self.hidden

    def lora_parameters(self, rank: int) -> int:
        """LoRA on every linear of every layer (peft's `all-linear`): r x (in + out) each."""
        h, kv, i = self.hidden, self.hidden // self.heads * self.kv_heads, self.intermediate
        shapes = [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]
        return self.layers * sum(rank * (a + b) for a, b in shapes)


@dataclass(frozen=True)
class Plan:
    terms: dict[str, float]  # GB per GPU
    limit_gb: float

    @property
    def total_gb(self) -> float:
        return sum(self.terms.values())

    @property
    def fits(self) -> bool:
        return self.total_gb <= self.limit_gb

    def table(self, title: str) -> str:
        width = max(len(name) for name in [*self.terms, "total per GPU"])
        rows = [title, *(f"  {name:<{width}} {gb:7.1f} GB" for name, gb in self.terms.items())]
        rows.append(f"  {'total per GPU':<{width}} {self.total_gb:7.1f} GB of {self.limit_gb:.0f} GB")
        return "\n".join(rows)


def model_states_gb(shape: ModelShape, deepspeed: str, workers: int, bf16: bool, lora_rank: int | None) -> float:
    p = shape.parameters
    weight = 2 if bf16 else 4
    if lora_rank:
        return (2 * p + 16 * shape.lora_parameters(lora_rank) / (workers if deepspeed == "zero2" else 1)) / GB
    weights_grads, optimizer = 2 * weight * p, 12 * p
    if deepspeed == "zero2":
        return (weight * p + (weight * p + optimizer) / workers) / GB
    if deepspeed == "zero3":
        return (weights_grads + optimizer) / workers / GB
    if deepspeed == "zero3_offload_optimizer":
        return weights_grads / workers / GB
    if deepspeed == "zero3_offload":
        return 2 * weight * shape.layer_parameters / GB
    return (weights_grads + optimizer) / GB  # DDP (or your own JSON: planned as unsharded)


def plan_step(settings, shape: ModelShape, limit_gb: float) -> Plan:
    """The plan of `settings` (a TrainSettings) on a model of `shape`."""
    workers = settings.placement.count
    lora_rank = settings.lora.r if settings.lora.enabled else None
    tokens = 2 * settings.per_device_batch_size * settings.max_length
    h, layers = shape.hidden, shape.layers
    per_layer = (7 * h + 4 * shape.intermediate) * 2 * tokens
    terms = {
        f"model states ({settings.deepspeed}, {workers} workers)": model_states_gb(
            shape, settings.deepspeed, workers, settings.bf16, lora_rank
        ),
    }
    if settings.loss in ("dpo", "rpo") and not settings.precompute_ref_log_probs:
        shard = workers if settings.deepspeed.startswith("zero3") else 1
        terms["reference model (bf16)"] = 2 * shape.parameters / shard / GB
    if settings.gradient_checkpointing:
        terms["checkpointed layer inputs"] = layers * tokens * h * 2 / GB
        terms["one layer recomputed"] = per_layer / GB
    else:
        terms["activations, all layers"] = layers * per_layer / GB
    terms[f"logits, {tokens} tokens x {shape.vocab} vocab"] = 6 * tokens * shape.vocab / GB
    terms["CUDA context, buffers, fragmentation"] = OVERHEAD_GB
    return Plan(terms, limit_gb)


def fitting_options(settings, shape: ModelShape, limit_gb: float) -> list[tuple[str, float]]:
    """Single changes to `settings` whose plan fits, with their totals (GB)."""
    candidates = []
    for mode in ("zero3", "zero3_offload_optimizer", "zero3_offload"):
        if mode != settings.deepspeed and not settings.lora.enabled:
            candidates.append((f"deepspeed={mode}", {"deepspeed": mode}))
    if not settings.gradient_checkpointing:
        candidates.append(("gradient_checkpointing=true", {"gradient_checkpointing": True}))
    if settings.per_device_batch_size > 1:
        candidates.append(("per_device_batch_size=1", {"per_device_batch_size": 1}))
    for length in (settings.max_length // 2, settings.max_length // 4):
        if length >= 512:
            candidates.append((f"max_length={length}", {"max_length": length}))
    if settings.loss in ("dpo", "rpo") and not settings.precompute_ref_log_probs:
        candidates.append(("precompute_ref_log_probs=true", {"precompute_ref_log_probs": True}))
    workers = settings.placement.count * 2
    candidates.append(
        (f"placement.count={workers}", {"placement": settings.placement.model_copy(update={"count": workers})})
    )
    options = []
    for label, change in candidates:
        plan = plan_step(settings.model_copy(update=change), shape, limit_gb)
        if plan.fits:
            options.append((label, plan.total_gb))
    return options
