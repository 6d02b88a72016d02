"""The stage registry: each stage declared once. The CLI (`overthink <stage>`), its `--help`, the
jobs in jobs/ and the docs' config reference (scripts/render_docs.py) are all made from it.

Adding a stage: its package (config with `XSettings` + `XConfig`, a pure core, a thin Ray
adapter, `stage.py` with `cli(config, **options) -> str`), one row below, a 12-line job file
(docs/developing.md)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def load(ref: str) -> Any:
    """`package.module:attribute`, imported when asked for (keeps `overthink --help` light)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Flag:
    """A command-line shortcut for one config key; its help is the key's own description."""

    flag: str
    key: str
    metavar: str = "VALUE"


@dataclass(frozen=True)
class Option:
    """A command-line switch that is not a config key (how to run, not what): passed to `run`."""

    flag: str
    help: str
    kwargs: dict = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.kwargs.get("dest", self.flag.lstrip("-").replace("-", "_"))


@dataclass(frozen=True)
class StageSpec:
    name: str
    summary: str
    config: str  # "module:ConfigClass"
    run: str  # "module:function", called as function(config, **options) -> text to print
    flags: tuple[Flag, ...] = ()
    options: tuple[Option, ...] = ()
    plan: str | None = None  # composites: "module:function", config -> {sub-stage: its effective config}
    example: str = ""  # the job's usage line after `python jobs/<name>.py`

    def config_model(self) -> type:
        return load(self.config)

    def runner(self) -> Callable[..., str]:
        return load(self.run)

    def planner(self) -> Callable[[Any], dict] | None:
        return load(self.plan) if self.plan else None


OUTPUT = Flag("--output", "output_dir", "DIR")
MODEL = Flag("--model", "model", "SPEC")
NO_RAY = Option("--no-ray", "Run in this process instead of on Ray Data.", {"action": "store_true"})

STAGES: dict[str, StageSpec] = {
    spec.name: spec
    for spec in (
        StageSpec(
            "organism",
            "Build the model organism of overthinking: a tiny Qwen2 trained on o1-style responses.",
            "overthink.organism.config:OrganismConfig",
            "overthink.organism.build:cli",
            options=(
                Option(
                    "action",
                    "build: train the organism (or reuse the cached one) and print its folder.",
                    {"choices": ["build"]},
                ),
            ),
            example="build",
        ),
        StageSpec(
            "sample",
            "Sample n responses per problem from a model with vLLM engines on Ray Data.",
            "overthink.sample.config:SampleConfig",
            "overthink.sample.stage:cli",
            flags=(MODEL, OUTPUT),
            example="--config configs/sample/organism.yaml --output /data/samples",
        ),
        StageSpec(
            "analyze",
            "Split responses into solutions, grade them and compute the paper's efficiency metrics.",
            "overthink.analyze.config:AnalyzeConfig",
            "overthink.analyze.stage:cli",
            flags=(Flag("--input", "input.path", "PATH"), OUTPUT),
            options=(NO_RAY,),
            example="--input /data/samples/samples.parquet --output /data/analysis",
        ),
        StageSpec(
            "pairs",
            "Build preference pairs (shortest, FCS, FCS+Reflection, GDS, difficulty-aware) from analyzed responses.",
            "overthink.pairs.config:PairsConfig",
            "overthink.pairs.stage:cli",
            flags=(Flag("--input", "input", "PATH"), OUTPUT, Flag("--strategies", "strategies", "NAME")),
            options=(NO_RAY,),
            example="--input /data/analysis --output /data/pairs --strategies fcs fcs_reflection",
        ),
        StageSpec(
            "train",
            "Train on preference pairs with TRL (SFT, DPO, RPO, SimPO) under Ray Train, optionally with DeepSpeed "
            "ZeRO.",
            "overthink.train.config:TrainConfig",
            "overthink.train.stage:cli",
            flags=(
                Flag("--pairs", "pairs", "PATH"),
                MODEL,
                OUTPUT,
                Flag("--loss", "loss", "NAME"),
                Flag("--strategy", "strategy", "NAME"),
                Flag("--deepspeed", "deepspeed", "MODE"),
                Flag("--workers", "placement.count", "N"),
            ),
            example="--pairs /data/pairs --model /data/base --output /data/train --loss simpo --strategy "
            "fcs_reflection",
        ),
        StageSpec(
            "evaluate",
            "Evaluate a checkpoint on benchmark sets (sample + analyze) against a baseline, in the paper's table "
            "layout.",
            "overthink.evaluate.config:EvaluateConfig",
            "overthink.evaluate.stage:cli",
            flags=(MODEL, OUTPUT, Flag("--baseline", "baseline", "DIR"), Flag("--name", "name", "NAME")),
            plan="overthink.evaluate.stage:plan",
            example="--config configs/evaluate/organism.yaml --model models:/overthink-organism@champion "
            "--baseline /data/eval/base --output /data/eval/champion",
        ),
        StageSpec(
            "sweep",
            "Ray Tune over pair strategy, loss, β, γ and learning rate: train + evaluate per trial, Pareto front, "
            "champion registered.",
            "overthink.sweep.config:SweepConfig",
            "overthink.sweep.stage:cli",
            flags=(Flag("--pairs", "pairs", "PATH"), MODEL, OUTPUT, Flag("--baseline", "baseline", "DIR")),
            plan="overthink.sweep.stage:plan",
            example="--config configs/sweep/organism.yaml --pairs /data/pairs --output /data/sweep",
        ),
        StageSpec(
            "pipeline",
            "Problems -> sample -> analyze -> pairs -> train or sweep -> evaluate -> register, from one config.",
            "overthink.pipeline.config:PipelineConfig",
            "overthink.pipeline.stage:cli",
            flags=(MODEL, OUTPUT),
            options=(
                Option(
                    "--from",
                    "Recompute from this stage on: sample, analyze, pairs, train (or sweep), evaluate, register.",
                    {"dest": "start", "metavar": "STAGE"},
                ),
            ),
            plan="overthink.pipeline.stage:plan",
            example="--config configs/pipeline/organism.yaml --output /data/pipeline",
        ),
        StageSpec(
            "serve",
            "Serve a model on Ray Serve behind OpenAI-compatible HTTP, with thinking budgets and early exit.",
            "overthink.serve.config:ServeConfig",
            "overthink.serve.stage:cli",
            flags=(MODEL, Flag("--port", "port", "PORT"), Flag("--host", "host", "HOST")),
            example="--model models:/overthink-organism@champion --port 8000",
        ),
        StageSpec(
            "quickstart",
            "Build the model organism, sample it with vLLM on local Ray, analyze the samples (the short demo).",
            "overthink.quickstart:QuickstartConfig",
            "overthink.quickstart:cli",
            flags=(OUTPUT,),
            example="--output out/quickstart",
        ),
    )
}
