"""The analyze stage for real: local Ray Data, MLflow on sqlite, files on disk."""

import json

import mlflow
import pyarrow.parquet as pq
import pytest

from locations import EXAMPLES, OFFICIAL, REPO, need
from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.schema import ANALYZED
from overthink.analyze.stage import run_analyze
from overthink.config import load_config

pytestmark = pytest.mark.slow


def config(tmp_path, *overrides, source=EXAMPLES):
    return load_config(
        AnalyzeConfig,
        None,
        [f"input.path={source}", f"output_dir={tmp_path / 'out'}", "rows_per_shard=5", "ray.num_cpus=2", *overrides],
    )


def test_on_ray_writes_outputs_and_one_mlflow_run(tmp_path):
    result = run_analyze(config(tmp_path, "mlflow.run_name=ray-examples"), use_ray=True)
    table = pq.read_table(result.output_dir / "analyzed.parquet")
    assert table.schema.equals(ANALYZED) and table.num_rows == 24
    assert table.column("source_row").to_pylist() == list(range(1, 25))  # input order kept
    metrics = json.loads((result.output_dir / "metrics.json").read_text())
    overall = metrics["overall"]
    assert overall["responses"] == 24 and overall["mean_solutions"] > 1.5
    assert overall["ci95"]["accuracy"][0] <= overall["accuracy"] <= overall["ci95"]["accuracy"][1]
    assert set(metrics["by_level"]) == {"1", "2", "3"}
    for name in (
        "table.md",
        "table.csv",
        "responses.html",
        "plots/solutions_per_response.png",
        "plots/first_correct_position.png",
        "plots/distinctness_by_position.png",
        "plots/tokens_per_response.png",
    ):
        assert (result.output_dir / "report" / name).stat().st_size > 0
    run = mlflow.get_run(result.run_id)
    assert run.data.metrics["overall.accuracy"] == pytest.approx(overall["accuracy"])
    assert run.data.params["segment.method"] == "rules"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)}
    assert {"metrics.json", "report", "data"} <= artifacts
    assert "report/responses.html" in {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "report")}


def test_ray_and_in_process_agree(tmp_path):
    on_ray = run_analyze(config(tmp_path / "a", "mlflow.enabled=false"), use_ray=True)
    local = run_analyze(config(tmp_path / "b", "mlflow.enabled=false"), use_ray=False)
    drop = ["source_file"]
    a = pq.read_table(on_ray.output_dir / "analyzed.parquet").drop(drop)
    b = pq.read_table(local.output_dir / "analyzed.parquet").drop(drop)
    assert a.equals(b)


def test_rerun_reuses_finished_output(tmp_path):
    cfg = config(tmp_path, "mlflow.enabled=false")
    first = run_analyze(cfg, use_ray=False)
    stamp = (first.output_dir / "analyzed.parquet").stat().st_mtime_ns
    again = run_analyze(cfg, use_ray=False)
    assert again.reused and (first.output_dir / "analyzed.parquet").stat().st_mtime_ns == stamp
    changed = run_analyze(config(tmp_path, "mlflow.enabled=false", "distinct.threshold=0.9"), use_ray=False)
    assert not changed.reused


def test_interrupted_run_resumes_from_finished_shards(tmp_path):
    """Finished shards are kept; a re-run computes only the missing ones."""
    cfg = config(tmp_path, "mlflow.enabled=false")
    done = run_analyze(cfg, use_ray=False)
    fingerprint = json.loads((done.output_dir / "_SUCCESS.json").read_text())["fingerprint"]
    # Recreate the state of a run that died after its first shard: one part file, no result.
    table = pq.read_table(done.output_dir / "analyzed.parquet")
    parts = done.output_dir / ".parts" / fingerprint
    parts.mkdir(parents=True)
    first = table.slice(0, 5)
    marked = first.set_column(
        first.schema.get_field_index("final_answer"), "final_answer", __import__("pyarrow").array(["from-part"] * 5)
    )
    pq.write_table(marked, parts / "shard-000000.parquet")
    for name in ("_SUCCESS.json", "analyzed.parquet"):
        (done.output_dir / name).unlink()
    resumed = run_analyze(cfg, use_ray=True)
    answers = pq.read_table(resumed.output_dir / "analyzed.parquet").column("final_answer").to_pylist()
    assert answers[:5] == ["from-part"] * 5  # shard 0 was reused, not recomputed
    assert "from-part" not in answers[5:] and len(answers) == 24
    assert not (done.output_dir / ".parts").exists()


def test_official_examples_with_the_shipped_config(tmp_path):
    cfg = load_config(
        AnalyzeConfig,
        REPO / "configs" / "analyze" / "overthinking_official.yaml",
        [f"input.path={need(OFFICIAL)}", f"output_dir={tmp_path / 'o'}", "mlflow.enabled=false"],
    )
    result = run_analyze(cfg, use_ray=False)
    overall = result.metrics["overall"]
    assert overall["responses"] == 5 and overall["mean_solutions"] == pytest.approx((4 + 2 + 2 + 7 + 5) / 5)
    assert "QwQ-32B-Preview" in result.table_markdown
