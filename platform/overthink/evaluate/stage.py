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

from overthink.analyze.config import AnalyzeConfig
from overthink.errors import InputError
from overthink.evaluate.compare import ROW_KEYS, compare, comparison_markdown
from overthink.evaluate.config import EvaluateConfig
from overthink.runtime.files import atomic_write_text, read_parquet
from overthink.runtime.models import MLFLOW_SCHEMES, ResolvedModel, resolve_model
from overthink.runtime.outputs import claim_output_dir, require_output_dir
from overthink.sample.config import SampleConfig

RESULT_FILE = "evaluation.md"
EVALUATION_FILE = "evaluation.json"  # this stage's public result: what sweep and pipeline read
COMPARISON_FILE = "comparison.json"


@dataclass
class EvaluateResult:
    output_dir: Path
    metrics: dict
    comparison: dict | None
    run_id: str | None
    table: str


def plan(config: EvaluateConfig, model_path: str | None = None) -> dict:
    """The sample and analyze configs this evaluation runs (model specs are resolved when it runs:
    `model_path` is the resolved model, shown as the spec until then)."""
    out = Path(config.output_dir or "OUTPUT").resolve()
    model = model_path or config.model
    wiring = {"ray": config.ray, "mlflow": {**config.mlflow.model_dump(), "enabled": False}}
    return {
        "sample": SampleConfig.wire(config.sample, model=model, output_dir=str(out / "samples"), **wiring),
        "analyze": AnalyzeConfig.wire(
            config.analyze,
            input={"path": [str(out / "samples" / "samples.parquet")]},
            tokenizer=model,
            name=config.name or display_name(config.model, model) + policy_suffix(config),
            output_dir=str(out / "analysis"),
            **wiring,
        ),
    }


def policy_suffix(config: EvaluateConfig) -> str:
    """' + early exit', ' + budget 256': an inference-time cure reads as one in the tables and plot."""
    label = config.sample.policy.label()
    return f" + {label}" if label else ""


def display_name(spec: str, path: str) -> str:
    """A train output's model folder (OUTPUT/model) is named after OUTPUT; MLflow URIs show whole."""
    if spec.startswith(MLFLOW_SCHEMES):
        return spec
    folder = Path(path)
    if folder.is_dir():
        return folder.parent.name if folder.name == "model" else folder.name
    return Path(spec).name or spec


def resolve_checkpoint(config: EvaluateConfig, out: Path) -> tuple[ResolvedModel, str | None]:
    """The model (MLflow models downloaded into OUTPUT/checkpoint) and the training run behind it."""
    from overthink.runtime.tracking import tracking_uri, training_run_of

    uri = tracking_uri(config.mlflow) if config.mlflow.enabled else None
    model = resolve_model(config.model, download_dir=out / "checkpoint", tracking_uri=uri)
    train_run = (
        config.train_run_id or model.run_id or (training_run_of(model.path, config.mlflow) if model.is_local else None)
    )
    return model, train_run


def load_evaluation(folder: str | Path, key: str = "baseline") -> EvaluateResult:
    """An earlier evaluation, read from its public result file."""
    path = Path(folder) / EVALUATION_FILE
    if not path.is_file():
        raise InputError(f"{key}={folder}: no {path} (give an `overthink evaluate` output folder)")
    record = json.loads(path.read_text())
    return EvaluateResult(Path(folder), record["metrics"], record["comparison"], record["run_id"], record["table"])


def evaluation_rows(folder: str | Path, key: str = "baseline") -> list[dict]:
    """Per-response grades and lengths of an evaluation, for problem-level comparisons."""
    load_evaluation(folder, key)
    path = Path(folder) / "analysis" / "analyzed.parquet"
    return read_parquet(path, columns=ROW_KEYS, hint="an `overthink evaluate` output folder").to_pylist()


