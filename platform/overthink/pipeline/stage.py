"""`overthink pipeline`: problems -> sample -> analyze -> pairs -> train (or sweep) -> evaluate
-> register, from one config. Every stage keeps its own content-addressed reuse (sample resumes
by (problem, sample) key; analyze, pairs and train skip when their inputs' fingerprint is
unchanged), so a re-run recomputes only what changed; `start` (`--from STAGE`) clears that
stage's output and everything after it first. One `pipeline` MLflow run is the parent of every
stage's run."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from overthink.errors import ConfigError
from overthink.pipeline.config import STAGE_ORDER, PipelineConfig
from overthink.runtime.files import atomic_write_text

RESULT_FILE = "result.md"


@dataclass
class PipelineResult:
    output_dir: Path
    base: dict  # overall metrics of the base model on the benchmarks
    final: dict | None  # the trained model's (the champion's, after a sweep); None when no trial qualified
    comparison: dict | None
    registered: str | None
    run_id: str | None
    table: str


def stage_folders(out: Path) -> dict[str, list[Path]]:
    return {
        "sample": [out / "samples"],
        "analyze": [out / "analysis"],
        "pairs": [out / "pairs"],
        "train": [out / "train", out / "sweep"],
        "evaluate": [out / "evaluate"],
        "register": [],
    }


def clear_from(out: Path, start: str) -> None:
    """Remove the output of `start` and of every later stage, so they are recomputed."""
    start = "train" if start == "sweep" else start
    if start not in STAGE_ORDER:
        raise ConfigError(f"--from {start!r}: give one of {', '.join(STAGE_ORDER)} (or sweep)")
    folders = stage_folders(out)
    for stage in STAGE_ORDER[STAGE_ORDER.index(start) :]:
        for folder in folders[stage]:
            if folder.exists():
                print(f"--from {start}: removing {folder}")
                shutil.rmtree(folder)


def banner(stage: str) -> None:
    print(f"\n=== {stage} " + "=" * max(3, 70 - len(stage)), flush=True)


def trained_name(config: PipelineConfig) -> str:
    return f"{config.train.loss}-{config.train.strategy or 'pairs'}"


def plan(config: PipelineConfig) -> dict:
    """Every stage's effective config, wired from the pipeline's model, output folder, Ray and
    MLflow: what `--print-config` shows and what `run_pipeline` runs."""
    from overthink.analyze.config import AnalyzeConfig
    from overthink.evaluate.config import EvaluateConfig
    from overthink.pairs.config import PairsConfig
    from overthink.sample.config import SampleConfig
    from overthink.sweep.config import SweepConfig, SweepSettings
    from overthink.train.config import TrainConfig

    out = Path(config.output_dir).resolve()
    wiring = {"ray": config.ray, "mlflow": config.mlflow}
    stages = {
        "sample": SampleConfig.wire(config.sample, model=config.model, output_dir=str(out / "samples"), **wiring),
        "analyze": AnalyzeConfig.wire(
            config.analyze,
            input={"path": [str(out / "samples" / "samples.parquet")]},
            tokenizer=config.model,
            name=config.model,
            output_dir=str(out / "analysis"),
            **wiring,
        ),
        "pairs": PairsConfig.wire(
            config.pairs, input=[str(out / "analysis")], output_dir=str(out / "pairs"), tokenizer=config.model, **wiring
        ),
        "evaluate: base model": EvaluateConfig.wire(
            config.evaluate, model=config.model, name="base", output_dir=str(out / "evaluate" / "base"), **wiring
        ),
    }
    pairs = str(out / "pairs" / "pairs.parquet")
    if config.sweep is not None:
        settings = SweepSettings(
            train=config.train, evaluate=config.evaluate, search=config.sweep, register_as=config.register_as
        )
        stages["sweep"] = SweepConfig.wire(
            settings,
            pairs=pairs,
            model=config.model,
            output_dir=str(out / "sweep"),
            baseline=str(out / "evaluate" / "base"),
            **wiring,
        )
        return stages
    stages["train"] = TrainConfig.wire(
        config.train, pairs=pairs, model=config.model, output_dir=str(out / "train"), **wiring
    )
    stages["evaluate: trained model"] = EvaluateConfig.wire(
        config.evaluate,
        model=str(out / "train" / "model"),
        name=trained_name(config),
        output_dir=str(out / "evaluate" / "trained"),
        baseline=str(out / "evaluate" / "base"),
        **wiring,
    )
    return stages


def run_pipeline(config: PipelineConfig, start: str | None = None) -> PipelineResult:
    from overthink.runtime.metric_names import comparison_metrics, summary_metrics
    from overthink.runtime.models import resolve_model
    from overthink.runtime.tracking import pinned, stage_run

    for key, problems in (
        ("sample.problems", config.sample.problems),
        ("evaluate.sample.problems", config.evaluate.sample.problems),
    ):
        if not problems:
            raise ConfigError(f"no problems: set {key} (start from configs/pipeline/organism.yaml)")
    config = config.model_copy(update={"mlflow": pinned(config.mlflow)})
    stages = plan(config)  # every stage's config is valid before any work starts
    out = Path(config.output_dir).resolve()
    if start:
        clear_from(out, start)
    out.mkdir(parents=True, exist_ok=True)
    resolve_model(config.model)  # build the organism (or fail on a bad model) before Ray starts
    started = time.perf_counter()
    with stage_run(config.mlflow, "pipeline") as run:
        result = run_stages(config, stages, run.id)
        result.run_id = run.id
        atomic_write_text(out / RESULT_FILE, result.table)
        run.log_artifact(out / RESULT_FILE)
        run.log_text(config.to_yaml(), "config.yaml")
        run.log_metrics(
            {
                "wall_s": time.perf_counter() - started,
                **summary_metrics({"overall": result.base}, "base"),
                **summary_metrics({"overall": result.final or {}}, "final"),
                **comparison_metrics(result.comparison, "final"),
            }
        )
        if result.registered:
            run.set_tags({"overthink.registered_model": result.registered})
    return result


def run_stages(config: PipelineConfig, stages: dict, run_id: str | None) -> PipelineResult:
    from overthink.analyze.stage import run_analyze
    from overthink.evaluate.stage import run_evaluate
    from overthink.pairs.stage import run_pairs
    from overthink.sample.stage import run_sample

    out = Path(config.output_dir).resolve()
    banner("sample")
    run_sample(stages["sample"], parent_run_id=run_id)
    banner("analyze")
    run_analyze(stages["analyze"], parent_run_id=run_id)
    banner("pairs")
    run_pairs(stages["pairs"], parent_run_id=run_id)
    banner("evaluate: base model")
    base = run_evaluate(stages["evaluate: base model"], parent_run_id=run_id)
    if config.sweep is not None:
        return sweep_and_pick(out, stages["sweep"], base, run_id)
    return train_and_evaluate(config, out, stages, base, run_id)


def train_and_evaluate(config: PipelineConfig, out: Path, stages: dict, base, run_id: str | None) -> PipelineResult:
    from overthink.evaluate.stage import run_evaluate
    from overthink.runtime.tracking import register_model
    from overthink.train.stage import run_train

    banner("train")
    trained = run_train(stages["train"], parent_run_id=run_id)
    banner("evaluate: trained model")
    final = run_evaluate(stages["evaluate: trained model"], parent_run_id=run_id)
    registered = None
    if config.register_as and trained.summary.get("mlflow_model_uri"):
        banner("register")
        registered = register_model(
            config.mlflow,
            trained.summary["mlflow_model_uri"],
            config.register_as,
            tags={"overthink.pipeline": str(out)},
        )
        print(f"registered {registered}")
    name = trained_name(config)
    table = result_table(base.metrics, final.metrics, final.comparison, name, registered)
    return PipelineResult(
        out, base.metrics["overall"], final.metrics["overall"], final.comparison, registered, None, table
    )


def sweep_and_pick(out: Path, sweep, base, run_id: str | None) -> PipelineResult:
    from overthink.evaluate.stage import load_evaluation
    from overthink.sweep.stage import run_sweep

    banner("sweep")
    result = run_sweep(sweep, parent_run_id=run_id)
    if result.champion is None:
        table = result.table + "\nNo champion: every trial lost more accuracy than the tolerance allows.\n"
        return PipelineResult(out, base.metrics["overall"], None, None, None, None, table)
    # The champion was evaluated on the benchmarks inside its trial: reuse that evaluation.
    final = load_evaluation(result.champion["evaluate_dir"], key="champion")
    table = result_table(base.metrics, final.metrics, final.comparison, result.champion["name"], result.registered)
    return PipelineResult(
        out,
        base.metrics["overall"],
        final.metrics["overall"],
        final.comparison,
        result.registered,
        None,
        result.table + "\n" + table,
    )


def cli(config: PipelineConfig, start: str | None = None) -> str:
    from overthink.runtime.tracking import ui_hint

    started = time.perf_counter()
    result = run_pipeline(config, start=start)
    text = f"\n=== result ({time.perf_counter() - started:.0f} s) " + "=" * 50 + "\n" + result.table
    text += f"Wrote {result.output_dir / RESULT_FILE}\n"
    hint = ui_hint(config.mlflow) if config.mlflow.enabled else None
    if hint:
        text += f"Open the MLflow UI: {hint}\n"
    return text


def result_table(base: dict, final: dict, comparison: dict | None, name: str, registered: str | None) -> str:
    """Base vs trained model on every benchmark, in the paper's layout, with the change."""
    from overthink.analyze.report import TABLE_COLUMNS, table_rows
    from overthink.evaluate.compare import comparison_markdown

    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(base, "base") + table_rows(final, name)]
    text = "\n".join(lines) + "\n"
    if comparison:
        text += "\n" + comparison_markdown(comparison, name, "base")
    if registered:
        text += f"\nRegistered as {registered}.\n"
    return text
