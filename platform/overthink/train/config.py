"""Config of the train stage. Defaults are the public SimPO recipe for real models (Sky-T1-32B-Flash,
the closest public reproduction of the paper: lr 5e-7, β 2.0, γ 0.5, 1 epoch);
configs/train/organism.yaml scales them for the tiny organism."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from overthink.config import Section, Settings, registered, wiring_of
from overthink.runtime.config import Runtime
from overthink.runtime.placement import Placement
from overthink.train.losses import LOSSES, default_beta

# JSON files shipped in overthink/train/deepspeed/. The offload variants carry their own optimizer
# section: ZeRO offload cannot step the Trainer's torch optimizer (DeepSpeed's CPU Adam does).
DEEPSPEED_MODES = ("none", "zero2", "zero3", "zero3_offload_optimizer", "zero3_offload")


class LoraConfig(Section):
    enabled: bool = Field(False, description="Train LoRA adapters (peft) instead of all weights; merged for export.")
    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA alpha.")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    target_modules: list[str] | str = Field("all-linear", description="Modules to adapt (peft's `target_modules`).")


class TrainPlacement(Placement):
    """Train workers: a fixed count (it sets the pairs per optimizer step), so a config that sets only
    cpus or device keeps the default two workers."""

    count: int = Field(
        2,
        ge=1,
        description="Train workers (one TRL trainer process each, data parallel); with per_device_batch_size and "
        "gradient_accumulation_steps it fixes the pairs per optimizer step.",
    )


class TrainSettings(Settings):
    """What is trained on and how: the pairs' strategy, the loss, its hyper-parameters, the scale."""

    strategy: str | None = Field(
        None,
        description="Train on this strategy's pairs only (pairs.parquet can hold several); null = the only one there.",
    )
    kinds: list[Literal["length", "short_incorrect"]] = Field(
        default_factory=lambda: ["length", "short_incorrect"], description="Pair kinds to train on."
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N pairs (smoke runs).")
    loss: registered(LOSSES) = Field(
        "simpo",
        description=f"Training loss ({', '.join(LOSSES.names())}): sft (on chosen), dpo, rpo (DPO + NLL on "
        "chosen) or simpo (no reference model).",
    )
    beta: float | None = Field(
        None,
        gt=0,
        description="β of DPO/RPO/SimPO; null = 2.0 for SimPO (the public recipe), 0.1 for DPO/RPO (TRL's default).",
    )
    simpo_gamma: float = Field(0.5, ge=0, description="SimPO target margin γ (absolute, as TRL's `simpo_gamma`).")
    rpo_alpha: float = Field(1.0, ge=0, description="Weight of the NLL term in RPO.")
    learning_rate: float = Field(5e-7, gt=0, description="Peak learning rate.")
    lr_scheduler: str = Field("cosine", description="transformers scheduler name.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of steps spent warming up.")
    epochs: float = Field(1.0, gt=0, description="Passes over the pairs.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides epochs).")
    per_device_batch_size: int = Field(4, ge=1, description="Pairs per worker per forward pass.")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Forward passes per optimizer step.")
    max_length: int = Field(4096, ge=16, description="Max tokens of prompt + response (longer ones are truncated).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations to save memory.")
    precompute_ref_log_probs: bool = Field(
        False, description="DPO/RPO: compute the reference model's log-probs once up front, then free it."
    )
    deepspeed: str = Field(
        "none",
        description="DeepSpeed: none (DDP), zero2, zero3, zero3_offload_optimizer (Adam states in CPU RAM), "
        "zero3_offload (Adam states and weights in CPU RAM) (configs shipped with the package) "
        "or the path of your own DeepSpeed JSON file.",
    )
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA through peft.")
    gpu_memory_gb: float = Field(
        80.0,
        gt=0,
        description="GPU memory per worker that the pre-flight memory plan must fit (80 = H100/A100 80 GB); "
        "on GPUs the plan is printed and a plan that cannot fit is refused before any worker starts.",
    )
    bf16: bool = Field(False, description="bf16 mixed precision (GPUs; CPU training stays fp32).")
    storage_path: str | None = Field(
        None,
        description="Ray Train checkpoint storage: a local folder or a cloud URI (s3://, gs://); null = OUTPUT/ray. "
        "Trials and pipelines use it too (runs are named by fingerprint).",
    )
    save_steps: int = Field(50, ge=1, description="Checkpoint every N optimizer steps (and at the end).")
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints Ray Train keeps.")
    max_failures: int = Field(
        1, ge=0, description="Worker-group failures to recover from (resume from the last checkpoint)."
    )
    logging_steps: int = Field(1, ge=1, description="Log TRL metrics every N steps.")
    seed: int = Field(0, description="Seed of data order and initialisation.")
    log_model: bool = Field(True, description="Log the exported model to MLflow as a transformers model (registrable).")
    force: bool = Field(False, description="Train again even if OUTPUT already holds a model from this config.")
    placement: TrainPlacement = Field(
        default_factory=TrainPlacement,
        description="Ray Train workers: count (one TRL trainer process each, data parallel; with "
        "per_device_batch_size and gradient_accumulation_steps it sets the pairs per step), device (gpu: one GPU "
        "each, NCCL; cpu: gloo), CPUs and custom resources each.",
    )

    @property
    def effective_beta(self) -> float:
        return self.beta if self.beta is not None else default_beta(self.loss)

    @field_validator("deepspeed")
    @classmethod
    def _deepspeed_mode_or_file(cls, value: str) -> str:
        if value not in DEEPSPEED_MODES and not value.endswith(".json"):
            raise ValueError(f"give one of {', '.join(DEEPSPEED_MODES)} or the path of a DeepSpeed .json file")
        return value

    @model_validator(mode="after")
    def _checks(self):
        if self.lora.enabled and self.deepspeed.startswith("zero3"):
            raise ValueError("lora: LoRA with ZeRO-3 is not supported here; use deepspeed=zero2 or none with LoRA")
        return self


class TrainConfig(Runtime, TrainSettings):
    """The train stage: settings plus the pairs, the base model, and where the model and checkpoints go."""

    pairs: str | None = Field(None, description="pairs.parquet (or its folder) from `overthink pairs`.")
    model: str | None = Field(
        None, description="Base model: a local HF folder, hub id, `organism` or MLflow model URI."
    )
    output_dir: str | None = Field(None, description="Folder for the final model (model/) and the run record.")


wiring_of(TrainConfig, TrainSettings)
