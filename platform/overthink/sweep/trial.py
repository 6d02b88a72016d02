"""One sweep trial, run by Ray Tune: train with the trial's parameters (Ray Train workers,
DeepSpeed as configured), evaluate the model on the dev set against the base model, report to
Tune. Each trial's MLflow run is a child of the sweep's run; its train and evaluate runs are
children of the trial's. Outputs are content-addressed (trials/<hash of the parameters>/), so a
re-run of the sweep reuses every finished trial's model and samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from overthink.config import apply_override, content_hash, describe_validation_error
from overthink.errors import ConfigError
from overthink.runtime.files import atomic_write_text, root_message
from overthink.train.config import TrainConfig

TRIAL_FILE = "trial.json"
# Trials outside the accuracy tolerance score below every trial inside it.
OUTSIDE_TOLERANCE = -1000.0


def trial_key(params: dict) -> str:
    return content_hash(params)


def trial_name(params: dict) -> str:
    return " ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}" for key, value in params.items())


def trial_train_config(base: dict, params: dict, output_dir: str, parent_run_id: str | None) -> TrainConfig:
    data = json.loads(json.dumps(base))
    for key, value in params.items():
        apply_override(data, key.split("."), value)
    data["output_dir"] = output_dir
    data["mlflow"] = {**data.get("mlflow", {}), "parent_run_id": parent_run_id, "run_name": None}
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, f"trial {trial_name(params)}")) from None


def objective(metrics: dict, base: dict, tolerance: float) -> float:
    """The sweep's objective: token reduction (%) when accuracy is within the tolerance of the base."""
    reduction = 100 * (1 - metrics["mean_tokens"] / base["mean_tokens"])
    return reduction if metrics["accuracy"] >= base["accuracy"] - tolerance else OUTSIDE_TOLERANCE + reduction


def make_trainable(sweep: dict, base: dict, base_dir: str, root: str, parent_run_id: str | None) -> Callable[[dict], None]:
    """The Tune function trainable; `sweep` is the SweepConfig as JSON with absolute paths."""

    def run_trial(params: dict[str, Any]) -> None:
        from ray import tune

        from overthink.sweep.config import SweepConfig

        config = SweepConfig.model_validate(sweep)
        metrics = train_and_evaluate(config, params, base, base_dir, Path(root), parent_run_id)
        tune.report(metrics)

    return run_trial


def train_and_evaluate(config, params: dict, base: dict, base_dir: str, root: Path, parent_run_id: str | None) -> dict:
    from overthink.evaluate.stage import run_evaluate
    from overthink.runtime.tracking import log_batch, open_run
    from overthink.train.stage import run_train

    key, name = trial_key(params), trial_name(params)
    folder = root / "trials" / key
    folder.mkdir(parents=True, exist_ok=True)
    mlflow_config = config.mlflow.model_copy(update={"parent_run_id": parent_run_id})
    opened = open_run(mlflow_config, "trial", f"trial {name}", tags={"overthink.trial": key})
    client, run_id = opened if opened else (None, None)
    try:
        if client:
            log_batch(client, run_id, params=params)
        train = trial_train_config(config.train.model_dump(mode="json"), params, str(folder / "train"), run_id)
        trained = run_train(train)
        evaluate = config.evaluate.model_validate({
            **config.evaluate.model_dump(mode="json"), "model": str(trained.model_dir), "name": name,
            "output_dir": str(folder / "evaluate"), "baseline": base_dir, "train_run_id": trained.run_id,
            "mlflow": {**mlflow_config.model_dump(), "parent_run_id": run_id, "run_name": None}})
        evaluated = run_evaluate(evaluate)
        overall, change = evaluated.metrics["overall"], evaluated.comparison["overall"]
        metrics = {
            "accuracy": overall["accuracy"], "mean_tokens": overall["mean_tokens"],
            "mean_solutions": overall["mean_solutions"], "outcome_efficiency": overall["outcome_efficiency"],
            "process_efficiency": overall["process_efficiency"],
            "token_reduction_pct": change["token_reduction_pct"], "accuracy_change": change["accuracy_change"],
            "objective": objective(overall, base, config.search.tolerance),
            **{f"train.{k}": v for k, v in trained.summary["metrics"].items()},
        }
        record = {"key": key, "name": name, "params": params, "metrics": metrics, "mlflow_run_id": run_id,
                  "model_dir": str(trained.model_dir), "model_uri": trained.summary.get("mlflow_model_uri"),
                  "train_run_id": trained.run_id, "evaluate_run_id": evaluated.run_id, "evaluate_dir": str(folder / "evaluate")}
        atomic_write_text(folder / TRIAL_FILE, json.dumps(record, indent=2))
        if client:
            log_batch(client, run_id, metrics=metrics)
            client.set_tag(run_id, "overthink.model_dir", str(trained.model_dir))
            client.set_terminated(run_id, "FINISHED")
        return {**metrics, "trial_key": key}
    except BaseException as err:
        if client:
            client.set_tag(run_id, "overthink.error", root_message(err)[:5000])
            client.set_terminated(run_id, "FAILED")
        raise

