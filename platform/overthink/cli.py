"""`overthink <stage> ...`: one subcommand per stage; config = defaults < --config YAML < --set."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from dataclasses import dataclass
from typing import Callable

from overthink.config import help_table, load_config
from overthink.errors import OverthinkError


@dataclass(frozen=True)
class Stage:
    name: str
    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    config_model: Callable[[], type]


def lazy_config(module: str, name: str) -> Callable[[], type]:
    """The config model, imported when asked for (keeps `overthink --help` light)."""
    return lambda: getattr(importlib.import_module(module), name)


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", metavar="PATH", help="JSONL/Parquet files, folders or globs (input.path).")
    parser.add_argument("--output", metavar="DIR", help="Output folder (output_dir).")
    _common_arguments(parser)
    parser.add_argument("--no-ray", action="store_true", help="Analyze in this process instead of on Ray Data.")


def add_flags(parser: argparse.ArgumentParser, flags: list[tuple[str, str, str]]) -> None:
    """Path-like flags (name, metavar, help), then the common --config/--set/--print-config."""
    for flag, metavar, help_text in flags:
        parser.add_argument(flag, metavar=metavar, help=help_text)
    _common_arguments(parser)


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML config; keys as listed below.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Override one config key (repeatable), e.g. --set distinct.method=embedding.")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved config as YAML and exit.")


def config_from_args(model: type, args: argparse.Namespace, flags: dict[str, str]):
    """defaults < --config < --set, with each given flag (argument name -> config key) as one more --set."""
    overrides = list(args.overrides)
    for attr, key in flags.items():
        value = getattr(args, attr, None)
        if value:  # JSON is YAML: paths with quotes, colons or spaces survive
            overrides.append(f"{key}={json.dumps(value)}")
    return load_config(model, args.config, overrides)


def analyze_config_from_args(args: argparse.Namespace):
    from overthink.analyze.config import AnalyzeConfig

    return config_from_args(AnalyzeConfig, args, {"input": "input.path", "output": "output_dir"})


def stage_config(args: argparse.Namespace, flags: dict[str, str]):
    """The stage's config from the command line, or None when --print-config printed it."""
    config = config_from_args(STAGES[args.stage].config_model(), args, flags)
    return None if _printed(config, args) else config


def _printed(config, args: argparse.Namespace) -> bool:
    if args.print_config:
        print(config.to_yaml(), end="")
    return args.print_config


def _run_analyze(args: argparse.Namespace) -> int:
    from overthink.analyze.stage import run_analyze

    config = analyze_config_from_args(args)
    if _printed(config, args):
        return 0
    result = run_analyze(config, use_ray=not args.no_ray)
    print(result.table_markdown, end="")
    print(f"Wrote {result.output_dir / 'analyzed.parquet'} and {result.output_dir / 'metrics.json'}")
    return 0


def _quickstart_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", metavar="DIR", default="out/quickstart", help="Output folder.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Override a key of the sample config, e.g. --set sampling.n=2.")


def _run_quickstart(args: argparse.Namespace) -> int:
    from overthink.quickstart import run_quickstart

    print(run_quickstart(args.output, args.overrides), end="")
    return 0


def _sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", metavar="DIR", help="Output folder (output_dir).")
    parser.add_argument("--model", metavar="PATH_OR_ID", help="Model folder, hub id or `organism` (engine.model).")
    _common_arguments(parser)


def _run_sample(args: argparse.Namespace) -> int:
    from overthink.sample.stage import run_sample

    config = stage_config(args, {"output": "output_dir", "model": "engine.model"})
    if config is None:
        return 0
    result = run_sample(config)
    m = result.metrics
    print(f"Sampled {m['new_samples']} new responses ({m['samples']} in all, {m['problems']} problems); "
          f"{m['tokens_per_s']:.1f} generated tokens/s after engine start-up ({m['engine_startup_s']:.1f} s)")
    print(f"Wrote {result.output_dir / 'samples.parquet'}: analyze it with "
          f"`overthink analyze --input {result.output_dir / 'samples.parquet'} --output ...`")
    return 0



