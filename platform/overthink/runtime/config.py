"""Wiring sections shared by every stage: where Ray runs and where MLflow records.

These are wiring, not settings: a composite stage (evaluate, sweep, pipeline) passes its own to
the stages it runs, so they appear once, at the top of every stage config."""

from __future__ import annotations

from pydantic import Field

from overthink.config import Section


class RayConfig(Section):
    address: str | None = Field(
        None, description="Ray cluster address; null = RAY_ADDRESS if set, else a new local instance."
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a new local instance; null = all of this machine's.")


class MlflowConfig(Section):
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; null = MLFLOW_TRACKING_URI if set, else sqlite in ./mlflow/."
    )
    experiment: str = Field("overthink", description="MLflow experiment name.")
    run_name: str | None = Field(None, description="MLflow run name; null = generated from stage and time.")
    enabled: bool = Field(True, description="Log to MLflow at all.")
    system_metrics: bool = Field(
        True,
        description="Record the driver's CPU, memory, disk, network and GPU use (where a GPU is present) in "
        "each stage run, as MLflow system metrics (system/*).",
    )
    system_metrics_every_s: float = Field(10.0, ge=0.5, description="Seconds between system metric samples.")
    progress_every_s: float = Field(
        10.0,
        ge=0,
        description="Least seconds between the progress metrics (progress/*) a running stage logs, so a long "
        "job can be watched in the MLflow UI; 0 = at every finished batch.",
    )


class Runtime(Section):
    """The wiring every stage config ends with: where it runs (Ray) and records (MLflow)."""

    ray: RayConfig = Field(default_factory=RayConfig, description="Ray runtime.")
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig, description="MLflow tracking.")
