"""`overthink pipeline`: problems -> sample -> analyze -> pairs -> train (or sweep) -> evaluate
-> register, from one config. Every stage keeps its own content-addressed reuse (sample resumes
by (problem, sample) key; analyze, pairs and train skip when their inputs' fingerprint is
unchanged), so a re-run recomputes only what changed; `start` (`--from STAGE`) clears that
stage's output and everything after it first. One `pipeline` MLflow run is the parent of every
stage's run."""

from __future__ import annotations

import json
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
    return {"sample": [out / "samples"], "analyze": [out / "analysis"], "pairs": [out / "pairs"],
            "train": [out / "train", out / "sweep"], "evaluate": [out / "evaluate"], "register": []}


def clear_from(out: Path, start: str) -> None:
    """Remove the output of `start` and of every later stage, so they are recomputed."""
    start = "train" if start == "sweep" else start
    if start not in STAGE_ORDER:
        raise ConfigError(f"--from {start!r}: give one of {', '.join(STAGE_ORDER)} (or sweep)")
    folders = stage_folders(out)
    for stage in STAGE_ORDER[STAGE_ORDER.index(start):]:
        for folder in folders[stage]:
            if folder.exists():
                print(f"--from {start}: removing {folder}")
                shutil.rmtree(folder)


def banner(stage: str) -> None:
    print(f"\n=== {stage} " + "=" * max(3, 70 - len(stage)), flush=True)


def run_pipeline(config: PipelineConfig, start: str | None = None) -> PipelineResult:
    from overthink.runtime.tracking import open_run, tracking_uri
    from overthink.sample.stage import resolve_model

    for key, problems in (("sample.problems", config.sample.problems), ("evaluate.sample.problems", config.evaluate.sample.problems)):
        if not problems:
            raise ConfigError(f"no problems: set {key} (start from configs/pipeline/organism.yaml)")
    out = Path(config.output_dir).resolve()
    if start:
        clear_from(out, start)
    out.mkdir(parents=True, exist_ok=True)
    model_path, model_name = resolve_model(config.model)
    mlflow = config.mlflow.model_copy(update={"tracking_uri": tracking_uri(config.mlflow)}) if config.mlflow.enabled else config.mlflow
    opened = open_run(mlflow, "pipeline", mlflow.run_name or f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}")
    client, run_id = opened if opened else (None, None)
    common = {"ray": config.ray.model_dump(), "mlflow": {**mlflow.model_dump(), "parent_run_id": run_id, "run_name": None}}
    started = time.perf_counter()
    try:
        result = run_stages(config, out, model_path, model_name, common)
        result.run_id = run_id
        atomic_write_text(out / RESULT_FILE, result.table)
        if client:
            client.log_artifact(run_id, str(out / RESULT_FILE))
            client.log_text(run_id, config.to_yaml(), "config.yaml")
            client.log_metric(run_id, "wall_s", time.perf_counter() - started)
            for key in ("accuracy", "mean_tokens"):
                client.log_metric(run_id, f"base.{key}", result.base[key])
                if result.final:
                    client.log_metric(run_id, f"final.{key}", result.final[key])
            if result.comparison:
                client.log_metric(run_id, "final.token_reduction_pct", result.comparison["overall"]["token_reduction_pct"])
            if result.registered:
                client.set_tag(run_id, "overthink.registered_model", result.registered)
            client.set_terminated(run_id, "FINISHED")
    except BaseException:
        if client:
            client.set_terminated(run_id, "FAILED")
        raise
    return result


def with_common(section, common: dict, **fields):
    """A stage's config section with the pipeline's paths, Ray and MLflow settings filled in."""
    return section.model_validate({**section.model_dump(mode="json"), **common, **fields})


def run_stages(config: PipelineConfig, out: Path, model_path: str, model_name: str, common: dict) -> PipelineResult:
    from overthink.analyze.stage import run_analyze
    from overthink.evaluate.stage import run_evaluate
    from overthink.pairs.stage import run_pairs
    from overthink.sample.stage import run_sample

    banner("sample")
    engine = {**config.sample.engine.model_dump(), "model": config.model}
    run_sample(with_common(config.sample, common, output_dir=str(out / "samples"), engine=engine))
    banner("analyze")
    run_analyze(with_common(config.analyze, common, output_dir=str(out / "analysis"), tokenizer=model_path,
                            input={**config.analyze.input.model_dump(), "path": str(out / "samples" / "samples.parquet")},
                            report={**config.analyze.report.model_dump(), "model_name": model_name}))
    banner("pairs")
    pairs = run_pairs(with_common(config.pairs, common, input=[str(out / "analysis")], output_dir=str(out / "pairs"),
                                  tokenizer=model_path))
    banner("evaluate: base model")
    base = run_evaluate(with_common(config.evaluate, common, model=config.model, name="base",
                                    output_dir=str(out / "evaluate" / "base"), baseline=None))
    if config.sweep is not None:
        return sweep_and_pick(config, out, model_path, pairs.path, base, common)
    return train_and_evaluate(config, out, model_path, pairs.path, base, common)


def train_and_evaluate(config: PipelineConfig, out: Path, model_path: str, pairs: Path, base, common: dict) -> PipelineResult:
    from overthink.evaluate.stage import run_evaluate
    from overthink.runtime.tracking import register_model
    from overthink.train.stage import run_train

    banner("train")
    trained = run_train(with_common(config.train, common, pairs=str(pairs), model=model_path, output_dir=str(out / "train")))
    banner("evaluate: trained model")
    name = f"{config.train.loss}-{config.train.strategy or 'pairs'}"
    final = run_evaluate(with_common(config.evaluate, common, model=str(trained.model_dir), name=name,
                                     output_dir=str(out / "evaluate" / "trained"), baseline=str(out / "evaluate" / "base")))
    registered = None
    if config.register_as and trained.summary.get("mlflow_model_uri"):
        banner("register")
        registered = register_model(trained.summary["mlflow_model_uri"], config.register_as,
                                    tags={"overthink.pipeline": str(out)})
        print(f"registered {registered}")
    table = result_table(base.metrics, final.metrics, final.comparison, name, registered)
    return PipelineResult(out, base.metrics["overall"], final.metrics["overall"], final.comparison, registered, None, table)


def sweep_and_pick(config: PipelineConfig, out: Path, model_path: str, pairs: Path, base, common: dict) -> PipelineResult:
    from overthink.sweep.config import SweepConfig
    from overthink.sweep.stage import run_sweep

    banner("sweep")
    sweep = SweepConfig.model_validate({
        "pairs": str(pairs), "model": model_path, "output_dir": str(out / "sweep"),
        "baseline": str(out / "evaluate" / "base"), "train": config.train.model_dump(mode="json"),
        "evaluate": config.evaluate.model_dump(mode="json"), "search": config.sweep.model_dump(mode="json"),
        "register_as": config.register_as, **common})
    result = run_sweep(sweep)
    if result.champion is None:
        table = result.table + "\nNo champion: every trial lost more accuracy than the tolerance allows.\n"
        return PipelineResult(out, base.metrics["overall"], None, None, None, None, table)
    # The champion was evaluated on the benchmarks inside its trial: reuse that evaluation.
    evaluation = Path(result.champion["evaluate_dir"])
    final = json.loads((evaluation / "analysis" / "metrics.json").read_text())
    comparison = json.loads((evaluation / "comparison.json").read_text())
    table = result_table(base.metrics, final, comparison, result.champion["name"], result.registered)
    return PipelineResult(out, base.metrics["overall"], final["overall"], comparison, result.registered, None,
                          result.table + "\n" + table)



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