def _organism_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["build"], help="build: train the organism (or reuse the cached one) and print its folder.")
    _common_arguments(parser)


def _run_organism(args: argparse.Namespace) -> int:
    from overthink.organism.build import build_organism
    from overthink.organism.config import OrganismConfig

    config = load_config(OrganismConfig, args.config, args.overrides)
    if _printed(config, args):
        return 0
    path = build_organism(config)
    print(f"organism: {path.resolve()}")
    return 0



def _pairs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", metavar="PATH", help="analyzed.parquet files or analysis folders (input).")
    parser.add_argument("--output", metavar="DIR", help="Output folder (output_dir).")
    parser.add_argument("--strategies", nargs="+", metavar="NAME", help="Positive strategies (strategies).")
    _common_arguments(parser)
    parser.add_argument("--no-ray", action="store_true", help="Pair in this process instead of on Ray Data.")


def _run_pairs(args: argparse.Namespace) -> int:
    from overthink.pairs.stage import run_pairs, summary_markdown

    config = stage_config(args, {"input": "input", "output": "output_dir", "strategies": "strategies"})
    if config is None:
        return 0
    result = run_pairs(config, use_ray=not args.no_ray)
    print(summary_markdown(result.summary), end="")
    print(f"Wrote {result.path}: train on it with `overthink train --pairs {result.path} --output ...`")
    return 0



def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", metavar="PATH", help="pairs.parquet or its folder (pairs).")
    parser.add_argument("--model", metavar="PATH_OR_ID", help="Base model folder or hub id (model).")
    parser.add_argument("--output", metavar="DIR", help="Output folder (output_dir).")
    parser.add_argument("--loss", choices=["sft", "dpo", "rpo", "simpo"], help="Training loss (loss).")
    parser.add_argument("--strategy", metavar="NAME", help="Train on this strategy's pairs (strategy).")
    parser.add_argument("--deepspeed", choices=["none", "zero2", "zero3", "zero3_offload"], help="DeepSpeed mode (deepspeed).")
    parser.add_argument("--workers", type=int, metavar="N", help="Ray Train workers (workers.num_workers).")
    _common_arguments(parser)


def _run_train(args: argparse.Namespace) -> int:
    from overthink.train.stage import run_train

    config = stage_config(args, {"pairs": "pairs", "model": "model", "output": "output_dir", "loss": "loss",
                                "strategy": "strategy", "deepspeed": "deepspeed",
                                "workers": "workers.num_workers"})
    if config is None:
        return 0
    result = run_train(config)
    metrics = result.summary["metrics"]
    shown = ", ".join(f"{k} {metrics[k]:.4g}" for k in ("train_loss", "loss", "rewards.margins") if k in metrics)
    print(f"Trained {config.loss} on {result.summary['pairs_used']} pairs{': ' + shown if shown else ''}")
    print(f"Wrote {result.model_dir}: sample it with `overthink sample --set engine.model={result.model_dir} ...`")
    return 0



def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, [("--model", "PATH_OR_URI", "Checkpoint folder, `organism` or MLflow model URI (model)."),
                       ("--output", "DIR", "Output folder (output_dir)."),
                       ("--baseline", "DIR", "Earlier evaluate output to compare against (baseline)."),
                       ("--name", "NAME", "Model name in tables (name).")])


def _run_evaluate(args: argparse.Namespace) -> int:
    from overthink.evaluate.stage import run_evaluate

    config = stage_config(args, {"model": "model", "output": "output_dir", "baseline": "baseline",
                                "name": "name"})
    if config is None:
        return 0
    result = run_evaluate(config)
    print(result.table, end="")
    print(f"Wrote {result.output_dir / 'evaluation.md'}")
    return 0


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, [("--pairs", "PATH", "pairs.parquet or its folder (pairs)."),
                       ("--model", "PATH_OR_ID", "Base model folder, hub id or `organism` (model)."),
                       ("--output", "DIR", "Output folder (output_dir)."),
                       ("--baseline", "DIR", "The base model's evaluate output on the dev set (baseline).")])


