"""Pure parts of the train stage: which pairs to train on, and the TRL arguments of each loss."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overthink.errors import ConfigError, InputError
from overthink.train.config import TrainConfig

DEEPSPEED_DIR = Path(__file__).resolve().parents[3] / "configs" / "deepspeed"
PAIR_COLUMNS = ("prompt", "chosen", "rejected", "strategy", "kind")
LENGTH_COLUMNS = ("chosen_tokens", "rejected_tokens", "chosen_solutions", "rejected_solutions")


def pairs_file(config: TrainConfig) -> str:
    if not config.pairs:
        raise ConfigError("no pairs given: set --pairs (pairs) to pairs.parquet or its folder")
    path = os.path.join(config.pairs, "pairs.parquet") if os.path.isdir(config.pairs) else config.pairs
    if not os.path.isfile(path):
        raise InputError(f"{path} does not exist (give pairs.parquet or a folder written by `overthink pairs`)")
    return path


def load_pairs(config: TrainConfig) -> tuple[list[dict], dict]:
    """The (prompt, chosen, rejected) rows to train on, checked and filtered, and their mean
    chosen/rejected lengths in tokens and solutions (as `overthink pairs` counted them)."""
    path = pairs_file(config)
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for a non-Parquet file
        raise InputError(f"{path}: not a readable Parquet file ({err})") from None
    missing = [c for c in PAIR_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; is it pairs.parquet from `overthink pairs`?")
    strategies = sorted(set(table.column("strategy").to_pylist()))
    strategy = config.strategy
    if strategy is None:
        if len(strategies) > 1:
            raise ConfigError(f"{path} holds pairs of several strategies ({', '.join(strategies)}): "
                              "choose one with --strategy")
        strategy = strategies[0] if strategies else None
    elif strategy not in strategies:
        raise ConfigError(f"strategy={strategy!r}: {path} has pairs of {', '.join(strategies) or 'no strategy'} only")
    keep = pc.and_(pc.equal(table["strategy"], strategy), pc.is_in(table["kind"], value_set=pa.array(config.kinds)))
    table = table.filter(keep)
    if config.limit:
        table = table.slice(0, config.limit)
    rows = table.select(["prompt", "chosen", "rejected"]).to_pylist()
    for number, row in enumerate(rows):
        empty = [key for key, value in row.items() if not value]
        if empty:
            raise InputError(f"{path}: pair {number} of strategy {strategy} has an empty {', '.join(empty)}")
    if not rows:
        raise InputError(f"{path}: no pairs of strategy {strategy} and kinds {', '.join(config.kinds)}")
    lengths = {f"mean_{name}": pc.mean(table[name]).as_py() for name in LENGTH_COLUMNS if name in table.column_names}
    return rows, lengths


def deepspeed_config(mode: str) -> dict | None:
    """configs/deepspeed/<mode>.json, or a JSON file given by path; None for plain DDP."""
    if mode == "none":
        return None
    path = DEEPSPEED_DIR / f"{mode}.json"
    if not path.is_file():
        raise ConfigError(f"deepspeed={mode}: {path} is missing (it ships in configs/deepspeed/ of the repository)")
    return json.loads(path.read_text())


def training_rows(rows: list[dict], loss: str) -> list[dict]:
    """SFT learns the chosen response as a prompt/completion pair; the rest learn preferences."""
    if loss == "sft":
        return [{"prompt": r["prompt"], "completion": r["chosen"]} for r in rows]
    return rows


TRL_CONFIG = {"sft": "SFTConfig", "simpo": "CPOConfig", "dpo": "DPOConfig", "rpo": "DPOConfig"}


def trl_arguments(config: TrainConfig, output_dir: str, deepspeed: dict | None) -> tuple[str, dict]:
    """(TRL config class name, its keyword arguments) for the chosen loss."""
    common = {
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
        "use_cpu": not config.workers.use_gpu,
        "deepspeed": deepspeed,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "ddp_find_unused_parameters": False,
    }
    if config.loss == "sft":
        return TRL_CONFIG["sft"], {**common, "completion_only_loss": True}
    if config.loss == "simpo":
        return TRL_CONFIG["simpo"], {**common, "loss_type": "simpo", "cpo_alpha": 0.0, "beta": config.effective_beta,
                             "simpo_gamma": config.simpo_gamma}
    dpo = {**common, "beta": config.effective_beta, "precompute_ref_log_probs": config.precompute_ref_log_probs}
    if config.loss == "dpo":
        return TRL_CONFIG["dpo"], {**dpo, "loss_type": ["sigmoid"]}
    return TRL_CONFIG["rpo"], {**dpo, "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, config.rpo_alpha]}
