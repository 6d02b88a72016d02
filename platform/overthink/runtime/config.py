"""Config sections shared by every stage: Ray and MLflow."""

from __future__ import annotations

from pydantic import Field

from overthink.config import Section


class RayConfig(Section):
    address: str | None = Field(
        None, description="Ray cluster address; null = RAY_ADDRESS if set, else a new local instance."
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a new local instance; null = all of this machine's.")
    workers: int | None = Field(
        None, ge=1, description="Analysis actors; null = one per CPU of the cluster (at most the shard count)."
    )
    cpus_per_worker: float = Field(
        0.9, gt=0, description="CPUs each actor reserves; fractional so Ray Data's own tasks still fit on small machines."
    )
    rows_per_shard: int = Field(500, ge=1, description="Input rows per Ray Data shard (one map call).")


class MlflowConfig(Section):
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; null = MLFLOW_TRACKING_URI if set, else sqlite in ./mlflow/."
    )
    experiment: str = Field("overthink", description="MLflow experiment name.")
    run_name: str | None = Field(None, description="MLflow run name; null = generated from stage and time.")
    enabled: bool = Field(True, description="Log to MLflow at all.")
    parent_run_id: str | None = Field(
        None, description="Nest this stage's run under that MLflow run (the sweep and the pipeline set it).")