def _run_sweep(args: argparse.Namespace) -> int:
    from overthink.sweep.stage import run_sweep

    config = stage_config(args, {"pairs": "pairs", "model": "model", "output": "output_dir",
                                "baseline": "baseline"})
    if config is None:
        return 0
    result = run_sweep(config)
    print(result.table, end="")
    if result.registered:
        print(f"Champion registered as {result.registered}: evaluate or serve it by that URI.")
    print(f"Wrote {result.output_dir / 'summary.md'} and {result.output_dir / 'pareto.png'}")
    return 0

def _pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="PATH_OR_ID", help="Model to sample and improve (model).")
    parser.add_argument("--output", metavar="DIR", help="Output folder (output_dir).")
    parser.add_argument("--from", dest="start", metavar="STAGE",
                        help="Recompute from this stage on: sample, analyze, pairs, train (or sweep), evaluate, register.")
    _common_arguments(parser)


def _run_pipeline(args: argparse.Namespace) -> int:
    from overthink.pipeline.stage import run_pipeline
    from overthink.runtime.tracking import ui_command

    config = stage_config(args, {"model": "model", "output": "output_dir"})
    if config is None:
        return 0
    started = time.perf_counter()
    result = run_pipeline(config, start=args.start)
    print(f"\n=== result ({time.perf_counter() - started:.0f} s) " + "=" * 50)
    print(result.table, end="")
    print(f"Wrote {result.output_dir / 'result.md'}")
    if config.mlflow.enabled and ui_command(config.mlflow):
        print(f"Open the MLflow UI: {ui_command(config.mlflow)}")
    return 0


STAGES = {
    stage.name: stage
    for stage in (
        Stage("analyze", "Split responses into solutions, grade them and compute the paper's efficiency metrics.",
              _analyze_arguments, _run_analyze, lazy_config("overthink.analyze.config", "AnalyzeConfig")),
        Stage("sample", "Sample n responses per problem from a model with vLLM engines on Ray Data.",
              _sample_arguments, _run_sample, lazy_config("overthink.sample.config", "SampleConfig")),
        Stage("pairs", "Build preference pairs (shortest, FCS, FCS+Reflection, GDS, difficulty-aware) from analyzed responses.",
              _pairs_arguments, _run_pairs, lazy_config("overthink.pairs.config", "PairsConfig")),
        Stage("train", "Train on preference pairs with TRL (SFT, DPO, RPO, SimPO) under Ray Train, optionally with DeepSpeed ZeRO.",
              _train_arguments, _run_train, lazy_config("overthink.train.config", "TrainConfig")),
        Stage("evaluate", "Evaluate a checkpoint on benchmark sets (sample + analyze) against a baseline, in the paper's table layout.",
              _evaluate_arguments, _run_evaluate, lazy_config("overthink.evaluate.config", "EvaluateConfig")),
        Stage("sweep", "Ray Tune over pair strategy, loss, β, γ and learning rate: train + evaluate per trial, Pareto front, champion registered.",
              _sweep_arguments, _run_sweep, lazy_config("overthink.sweep.config", "SweepConfig")),
        Stage("pipeline", "Problems -> sample -> analyze -> pairs -> train or sweep -> evaluate -> register, from one config.",
              _pipeline_arguments, _run_pipeline, lazy_config("overthink.pipeline.config", "PipelineConfig")),
        Stage("organism", "Build the model organism of overthinking: a tiny Qwen2 trained on o1-style responses.",
              _organism_arguments, _run_organism, lazy_config("overthink.organism.config", "OrganismConfig")),
        Stage("quickstart", "Build the model organism, sample it with vLLM on local Ray, analyze the samples (README's first command).",
              _quickstart_arguments, _run_quickstart, lazy_config("overthink.sample.config", "SampleConfig")),
    )
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="overthink", description="Measure and cure overthinking in o1-like models, on Ray.")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES.values():
        child = sub.add_parser(stage.name, help=stage.summary, description=stage.summary,
                               formatter_class=argparse.RawDescriptionHelpFormatter,
                               epilog="config keys (--set KEY=VALUE or YAML):\n" + help_table(stage.config_model()))
        stage.add_arguments(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return STAGES[args.stage].run(args)
    except OverthinkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished shards are kept; run the same command again to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
