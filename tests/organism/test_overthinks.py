"""The default model organism must really overthink: at temperature 1.0 on held-out problems,
through the real sample (vLLM on Ray) and analyze stages. Builds it once (~5 min) into the
user cache, as `overthink organism build` does."""

import json

import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.stage import run_analyze
from overthink.config import load_config
from overthink.organism.build import build_organism
from overthink.organism.config import OrganismConfig
from overthink.sample.config import SampleConfig
from overthink.sample.stage import run_sample

pytestmark = pytest.mark.slow


def test_default_organism_overthinks_and_is_accurate(tmp_path):
    organism = OrganismConfig()
    path = build_organism(organism, progress=False)
    samples = run_sample(
        load_config(
            SampleConfig,
            None,
            [
                "problems=[{name: organism, split: test, limit: 96}]",
                f"model={path}",
                "sampling.n=2",
                "sampling.temperature=1.0",
                "sampling.max_tokens=768",
                "engine.batch_size=192",
                f"output_dir={tmp_path / 's'}",
                f"prompt.system_prompt={json.dumps(organism.system_prompt)}",
                "prompt.answer_instruction=''",
                "mlflow.enabled=false",
            ],
        )
    )
    overall = run_analyze(
        load_config(
            AnalyzeConfig,
            None,
            [
                f"input.path={samples.output_dir / 'samples.parquet'}",
                f"output_dir={tmp_path / 'a'}",
                f"tokenizer={path}",
                "mlflow.enabled=false",
            ],
        ),
        use_ray=False,
    ).metrics["overall"]
    print(
        {
            k: overall[k]
            for k in (
                "accuracy",
                "mean_solutions",
                "mean_tokens",
                "first_solution_correct_rate",
                "outcome_efficiency",
                "process_efficiency",
                "truncated_rate",
            )
        }
    )
    assert overall["mean_solutions"] >= 2.5
    assert overall["accuracy"] >= 0.85
    assert overall["first_solution_correct_rate"] >= 0.75  # most first solutions are already correct
    assert overall["truncated_rate"] <= 0.05
