"""The pipeline's own logic. The whole pipeline runs for real on the default model organism as a
Ray job on two nodes (tests/cluster/test_two_nodes.py: sample -> analyze -> pairs -> train ->
evaluate -> register, then switched to a sweep that reuses every unchanged stage), and from the
installed wheel in tests/test_package.py."""

from __future__ import annotations

import pytest

from overthink.config import load_config
from overthink.errors import ConfigError
from overthink.pipeline.config import PipelineConfig
from overthink.pipeline.stage import clear_from, run_pipeline

pytestmark = pytest.mark.slow

PROMPT = (
    "{system_prompt: 'You are a careful math assistant. Think step by step, then give the final answer in "
    "\\boxed{}.', answer_instruction: ''}"
)


def pipeline_config(tmp_path, *overrides):
    return load_config(
        PipelineConfig,
        None,
        [
            "model=organism",
            f"output_dir={tmp_path / 'run'}",
            "register_as=pipeline-test",
            "ray.num_cpus=2",
            "sample.problems=[{name: organism, split: train, limit: 24}]",
            "sample.sampling.n=2",
            f"sample.prompt={PROMPT}",
            "sample.engine.batch_size=48",
            "pairs.strategies=[fcs_reflection]",
            "train.strategy=fcs_reflection",
            "train.loss=simpo",
            "train.learning_rate=1e-4",
            "train.max_steps=2",
            "train.per_device_batch_size=4",
            "train.max_length=1024",
            "train.placement.cpus=0.9",
            "evaluate.sample.problems=[{name: organism, limit: 6}]",
            "evaluate.sample.sampling.n=1",
            f"evaluate.sample.prompt={PROMPT}",
            *overrides,
        ],
    )


def test_from_stage_clears_that_stage_and_later_ones_only(tmp_path):
    for folder in ("samples", "analysis", "pairs", "train", "sweep", "evaluate/base"):
        (tmp_path / folder).mkdir(parents=True)
    clear_from(tmp_path, "pairs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis", "samples"]
    clear_from(tmp_path, "sample")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(
        ConfigError, match="--from 'pair': give one of sample, analyze, pairs, train, evaluate, register"
    ):
        clear_from(tmp_path, "pair")


def test_missing_problem_sets_are_named_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match=r"no problems: set sample.problems"):
        run_pipeline(pipeline_config(tmp_path, "sample.problems=[]"))
    with pytest.raises(ConfigError, match=r"no problems: set evaluate.sample.problems"):
        run_pipeline(pipeline_config(tmp_path, "evaluate.sample.problems=[]"))
    assert not (tmp_path / "run").exists()
