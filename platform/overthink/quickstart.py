"""The short demo: build the model organism, sample it on held-out problems with vLLM on local
Ray, analyze the samples, print the paper-style table. Its config is the sample stage's settings
with the demo's defaults, plus the output folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from overthink.config import deep_merge
from overthink.organism.config import OrganismConfig
from overthink.runtime.config import Runtime
from overthink.sample.config import SampleSettings

DEMO_SAMPLE = {
    "problems": [{"name": "organism", "split": "test", "limit": 64}],
    "engine": {"backend": "vllm", "batch_size": 256},
    "sampling": {"n": 4, "temperature": 1.0, "max_tokens": 768, "seed": 0},
    "prompt": {"system_prompt": OrganismConfig.model_fields["system_prompt"].default, "answer_instruction": ""},
}


class QuickstartConfig(Runtime, SampleSettings):
    """Sample settings (the demo's defaults under what you set) plus where the demo writes."""

    output_dir: str = Field("out/quickstart", description="Folder for samples/ and analysis/.")

    @model_validator(mode="before")
    @classmethod
    def _demo_defaults(cls, data):
        """What the user sets goes over the demo's defaults, key by key."""
        import json

        return deep_merge(json.loads(json.dumps(DEMO_SAMPLE)), data) if isinstance(data, dict) else data


def cli(config: QuickstartConfig) -> str:
    from overthink.analyze.config import AnalyzeConfig, AnalyzeSettings
    from overthink.analyze.stage import ANALYZED_FILE, run_analyze
    from overthink.sample.config import SampleConfig
    from overthink.sample.stage import SAMPLES_FILE, run_sample

    out = Path(config.output_dir)
    wiring = {"ray": config.ray, "mlflow": config.mlflow}
    samples = run_sample(SampleConfig.wire(config, model="organism", output_dir=str(out / "samples"), **wiring))
    analysis = run_analyze(
        AnalyzeConfig.wire(
            AnalyzeSettings(),
            input={"path": [str(samples.output_dir / "samples.parquet")]},
            tokenizer="organism",
            name="organism",
            output_dir=str(out / "analysis"),
            **wiring,
        )
    )
    return (
        f"{analysis.table_markdown}\n"
        f"Wrote {samples.output_dir / SAMPLES_FILE} and {analysis.output_dir / ANALYZED_FILE} "
        f"(tables and plots in {analysis.output_dir / 'report'})\n"
    )
