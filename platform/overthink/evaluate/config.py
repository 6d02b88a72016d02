"""Config of the evaluate stage: the benchmark sets and how to sample and analyze them
(settings), and the model, its baseline and the output (wiring)."""

from __future__ import annotations

from pydantic import Field

from overthink.analyze.config import AnalyzeSettings
from overthink.config import Settings, wiring_of
from overthink.runtime.config import Runtime
from overthink.sample.config import SampleSettings


class EvaluateSettings(Settings):
    """The benchmarks, how they are sampled and analyzed, and the comparison's interval."""

    sample: SampleSettings = Field(
        default_factory=SampleSettings, description="Benchmarks and sampling (problems, sampling, engine, prompt)."
    )
    analyze: AnalyzeSettings = Field(
        default_factory=AnalyzeSettings, description="Segmentation, grading and judging of the samples."
    )
    bootstrap_samples: int = Field(2000, ge=100, description="Bootstrap resamples of the accuracy-change interval.")


class EvaluateConfig(Runtime, EvaluateSettings):
    """The evaluate stage: settings plus the model, its baseline and the output folder."""

    model: str = Field(
        "organism",
        description="Checkpoint: a Hugging Face folder, hub id, `organism`, or an MLflow model URI "
        "(models:/NAME@alias, runs:/RUN/model).",
    )
    name: str | None = Field(None, description="Name of the model in tables; null = from the model path or URI.")
    output_dir: str | None = Field(
        None, description="Folder for samples/, analysis/, evaluation.md and evaluation.json."
    )
    baseline: str | None = Field(None, description="An earlier `overthink evaluate` output folder to compare against.")
    train_run_id: str | None = Field(
        None,
        description="MLflow run of the training that made the model; null = found from the model (train output or "
        "URI).",
    )


wiring_of(EvaluateConfig, EvaluateSettings)
