"""Config of the pipeline: each stage's settings, and the model, output folder, Ray and MLflow
that the pipeline wires into every stage it runs."""

from __future__ import annotations

from pydantic import Field, field_validator

from overthink.analyze.config import AnalyzeSettings
from overthink.config import Settings, wiring_of
from overthink.errors import ConfigError
from overthink.evaluate.config import EvaluateSettings
from overthink.pairs.config import PairsSettings
from overthink.runtime.config import Runtime
from overthink.sample.config import SampleSettings
from overthink.sweep.config import SearchConfig
from overthink.train.config import TrainSettings

STAGE_ORDER = ("sample", "analyze", "pairs", "train", "evaluate", "register")


class PipelineSettings(Settings):
    """The settings of every stage the pipeline runs."""

    sample: SampleSettings = Field(default_factory=SampleSettings, description="Training prompts and sampling.")
    analyze: AnalyzeSettings = Field(default_factory=AnalyzeSettings, description="Analysis of the samples.")
    pairs: PairsSettings = Field(default_factory=PairsSettings, description="Preference pairs.")
    train: TrainSettings = Field(default_factory=TrainSettings, description="Training (or every sweep trial's base).")
    sweep: SearchConfig | None = Field(
        None, description="A search space: sweep with Ray Tune instead of one training run (see `overthink sweep`)."
    )
    evaluate: EvaluateSettings = Field(
        default_factory=EvaluateSettings,
        description="Benchmarks for the base model and the trained one (the sweep's dev set too).",
    )
    register_as: str | None = Field(
        "overthink", description="MLflow registered model for the result (alias `champion`); null = do not register."
    )

    @field_validator("sweep", mode="wrap")
    @classmethod
    def _name_keys_as_written(cls, value, handler):
        """The search config calls its space `search.space` (its place in `overthink sweep`); here
        the user wrote `sweep.space`, so that is the key an error names."""
        try:
            return handler(value)
        except ConfigError as err:
            raise ConfigError(str(err).replace("search.space", "sweep.space")) from None


class PipelineConfig(Runtime, PipelineSettings):
    """The pipeline: settings plus the model it improves, its output folder, Ray and MLflow."""

    model: str = Field(
        "organism", description="The reasoning model to sample and improve: a HF folder, hub id or `organism`."
    )
    output_dir: str = Field("out/pipeline", description="Folder holding one sub-folder per stage.")


wiring_of(PipelineConfig, PipelineSettings)
