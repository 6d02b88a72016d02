"""Config of the pipeline: each stage's own config section, with the paths between stages, the
model and the Ray/MLflow settings filled in by the pipeline."""

from __future__ import annotations

from pydantic import Field

from overthink.analyze.config import AnalyzeConfig
from overthink.config import Section
from overthink.evaluate.config import EvaluateConfig
from overthink.pairs.config import PairsConfig
from overthink.runtime.config import MlflowConfig, RayConfig
from overthink.sample.config import SampleConfig
from overthink.sweep.config import SearchConfig
from overthink.train.config import TrainConfig

STAGE_ORDER = ("sample", "analyze", "pairs", "train", "evaluate", "register")


class PipelineConfig(Section):
    model: str = Field("organism", description="The reasoning model to sample and improve: a HF folder, hub id or `organism`.")
    output_dir: str = Field("out/pipeline", description="Folder holding one sub-folder per stage.")
    sample: SampleConfig = Field(default_factory=SampleConfig,
                                 description="Training prompts and sampling; engine.model and output_dir are set by the pipeline.")
    analyze: AnalyzeConfig = Field(default_factory=AnalyzeConfig,
                                   description="Analysis of the samples; input, output_dir and tokenizer are set by the pipeline.")
    pairs: PairsConfig = Field(default_factory=PairsConfig,
                               description="Preference pairs; input, output_dir and tokenizer are set by the pipeline.")
    train: TrainConfig = Field(default_factory=TrainConfig,
                               description="Training (or every sweep trial's base); pairs, model and output_dir are set by the pipeline.")
    sweep: SearchConfig | None = Field(
        None, description="A search space: sweep with Ray Tune instead of one training run (see `overthink sweep`).")
    evaluate: EvaluateConfig = Field(
        default_factory=EvaluateConfig,
        description="Benchmarks for the base model and the trained one (the sweep's dev set too); model and output_dir are set.")
    register_as: str | None = Field(
        "overthink", description="MLflow registered model for the result (alias `champion`); null = do not register.")
    ray: RayConfig = Field(default_factory=RayConfig, description="Ray runtime of every stage.")
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig, description="MLflow tracking of every stage.")
