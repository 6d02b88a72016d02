"""MLflow: a local sqlite store in ./mlflow unless MLFLOW_TRACKING_URI or the config says
otherwise (MLflow 3.17 no longer accepts the plain file store)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from overthink.runtime.config import MlflowConfig

LOCAL_DIR = Path("mlflow")


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
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags={"overthink.stage": stage, **(tags or {})}) as run:
        yield run
    print(f"MLflow run {run.info.run_id} ({name}) in experiment '{config.experiment}' at {uri}")
    if uri.startswith("sqlite:///"):
        print(f"Open the UI: mlflow ui --backend-store-uri {uri}")


def flatten_params(data: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_params(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out