def run_evaluate(config: EvaluateConfig, parent_run_id: str | None = None) -> EvaluateResult:
    from overthink.analyze.report import table_markdown
    from overthink.analyze.stage import run_analyze
    from overthink.runtime.metric_names import comparison_metrics, summary_metrics
    from overthink.runtime.tracking import stage_run
    from overthink.sample.stage import run_sample

    out = require_output_dir(config.output_dir).resolve()
    claim_output_dir(out, "evaluate")
    baseline = evaluation_rows(config.baseline) if config.baseline else None  # fail on a bad baseline before sampling
    model, train_run = resolve_checkpoint(config, out)
    stages = plan(config.model_copy(update={"output_dir": str(out)}), model.path)
    name = stages["analyze"].name
    # sample and analyze have no runs of their own here: their progress goes to this one
    with stage_run(config.mlflow, "evaluate", parent_run_id, tags=run_tags(config, name, train_run), output=out) as run:
        run.log_params(run_params(config))
        run_sample(stages["sample"])
        analysis = run_analyze(stages["analyze"], use_ray=True)
        table = table_markdown(analysis.metrics, name)
        comparison = None
        if baseline is not None:
            rows = read_parquet(out / "analysis" / "analyzed.parquet", columns=ROW_KEYS).to_pylist()
            comparison = compare(baseline, rows, resamples=config.bootstrap_samples)
            atomic_write_text(out / COMPARISON_FILE, json.dumps(comparison, indent=2))
            table += "\n" + comparison_markdown(comparison, name, "baseline")
        atomic_write_text(out / RESULT_FILE, table)
        atomic_write_text(out / "config.yaml", config.to_yaml())
        run.log_metrics({**summary_metrics(analysis.metrics), **comparison_metrics(comparison)})
        run.log_artifact(out / RESULT_FILE)
        run.log_artifacts(out / "analysis" / "report", artifact_path="report")
        if comparison:
            run.log_artifact(out / COMPARISON_FILE)
        if run.id:
            plot = accuracy_vs_tokens(run.client, run.experiment_id, run.id, analysis.metrics, name, out)
            run.log_artifact(plot, artifact_path="report/plots")
    atomic_write_text(
        out / EVALUATION_FILE,
        json.dumps(
            {
                "name": name,
                "model": config.model,
                "metrics": analysis.metrics,
                "comparison": comparison,
                "run_id": run.id,
                "table": table,
            },
            indent=2,
        ),
    )
    return EvaluateResult(out, analysis.metrics, comparison, run.id, table)


def cli(config: EvaluateConfig) -> str:
    result = run_evaluate(config)
    return result.table + f"Wrote {result.output_dir / RESULT_FILE}\n"


def run_tags(config: EvaluateConfig, name: str, train_run: str | None) -> dict:
    """Where the model and baseline come from are tags, not parameters: the UI's comparison of two
    evaluations then plots what differs in how they were made (sampling, policy), not their paths."""
    tags = {"overthink.model": name, "overthink.model_spec": config.model}
    if config.baseline:
        tags["overthink.baseline"] = str(config.baseline)
    if train_run:
        tags["overthink.train_run_id"] = train_run
        tags["mlflow.note.content"] = f"Evaluates the model of training run {train_run} (#/runs/{train_run})."
    return tags


def run_params(config: EvaluateConfig) -> dict:
    return {
        "problems": ",".join(p.name for p in config.sample.problems),
        "sampling": config.sample.sampling.model_dump(),
        "policy": config.sample.policy.label() or "none",
    }


def accuracy_vs_tokens(client, experiment_id: str, run_id: str, metrics: dict, name: str, out: Path) -> Path:
    """Every evaluation of the experiment (this one included) as a point: mean tokens vs accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = client.search_runs([experiment_id], filter_string="tags.`overthink.stage` = 'evaluate'")
    points = {
        r.info.run_id: (
            r.data.metrics.get("overall.mean_tokens"),
            r.data.metrics.get("overall.accuracy"),
            r.data.tags.get("overthink.model", r.info.run_name),
        )
        for r in runs
    }
    points[run_id] = (metrics["overall"]["mean_tokens"], metrics["overall"]["accuracy"], name)
    shown = sorted(
        ((key, *point) for key, point in points.items() if point[0] is not None and point[1] is not None),
        key=lambda row: -row[1],
    )
    # Numbered points and a key beside the axes: names are long and efficient points crowd together.
    figure, axes = plt.subplots(figsize=(9, 4.5))
    for number, (key, tokens, accuracy, label) in enumerate(shown, 1):
        color = "tab:red" if key == run_id else "tab:blue"
        axes.scatter(
            tokens, 100 * accuracy, color=color, label=f"{number}  {label} ({100 * accuracy:.1f}%, {tokens:.0f})"
        )
        axes.annotate(str(number), (tokens, 100 * accuracy), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, handletextpad=0.2)
    axes.set_xlabel("mean tokens per response")
    axes.set_ylabel("accuracy (%)")
    axes.set_title("Evaluations in this experiment")
    figure.tight_layout()
    path = out / "accuracy_vs_tokens.png"
    figure.savefig(path, dpi=120, bbox_inches="tight")  # the key beside the axes
    plt.close(figure)
    return path
