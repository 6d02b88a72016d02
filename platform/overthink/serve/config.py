"""Config of the serve stage: the engine, the thinking policy a request gets by default, request
limits, and the Ray Serve deployment (replicas, autoscaling, bounded queue)."""

from __future__ import annotations

from pydantic import Field, model_validator

from overthink.config import Section, Settings, wiring_of
from overthink.policy.config import PolicyConfig
from overthink.runtime.config import Runtime
from overthink.runtime.placement import Placement
from overthink.runtime.vllm_engine import VLLMSettings

CHAMPION = "models:/overthink-organism@champion"


class DeploymentConfig(Section):
    min_replicas: int = Field(1, ge=0, description="Autoscaling: replicas kept at least (0 scales to zero).")
    max_replicas: int = Field(1, ge=1, description="Autoscaling: replicas at most.")
    target_ongoing_requests: float = Field(
        16, gt=0, description="Autoscaling: requests in flight per replica the autoscaler aims for."
    )
    max_ongoing_requests: int = Field(64, ge=1, description="Requests one replica runs at once (vLLM batches them).")
    max_queued_requests: int = Field(
        128, ge=0, description="Requests waiting for a replica at most; beyond, 503 with Retry-After."
    )
    retry_after_s: int = Field(5, ge=0, description="Retry-After seconds sent with an overload 503.")
    health_check_period_s: float = Field(10, gt=0, description="How often Serve asks a replica if its engine lives.")
    graceful_shutdown_timeout_s: float = Field(20, ge=0, description="Time in-flight requests get on shutdown.")

    @model_validator(mode="after")
    def _replicas(self):
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas={self.min_replicas} > max_replicas={self.max_replicas}")
        return self


class LimitsConfig(Section):
    default_max_tokens: int = Field(
        4096,
        ge=1,
        description="max_tokens of a request that sets none (vLLM's own server would let it fill the context).",
    )
    max_tokens: int | None = Field(
        None,
        ge=1,
        description="Largest max_tokens (or max_completion_tokens) accepted, a 400 beyond; null = none but "
        "vLLM's own (the context left after the prompt).",
    )
    max_thinking_budget: int | None = Field(None, ge=0, description="Largest thinking budget accepted; null = any.")


class ServeSettings(Settings):
    """How the model is served."""

    engine: VLLMSettings = Field(default_factory=VLLMSettings, description="The vLLM engine of a replica.")
    policy: PolicyConfig = Field(
        default_factory=PolicyConfig, description="Thinking control of requests that ask none."
    )
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="Request validation limits.")
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig, description="Ray Serve deployment.")
    placement: Placement = Field(
        default_factory=Placement,
        description="Where replicas run (GPUs per replica = engine.tensor_parallel_size); their number is "
        "deployment.min_replicas..max_replicas, so count is not used.",
    )

    @model_validator(mode="after")
    def _replicas_are_autoscaled(self):
        if self.placement.count is not None:
            raise ValueError("placement.count: serve's replicas are deployment.min_replicas..max_replicas")
        return self


class ServeConfig(Runtime, ServeSettings):
    """The serve stage: settings plus what is served and where."""

    model: str = Field(
        CHAMPION,
        description="What to serve: a Hugging Face folder, hub id, `organism`, or an MLflow model URI "
        "(models:/NAME@alias, runs:/RUN/model).",
    )
    served_name: str | None = Field(
        None, description="The model name clients send; null = the registered model's name, else the folder's."
    )
    host: str = Field("127.0.0.1", description="HTTP bind address (0.0.0.0 to accept other machines).")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port.")
    app_name: str = Field("overthink", description="Ray Serve application name.")


wiring_of(ServeConfig, ServeSettings)
