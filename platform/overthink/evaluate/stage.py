"""`overthink evaluate`: a checkpoint × benchmark sets -> sample (vLLM on Ray Data) -> analyze ->
OUTPUT/evaluation.md (the paper's table layout per dataset) and, against a baseline evaluation,
OUTPUT/comparison.json (token reduction, accuracy change with a 95% bootstrap interval). One
MLflow run holds it all, tagged with the training run it evaluates; an accuracy-vs-tokens plot
of every evaluation in the experiment is attached. Sampling and analysis resume and reuse like
their own stages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from overthink.errors import ConfigError, InputError
from overthink.evaluate.compare import ROW_KEYS, compare, comparison_markdown
from overthink.evaluate.config import EvaluateConfig
from overthink.runtime.files import atomic_write_text
from overthink.runtime.models import require_model_folder

RESULT_FILE = "evaluation.md"
COMPARISON_FILE = "comparison.json"
MLFLOW_URI_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


@dataclass
class EvaluateResult:
    output_dir: Path
    metrics: dict
    comparison: dict | None
    run_id: str | None
    table: str


def resolve_checkpoint(config: EvaluateConfig, out: Path) -> tuple[str, str, str | None]:
    """(local model folder, display name, training run id or None)."""
    if config.model.startswith(MLFLOW_URI_SCHEMES):
        import mlflow

        from overthink.runtime.tracking import tracking_uri

        mlflow.set_tracking_uri(tracking_uri(config.mlflow))
        try:
            root = Path(mlflow.artifacts.download_artifacts(artifact_uri=config.model, dst_path=str(out / "checkpoint")))
            run_id = mlflow.models.get_model_info(config.model).run_id
        except Exception as err:  # MLflow raises several types for a missing model or run
            raise InputError(f"model={config.model}: cannot fetch it from MLflow ({err})") from None
        folders = [p.parent for p in sorted(root.rglob("config.json"))]
        if not folders:
            raise InputError(f"model={config.model}: the MLflow artifacts hold no Hugging Face folder (config.json)")
        return str(folders[0]), config.name or config.model, run_id
    from overthink.sample.stage import resolve_model

    path, name = resolve_model(config.model)
    require_model_folder(path)
    done = Path(path).parent / "_SUCCESS"  # a train stage output: OUTPUT/model beside OUTPUT/_SUCCESS
    run_id = json.loads(done.read_text()).get("run_id") if done.is_file() else None
    shown = Path(path).parent.name if done.is_file() else (Path(name).name or name)
    return path, config.name or shown, run_id


def baseline_rows(config: EvaluateConfig) -> list[dict] | None:
    if not config.baseline:
        return None
    path = Path(config.baseline)
    if path.is_dir():
        path = path / "analysis" / "analyzed.parquet" if (path / "analysis").is_dir() else path / "analyzed.parquet"
    if not path.is_file():
        raise InputError(f"baseline={config.baseline}: no {path} (give an `overthink evaluate` output folder)")
    return pq.read_table(path, columns=list(ROW_KEYS)).to_pylist()


def run_evaluate(config: EvaluateConfig) -> EvaluateResult:
    from overthink.analyze.report import table_markdown
    from overthink.analyze.stage import run_analyze
    from overthink.sample.stage import run_sample

    if not config.output_dir:
        raise ConfigError("no output folder: set --output (output_dir)")
    out = Path(config.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    baseline = baseline_rows(config)  # fail on a bad baseline before sampling
    model, name, train_run = resolve_checkpoint(config, out)
    train_run = config.train_run_id or train_run
    quiet = {"mlflow": {"enabled": False}, "ray": config.ray.model_dump()}
    sample = config.sample.model_validate({**config.sample.model_dump(), **quiet, "output_dir": str(out / "samples"),
                                           "engine": {**config.sample.engine.model_dump(), "model": model}})
    run_sample(sample)
    analyze = config.analyze.model_validate({
        **config.analyze.model_dump(), **quiet, "output_dir": str(out / "analysis"), "tokenizer": model,
        "input": {**config.analyze.input.model_dump(), "path": str(out / "samples" / "samples.parquet")},
        "report": {**config.analyze.report.model_dump(), "model_name": name}})
    analysis = run_analyze(analyze, use_ray=True)
    table = table_markdown(analysis.metrics, name)
    comparison = None
    if baseline is not None:
        rows = pq.read_table(out / "analysis" / "analyzed.parquet", columns=list(ROW_KEYS)).to_pylist()
        comparison = compare(baseline, rows, resamples=config.bootstrap_samples)
        atomic_write_text(out / COMPARISON_FILE, json.dumps(comparison, indent=2))
        table += "\n" + comparison_markdown(comparison, name, "baseline")
    atomic_write_text(out / RESULT_FILE, table)
    atomic_write_text(out / "config.yaml", config.to_yaml())
    run_id = log_to_mlflow(config, analysis.metrics, comparison, out, name, train_run)
    return EvaluateResult(out, analysis.metrics, comparison, run_id, table)


def log_to_mlflow(config: EvaluateConfig, metrics: dict, comparison: dict | None, out: Path, name: str,
                  train_run: str | None) -> str | None:
    from overthink.runtime.tracking import flatten_params, mlflow_run

    tags = {"overthink.model": name}
    if train_run:
        tags["overthink.train_run_id"] = train_run
    with mlflow_run(config.mlflow, "evaluate", tags=tags) as run:
        if run is None:
            return None
        import mlflow

        if train_run:
            mlflow.set_tag("mlflow.note.content", f"Evaluates the model of training run {train_run} (#/runs/{train_run}).")
        mlflow.log_params(flatten_params({"model": config.model, "name": name, "baseline": config.baseline,
                                          "problems": [p.model_dump() for p in config.sample.problems],
                                          "sampling": config.sample.sampling.model_dump()}))
        mlflow.log_metrics(scalar_metrics(metrics, comparison))
        mlflow.log_artifact(str(out / RESULT_FILE))
        mlflow.log_artifacts(str(out / "analysis" / "report"), artifact_path="report")
        if comparison:
            mlflow.log_artifact(str(out / COMPARISON_FILE))
        plot = accuracy_vs_tokens(mlflow, run.info.experiment_id, run.info.run_id, metrics, name, out)
        mlflow.log_artifact(str(plot), artifact_path="report/plots")
        return run.info.run_id


KEYS = ("accuracy", "mean_solutions", "mean_tokens", "outcome_efficiency", "process_efficiency",
        "additional_solutions", "additional_tokens", "truncated_rate")


def scalar_metrics(metrics: dict, comparison: dict | None) -> dict:
    values = {f"overall.{k}": metrics["overall"][k] for k in KEYS if metrics["overall"].get(k) is not None}
    for dataset, m in metrics["by_dataset"].items():
        values.update({f"{dataset}.{k}": m[k] for k in KEYS if m.get(k) is not None})
    for dataset, c in ((comparison or {}).get("by_dataset") or {}).items():
        values.update({f"{dataset}.token_reduction_pct": c["token_reduction_pct"],
                       f"{dataset}.accuracy_change": c["accuracy_change"],
                       f"{dataset}.accuracy_change_ci_low": c["accuracy_change_ci95"][0],
                       f"{dataset}.accuracy_change_ci_high": c["accuracy_change_ci95"][1]})
    if comparison and comparison.get("overall"):
        values.update({"overall.token_reduction_pct": comparison["overall"]["token_reduction_pct"],
                       "overall.accuracy_change": comparison["overall"]["accuracy_change"]})
    return {k: float(v) for k, v in values.items() if v is not None}


def accuracy_vs_tokens(mlflow, experiment_id: str, run_id: str, metrics: dict, name: str, out: Path) -> Path:
    """Every evaluation of the experiment (this one included) as a point: mean tokens vs accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = mlflow.search_runs([experiment_id], filter_string="tags.`overthink.stage` = 'evaluate'", output_format="list")
    points = {r.info.run_id: (r.data.metrics.get("overall.mean_tokens"), r.data.metrics.get("overall.accuracy"),
                              r.data.tags.get("overthink.model", r.info.run_name)) for r in runs}
    points[run_id] = (metrics["overall"]["mean_tokens"], metrics["overall"]["accuracy"], name)
    figure, axes = plt.subplots(figsize=(6, 4))
    for key, (tokens, accuracy, label) in points.items():
        if tokens is None or accuracy is None:
            continue
        axes.scatter(tokens, 100 * accuracy, color="tab:red" if key == run_id else "tab:blue")
        axes.annotate(label[-24:], (tokens, 100 * accuracy), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_xlabel("mean tokens per response")
    axes.set_ylabel("accuracy (%)")
    axes.set_title("Evaluations in this experiment")
    figure.tight_layout()
    path = out / "accuracy_vs_tokens.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
