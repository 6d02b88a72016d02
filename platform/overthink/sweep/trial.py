"""One sweep trial, run by Ray Tune: train with the trial's parameters (Ray Train workers,
DeepSpeed as configured), evaluate the model on the dev set against the base model, report to
Tune. Each trial's MLflow run is a child of the sweep's run; its train and evaluate runs are
children of the trial's. Outputs are content-addressed (trials/<hash of the parameters>/), so a
re-run of the sweep reuses every finished trial's model and samples."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overthink.config import apply_override, content_hash
from overthink.runtime.files import atomic_write_text, root_message
from overthink.train.config import TrainConfig, TrainSettings

TRIAL_FILE = "trial.json"
# Trials outside the accuracy tolerance score below every trial inside it.
OUTSIDE_TOLERANCE = -1000.0


def trial_key(params: dict) -> str:
    return content_hash(params)


def trial_name(params: dict) -> str:
    return " ".join(
        f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}" for key, value in params.items()
    )


def trial_train_config(config, params: dict, output_dir: str) -> TrainConfig:
    """The train config of one trial: the sweep's train settings with the trial's values, wired to
    the sweep's pairs, base model, Ray and MLflow. `config` is a resolved SweepConfig."""
    data = config.train.model_dump(mode="json")
    for key, value in params.items():
        apply_override(data, key.split("."), value)
    return TrainConfig.wire(
        TrainSettings.model_validate(data),
        pairs=config.pairs,
        model=config.model,
        output_dir=output_dir,
        ray=config.ray,
        mlflow=config.mlflow,
    )


def trial_evaluate_config(config, model_dir: str, name: str, output_dir: str, base_dir: str, train_run_id: str | None):
    from overthink.evaluate.config import EvaluateConfig

    return EvaluateConfig.wire(
        config.evaluate,
        model=model_dir,
        name=name,
        output_dir=output_dir,
        baseline=base_dir,
        train_run_id=train_run_id,
        ray=config.ray,
        mlflow=config.mlflow,
    )


def objective(metrics: dict, base: dict, tolerance: float) -> float:
    """The sweep's objective: token reduction (%) when accuracy is within the tolerance of the base."""
    reduction = 100 * (1 - metrics["mean_tokens"] / base["mean_tokens"])
    return reduction if metrics["accuracy"] >= base["accuracy"] - tolerance else OUTSIDE_TOLERANCE + reduction


def make_trainable(sweep: dict, base: dict, base_dir: str, parent_run_id: str | None) -> Callable[[dict], None]:
    """The Tune function trainable; `sweep` is the resolved SweepConfig as JSON (absolute paths)."""

    def run_trial(params: dict[str, Any]) -> None:
        from ray import tune

        from overthink.sweep.config import SweepConfig

        config = SweepConfig.model_validate(sweep)
        metrics = train_and_evaluate(config, params, base, base_dir, parent_run_id)
        tune.report(metrics)

    return run_trial


def train_and_evaluate(config, params: dict, base: dict, base_dir: str, parent_run_id: str | None) -> dict:
    from overthink.evaluate.stage import run_evaluate
    from overthink.runtime.metric_names import comparison_metrics, summary_metrics
    from overthink.runtime.tracking import stage_run
    from overthink.train.stage import run_train

    key, name = trial_key(params), trial_name(params)
    folder = Path(config.output_dir) / "trials" / key
    folder.mkdir(parents=True, exist_ok=True)
    with stage_run(config.mlflow, "trial", parent_run_id, name=f"trial {name}", tags={"overthink.trial": key}) as run:
        try:
            run.log_params(params)
            trained = run_train(trial_train_config(config, params, str(folder / "train")), parent_run_id=run.id)
            evaluated = run_evaluate(
                trial_evaluate_config(
                    config, str(trained.model_dir), name, str(folder / "evaluate"), base_dir, trained.run_id
                ),
                parent_run_id=run.id,
            )
        except BaseException as err:
            run.set_tags({"overthink.error": root_message(err)[:5000]})
            raise
        overall, change = evaluated.metrics["overall"], evaluated.comparison["overall"]
        metrics = {
            "accuracy": overall["accuracy"],
            "mean_tokens": overall["mean_tokens"],
            "mean_solutions": overall["mean_solutions"],
            "outcome_efficiency": overall["outcome_efficiency"],
            "process_efficiency": overall["process_efficiency"],
            "token_reduction_pct": change["token_reduction_pct"],
            "accuracy_change": change["accuracy_change"],
            "objective": objective(overall, base, config.search.tolerance),
            **{f"train.{k}": v for k, v in trained.summary["metrics"].items()},
        }
        record = {
            "key": key,
            "name": name,
            "params": params,
            "metrics": metrics,
            "mlflow_run_id": run.id,
            "model_dir": str(trained.model_dir),
            "model_uri": trained.summary.get("mlflow_model_uri"),
            "train_run_id": trained.run_id,
            "evaluate_run_id": evaluated.run_id,
            "evaluate_dir": str(folder / "evaluate"),
        }
        atomic_write_text(folder / TRIAL_FILE, json.dumps(record, indent=2))
        run.log_metrics(
            {
                **summary_metrics(evaluated.metrics),
                **comparison_metrics(evaluated.comparison),
                "objective": metrics["objective"],
                **{k: v for k, v in metrics.items() if k.startswith("train.")},
            }
        )
        run.set_tags({"overthink.model_dir": str(trained.model_dir)})
    return {**metrics, "trial_key": key}
