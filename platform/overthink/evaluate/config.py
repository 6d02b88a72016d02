"""Config of the evaluate stage: the model, the benchmark sets (the sample stage's `problems`),
how to sample and analyze, and the baseline to compare against."""

from __future__ import annotations

from pydantic import Field

from overthink.analyze.config import AnalyzeConfig
from overthink.config import Section
from overthink.runtime.config import MlflowConfig, RayConfig
from overthink.sample.config import SampleConfig


class EvaluateConfig(Section):
    model: str = Field(
        "organism", description="Checkpoint: a Hugging Face folder, `organism`, or an MLflow model URI (models:/…, runs:/…).")
    name: str | None = Field(None, description="Name of the model in tables; null = from the model path or URI.")
    output_dir: str | None = Field(None, description="Folder for samples/, analysis/, evaluation.md and comparison.json.")
    baseline: str | None = Field(
        None, description="An earlier `overthink evaluate` output folder (or analyzed.parquet) to compare against.")
    sample: SampleConfig = Field(
        default_factory=SampleConfig,
        description="Benchmarks and sampling (problems, sampling, engine, prompt); engine.model and output_dir are set by evaluate.")
    analyze: AnalyzeConfig = Field(
        default_factory=AnalyzeConfig,
        description="Segmentation, grading and judging of the samples; input, output_dir and tokenizer are set by evaluate.")
    bootstrap_samples: int = Field(2000, ge=100, description="Bootstrap resamples of the accuracy-change interval.")
    train_run_id: str | None = Field(
        None, description="MLflow run of the training that made the model; null = found from the model (train output or URI).")
    ray: RayConfig = Field(default_factory=RayConfig, description="Ray runtime.")
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig, description="MLflow tracking.")
