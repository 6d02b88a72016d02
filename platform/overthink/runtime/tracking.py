"""MLflow: a local sqlite store in ./mlflow unless MLFLOW_TRACKING_URI or the config says
otherwise (MLflow 3.17 no longer accepts the plain file store)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from overthink.runtime.config import MlflowConfig

LOCAL_DIR = Path("mlflow")
PARENT_TAG = "mlflow.parentRunId"


def tracking_uri(config: MlflowConfig) -> str:
    if config.tracking_uri:
        return config.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    LOCAL_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{(LOCAL_DIR / 'mlflow.db').resolve()}"


def ensure_experiment(mlflow, name: str, uri: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifacts = None
    if uri.startswith("sqlite:///"):  # keep artifacts beside the database, not in the cwd
        artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=artifacts)


@contextmanager
def mlflow_run(config: MlflowConfig, stage: str, tags: dict | None = None):
    """Yield an active MLflow run (or None when disabled); print where it went."""
    if not config.enabled:
        yield None
        return
    import mlflow

    uri = tracking_uri(config)
    mlflow.set_tracking_uri(uri)
    experiment_id = ensure_experiment(mlflow, config.experiment, uri)
    name = config.run_name or f"{stage}-{datetime.now():%Y%m%d-%H%M%S}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=run_tags(config, stage, tags)) as run:
        yield run
    print(f"MLflow run {run.info.run_id} ({name}) in experiment '{config.experiment}' at {uri}")
    if ui_command(config):
        print(f"Open the UI: {ui_command(config)}")


def run_tags(config: MlflowConfig, stage: str, tags: dict | None) -> dict:
    out = {"overthink.stage": stage, **(tags or {})}
    if config.parent_run_id:
        out[PARENT_TAG] = config.parent_run_id  # what the UI nests by (start_run(nested=True) sets the same)
    return out


def open_run(config: MlflowConfig, stage: str, name: str, tags: dict | None = None):
    """A run that is not the process's active run: (client, run_id), or None when disabled. For
    runs that outlive one `with` block or span processes (a sweep, its trials, the pipeline); the
    caller ends it with `client.set_terminated(run_id, status)`."""
    if not config.enabled:
        return None
    import mlflow

    uri = tracking_uri(config)
    mlflow.set_tracking_uri(uri)
    experiment_id = ensure_experiment(mlflow, config.experiment, uri)
    client = mlflow.MlflowClient(uri)
    run = client.create_run(experiment_id, run_name=name, tags=run_tags(config, stage, tags))
    return client, run.info.run_id


def log_batch(client, run_id: str, params: dict | None = None, metrics: dict | None = None) -> None:
    """Params and scalar metrics onto a run that is not the active one (see open_run)."""
    import time

    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    client.log_batch(run_id, params=[Param(k, str(v)) for k, v in (params or {}).items()],
                     metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()])


CHAMPION_ALIAS = "champion"


def register_model(model_uri: str, name: str, alias: str = CHAMPION_ALIAS, tags: dict | None = None) -> str:
    """A new version of registered model `name` from `model_uri`, pointed to by `alias`; returns
    `models:/name@alias`."""
    import mlflow

    version = mlflow.register_model(model_uri, name, tags=tags)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version.version)
    return f"models:/{name}@{alias}"


def ui_command(config: MlflowConfig) -> str | None:
    import sys

    uri = tracking_uri(config)
    beside = Path(sys.executable).parent / "mlflow"  # the venv's mlflow, usable without activating it
    program = str(beside) if beside.exists() else "mlflow"
    return f"{program} ui --backend-store-uri {uri}" if uri.startswith("sqlite:///") else None


def flatten_params(data: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_params(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out
