"""The pipeline for real on the default model organism (built by tests/organism, cached): sample
-> analyze -> pairs -> train -> evaluate -> register, then the same pipeline switched to a sweep,
which must reuse every unchanged stage's output."""

from __future__ import annotations

import json

import mlflow
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
            "train.workers.cpus_per_worker=0.9",
            "evaluate.sample.problems=[{name: organism, limit: 6}]",
            "evaluate.sample.sampling.n=1",
            f"evaluate.sample.prompt={PROMPT}",
            *overrides,
        ],
    )


def mtimes(folder, names):
    return {name: (folder / name).stat().st_mtime_ns for name in names}


def test_pipeline_trains_registers_then_reuses_stages_for_a_sweep(tmp_path):
    first = run_pipeline(pipeline_config(tmp_path))
    out = first.output_dir
    assert "| organism | base | 6 |" in first.table and "| organism | simpo-fcs_reflection | 6 |" in first.table
    assert "Token reduction" in first.table and first.registered == "models:/pipeline-test@champion"
    assert (out / "result.md").read_text() == first.table
    client = mlflow.MlflowClient()
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["overthink.registered_model"] == first.registered
    children = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{first.run_id}'")
    assert sorted(r.data.tags["overthink.stage"] for r in children) == [
        "analyze",
        "evaluate",
        "evaluate",
        "pairs",
        "sample",
        "train",
    ]
    train_run = next(r for r in children if r.data.tags["overthink.stage"] == "train")
    assert client.get_model_version_by_alias("pipeline-test", "champion").run_id == train_run.info.run_id

    kept = {
        "samples": ["samples.parquet"],
        "analysis": ["analyzed.parquet", "_SUCCESS.json"],
        "pairs": ["pairs.parquet", "_SUCCESS.json"],
        "evaluate/base/analysis": ["analyzed.parquet"],
    }
    before = {folder: mtimes(out / folder, names) for folder, names in kept.items()}
    second = run_pipeline(pipeline_config(tmp_path, "sweep={space: {loss: {grid: [simpo]}}, tolerance: 1.0}"))
    assert {folder: mtimes(out / folder, names) for folder, names in kept.items()} == before  # nothing recomputed
    assert json.loads((out / "samples" / "sample_metrics.json").read_text())["new_samples"] == 0
    assert (out / "sweep" / "summary.md").is_file() and "| champion |" in second.table
    assert second.base == first.base and second.final["mean_tokens"] > 0
    assert second.registered == first.registered  # the alias moved to the sweep's champion: version 2
    assert int(client.get_model_version_by_alias("pipeline-test", "champion").version) == 2


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
