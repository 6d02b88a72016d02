"""Pure parts of the train stage: which pairs to train on and the DeepSpeed config (the TRL
arguments of each loss are in train.losses)."""

from __future__ import annotations

import json
import os
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc

from overthink.errors import ConfigError, InputError
from overthink.runtime.files import read_parquet
from overthink.train.config import DEEPSPEED_MODES, TrainConfig

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
    table = read_parquet(path, needed=PAIR_COLUMNS, hint="is it pairs.parquet from `overthink pairs`?")
    strategies = sorted(set(table.column("strategy").to_pylist()))
    strategy = config.strategy
    if strategy is None:
        if len(strategies) > 1:
            raise ConfigError(
                f"{path} holds pairs of several strategies ({', '.join(strategies)}): choose one with --strategy"
            )
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
    """The DeepSpeed config of a mode shipped with the package (overthink/train/deepspeed/), or a
    JSON file given by path, read here on the driver and handed to every worker; None for DDP."""
    if mode == "none":
        return None
    if mode in DEEPSPEED_MODES:
        return json.loads(resources.files("overthink.train").joinpath("deepspeed", f"{mode}.json").read_text())
    if not os.path.isfile(mode):
        raise ConfigError(f"deepspeed={mode}: no such file")
    try:
        return json.loads(open(mode).read())
    except ValueError as err:
        raise ConfigError(f"deepspeed={mode}: not valid JSON ({err})") from None
