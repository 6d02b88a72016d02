"""Training losses by name in `LOSSES`: each names its TRL config class, builds its training rows
from pairs, and adds its own TRL arguments to the ones every loss shares. Light (no trl, torch or
pyarrow) so the train config can import the names; the train loop imports the TRL classes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from overthink.registry import Registry

if TYPE_CHECKING:
    from overthink.train.config import TrainConfig


def preference_rows(rows: list[dict]) -> list[dict]:
    """Preference losses learn from the pairs as they are (prompt, chosen, rejected)."""
    return rows


def completion_rows(rows: list[dict]) -> list[dict]:
    """SFT learns the chosen response as a prompt/completion pair."""
    return [{"prompt": r["prompt"], "completion": r["chosen"]} for r in rows]


@dataclass(frozen=True)
class Loss:
    trl_config: str  # TRL config class name; the trainer is its namesake (train.loop)
    default_beta: float | None  # β when `beta` is unset; None: the loss has no β
    arguments: Callable[[TrainConfig], dict]  # the loss's own TRL config keyword arguments
    rows: Callable[[list[dict]], list[dict]]  # training rows from (prompt, chosen, rejected) pairs


LOSSES: Registry[Loss] = Registry("loss")


def register_loss(
    name: str, trl_config: str, default_beta: float | None, rows: Callable[[list[dict]], list[dict]] = preference_rows
):
    """Decorator registering a function (train config -> the loss's own TRL kwargs) as loss `name`."""

    def register(arguments: Callable[[TrainConfig], dict]) -> Callable[[TrainConfig], dict]:
        LOSSES.register(name)(Loss(trl_config, default_beta, arguments, rows))
        return arguments

    return register


@register_loss("sft", "SFTConfig", default_beta=None, rows=completion_rows)
def sft(config: TrainConfig) -> dict:
    return {"completion_only_loss": True}


def reference_arguments(config: TrainConfig) -> dict:
    """DPO-family arguments: β and how the frozen reference model is used."""
    return {"beta": config.effective_beta, "precompute_ref_log_probs": config.precompute_ref_log_probs}


@register_loss("dpo", "DPOConfig", default_beta=0.1)  # TRL's default β
def dpo(config: TrainConfig) -> dict:
    return {**reference_arguments(config), "loss_type": ["sigmoid"]}


@register_loss("rpo", "DPOConfig", default_beta=0.1)
def rpo(config: TrainConfig) -> dict:
    """DPO plus the NLL of the chosen response, weighted by `rpo_alpha`."""
    return {**reference_arguments(config), "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, config.rpo_alpha]}


@register_loss("simpo", "CPOConfig", default_beta=2.0)  # the public SimPO recipe (Sky-T1-32B-Flash)
def simpo(config: TrainConfig) -> dict:
    """SimPO is TRL's CPO trainer with loss_type simpo and no behaviour-cloning term; no reference model."""
    return {"loss_type": "simpo", "cpo_alpha": 0.0, "beta": config.effective_beta, "simpo_gamma": config.simpo_gamma}


def default_beta(loss: str) -> float | None:
    return LOSSES.get(loss).default_beta


def training_rows(rows: list[dict], loss: str) -> list[dict]:
    return LOSSES.get(loss).rows(rows)


def common_arguments(config: TrainConfig, output_dir: str, deepspeed: dict | None) -> dict:
    """TRL/transformers arguments every loss shares."""
    return {
        "output_dir": output_dir,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the steps
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps or -1,
        "per_device_train_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "gradient_checkpointing": config.gradient_checkpointing,
        "max_length": config.max_length,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": 1,  # Ray Train keeps its own copies (keep_checkpoints)
        "seed": config.seed,
        "data_seed": config.seed,
        "report_to": "none",
        "bf16": config.bf16,
        "use_cpu": config.placement.device != "gpu",  # resolved (never auto) by the time workers start
        "deepspeed": deepspeed,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "ddp_find_unused_parameters": False,
    }


def trl_arguments(config: TrainConfig, output_dir: str, deepspeed: dict | None) -> tuple[str, dict]:
    """(TRL config class name, its keyword arguments) for the chosen loss."""
    loss = LOSSES.get(config.loss)
    return loss.trl_config, {**common_arguments(config, output_dir, deepspeed), **loss.arguments(config)}
