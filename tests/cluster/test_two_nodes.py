"""Two Ray nodes on one machine, the second with a private /tmp (it sees none of the head's
scratch, like another machine), a real MLflow server, jobs submitted with `ray job submit
--working-dir`. The head advertises no CPUs, as on a real cluster, so every engine, train worker
and trial runs on the other node. Catches: code imported from the node's install instead of the
submitted tree, a sqlite store only the head can open, models or files only the driver sees."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hub_cache import publish_to_hub_cache
from locations import REAL_TRACES, REPO, need
from raycluster import (
    BIN,
    auth_env,
    kuberay_mlflow_args,
    mlflow_server,
    private_tmp,
    ray_state,
    run,
    start_head,
    start_private_worker,
)

pytestmark = pytest.mark.slow
HUB_MODEL = "overthink-test/organism"  # the default organism, published into the shared hub cache
EXCLUDES = [".venv", "mlflow", "out", ".git", ".pytest_cache", ".ruff_cache", "build", "dist"]


@pytest.fixture(scope="module")
def cluster():
    """(dashboard URL, shared folder, MLflow URI, worker node id, env for the CLI)."""
    from overthink.runtime.models import resolve_model

    # Shared storage: outside /tmp, so both nodes see it (an EFS mount on a real cluster).
    shared = Path(tempfile.mkdtemp(prefix="overthink-shared-", dir="/var/tmp"))
    try:
        publish_to_hub_cache(resolve_model("organism").path, shared / "hf" / "hub", HUB_MODEL)
        # The server as docs/kuberay/mlflow.yaml runs it (its allowed hosts admit 127.0.0.1 too).
        with mlflow_server(shared / "mlflow", kuberay_mlflow_args()) as tracking:
            # What ray_cluster.yaml exports on every node before `ray start`.
            env = {
                **os.environ,
                **auth_env(),
                "MLFLOW_TRACKING_URI": tracking,
                "HF_HUB_CACHE": str(shared / "hf" / "hub"),
                "OVERTHINK_CACHE": str(shared / "cache"),
            }
            with start_head(env, num_cpus=0) as (dashboard, gcs), start_private_worker(gcs, env, num_cpus=2):
                nodes = ray_state(dashboard, env, "nodes", "--filter", "is_head_node=False")
                assert len(nodes) == 1
                yield dashboard, shared, tracking, nodes[0]["node_id"], env
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def submit(cluster, working_dir: Path, *entrypoint: str, env_vars: dict | None = None):
    dashboard, _, _, _, env = cluster
    runtime_env = {"excludes": EXCLUDES, **({"env_vars": env_vars} if env_vars else {})}
    return run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--address",
            dashboard,
            "--working-dir",
            str(working_dir),
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            *entrypoint,
        ],
        env=env,
        timeout=900,
    )


PROBE = '''
"""Which overthink each kind of Ray process imports: driver, task, actor, train worker, Tune trial."""
import json
import sys
from pathlib import Path

import _entry  # noqa: F401  the submitted platform/ first on the path, as every job does

out = Path(sys.argv[1])


def report(kind):
    import overthink
    import ray

    marker = getattr(overthink, "SUBMITTED_MARKER", None)
    return {"kind": kind, "marker": marker, "node": ray.get_runtime_context().get_node_id()}


def train_loop(config):
    Path(config["out"], "train.json").write_text(json.dumps(report("train worker")))


def trial(config):
    Path(config["out"], "trial.json").write_text(json.dumps(report("tune trial")))


if __name__ == "__main__":
    import ray
    from ray import tune
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from overthink.runtime.config import RayConfig
    from overthink.runtime.ray_init import init_ray

    init_ray(RayConfig())
    rows = [report("driver"), ray.get(ray.remote(num_cpus=0.5)(report).remote("task"))]

    @ray.remote(num_cpus=0.5)
    class Probe:
        def report(self):
            return report("actor")

    rows.append(ray.get(Probe.remote().report.remote()))
    TorchTrainer(
        train_loop,
        train_loop_config={"out": str(out)},
        scaling_config=ScalingConfig(num_workers=1, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(name="probe-train", storage_path=str(out / "ray")),
    ).fit()
    tune.Tuner(
        tune.with_resources(trial, {"cpu": 0.5}),
        param_space={"out": str(out)},
        run_config=tune.RunConfig(name="probe-tune", storage_path=str(out / "ray")),
    ).fit()
    rows += [json.loads((out / name).read_text()) for name in ("train.json", "trial.json")]
    (out / "probe.json").write_text(json.dumps(rows))
'''


def test_the_submitted_code_runs_in_every_kind_of_worker(cluster, tmp_path):
    """A tree whose overthink differs from the installed one: the driver, a task, an actor, a Ray
    Train worker and a Tune trial on the other node all import the submitted copy."""
    _, shared, _, worker_node, _ = cluster
    tree = tmp_path / "submitted"
    shutil.copytree(REPO / "platform", tree / "platform", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "jobs", tree / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    marker = secrets.token_hex(8)
    with open(tree / "platform" / "overthink" / "__init__.py", "a") as init:
        init.write(f"\nSUBMITTED_MARKER = {marker!r}\n")
    (tree / "jobs" / "probe_code.py").write_text(PROBE)
    out = shared / "probe"
    out.mkdir()
    result = submit(cluster, tree, "python", "jobs/probe_code.py", str(out))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    rows = json.loads((out / "probe.json").read_text())
    assert [row["kind"] for row in rows] == ["driver", "task", "actor", "train worker", "tune trial"]
    assert all(row["marker"] == marker for row in rows), rows
    assert all(row["node"] == worker_node for row in rows[1:]), rows  # none ran beside the driver


def test_a_local_mlflow_store_is_refused_before_any_work(cluster, tmp_path):
    _, shared, _, _, _ = cluster
    out = shared / "refused"
    result = submit(
        cluster,
        REPO,
        "python",
        "jobs/sample.py",
        "--model",
        HUB_MODEL,
        "--output",
        str(out),
        "--set",
        "problems=[{name: organism, limit: 2}]",
        env_vars={"MLFLOW_TRACKING_URI": ""},
    )
    assert result.returncode != 0
    logs = result.stdout + result.stderr
    assert "is a local file, but this run joins the Ray cluster" in logs and "mlflow server" in logs, logs[-3000:]
    assert "Traceback" not in logs and not out.exists()


PROMPT = (
    "{system_prompt: 'You are a careful math assistant. Think step by step, then give the final answer in "
    "\\boxed{}.', answer_instruction: ''}"
)


def pipeline_job(cluster, out: Path, *overrides: str):
    """The pipeline job at the in-process pipeline test's sizes; returns (result, wall seconds)."""
    sets = [
        "register_as=two-nodes",
        "sample.problems=[{name: organism, split: train, limit: 24}]",
        "sample.sampling.n=2",
        f"sample.prompt={PROMPT}",
        "sample.engine.batch_size=48",
        "train.max_steps=2",
        "train.per_device_batch_size=4",
        "evaluate.sample.problems=[{name: organism, limit: 6}]",
        "evaluate.sample.sampling.n=1",
        f"evaluate.sample.prompt={PROMPT}",
        *overrides,
    ]
    started = time.monotonic()
    result = submit(
        cluster,
        REPO,
        "python",
        "jobs/pipeline.py",
        "--config",
        "configs/pipeline/organism.yaml",
        "--model",
        HUB_MODEL,
        "--output",
        str(out),
        *[arg for value in sets for arg in ("--set", value)],
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return result, time.monotonic() - started


def mtimes(folder: Path, names) -> dict:
    return {name: (folder / name).stat().st_mtime_ns for name in names}


def test_the_pipeline_runs_across_nodes_then_sweeps_reusing_its_stages(cluster):
    """sample -> analyze -> pairs -> train -> evaluate -> register as a job: the hub model is read
    from the shared cache, engines and train workers run on the worker node, every output lands
    on the shared path, every stage's run (and the train steps a worker logs) is on the server.
    Then the same pipeline switched to a sweep: unchanged stages are reused, Tune's trials run on
    the worker node, and the champion alias moves to the sweep's winner."""
    import mlflow
    import pyarrow.parquet as pq

    dashboard, shared, tracking, worker_node, env = cluster
    out = shared / "runs" / "pipeline"
    result, wall = pipeline_job(cluster, out)
    print(f"\ntwo-node pipeline job: {wall:.0f} s\n{result.stdout[-1500:]}")
    assert "| organism | simpo-fcs_reflection | 6 |" in result.stdout and "Token reduction" in result.stdout
    for path in ("samples/samples.parquet", "analysis/analyzed.parquet", "pairs/pairs.parquet", "result.md"):
        assert (out / path).is_file(), path
    assert (out / "train" / "model" / "config.json").is_file()
    samples = pq.read_table(out / "samples" / "samples.parquet")
    assert set(samples.column("engine_node").to_pylist()) == {worker_node[:12]}
    assert set(samples.column("model").to_pylist()) == {HUB_MODEL}

    placed = {
        actor["class_name"]: actor["node_id"]
        for actor in ray_state(dashboard, env, "actors", "--detail")
        if "EngineActor" in actor["class_name"] or actor["class_name"] == "RayTrainWorker"
    }
    assert "RayTrainWorker" in placed and set(placed.values()) == {worker_node}, placed

    client = mlflow.MlflowClient(tracking)
    experiment = client.get_experiment_by_name("overthink")
    (pipeline,) = client.search_runs([experiment.experiment_id], "tags.`overthink.stage` = 'pipeline'")
    runs = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{pipeline.info.run_id}'")
    stages = sorted(r.data.tags["overthink.stage"] for r in runs)
    assert stages == ["analyze", "evaluate", "evaluate", "pairs", "sample", "train"], stages
    assert all(r.info.status == "FINISHED" for r in [pipeline, *runs])
    train_run = next(r for r in runs if r.data.tags["overthink.stage"] == "train")
    assert len(client.get_metric_history(train_run.info.run_id, "loss")) == 2  # logged by the rank-0 worker
    assert client.get_model_version_by_alias("two-nodes", "champion").run_id == train_run.info.run_id
    artifacts = {a.path for a in client.list_artifacts(train_run.info.run_id)}
    assert "train_summary.json" in artifacts and (shared / "mlflow" / "artifacts").is_dir()

    kept = {
        "samples": ["samples.parquet"],
        "analysis": ["analyzed.parquet", "_SUCCESS.json"],
        "pairs": ["pairs.parquet", "_SUCCESS.json"],
        "evaluate/base/analysis": ["analyzed.parquet"],
    }
    before = {folder: mtimes(out / folder, names) for folder, names in kept.items()}
    swept, wall = pipeline_job(cluster, out, "sweep={space: {loss: {grid: [simpo]}}, tolerance: 1.0}")
    print(f"two-node pipeline job switched to a sweep: {wall:.0f} s")
    assert {folder: mtimes(out / folder, names) for folder, names in kept.items()} == before  # nothing recomputed
    assert json.loads((out / "samples" / "sample_metrics.json").read_text())["new_samples"] == 0
    assert (out / "sweep" / "summary.md").is_file() and "| champion |" in (out / "result.md").read_text()
    assert int(client.get_model_version_by_alias("two-nodes", "champion").version) == 2
    trials = client.search_runs([experiment.experiment_id], "tags.`overthink.stage` = 'trial'")
    assert trials and all(t.info.status == "FINISHED" for t in trials), [t.data.tags for t in trials]


def test_analyze_as_a_job_on_the_real_traces(cluster):
    _, shared, _, _, _ = cluster
    traces = shared / "traces.jsonl"
    shutil.copy(need(REAL_TRACES), traces)  # inputs live on shared storage, like outputs
    out = shared / "runs" / "analyze"
    result = submit(
        cluster,
        REPO,
        "python",
        "jobs/analyze.py",
        "--config",
        "configs/analyze/skythought.yaml",
        "--input",
        str(traces),
        "--output",
        str(out),
        "--set",
        "rows_per_shard=100",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert json.loads((out / "metrics.json").read_text())["overall"]["responses"] == 500
    assert "| math500 | Sky-T1-27B | 500 |" in result.stdout


def test_a_private_tmp_still_shows_a_checkout_that_lives_under_tmp(tmp_path):
    """A checkout (and venv) under /tmp stays visible on the worker node; the rest of /tmp does not
    (issue 24: the worker node failed with `ray: not found`)."""
    checkout = Path(tempfile.mkdtemp(prefix="checkout-", dir="/tmp"))
    keep = Path(tempfile.mkdtemp(prefix="rayorig-", dir="/var/tmp"))
    try:
        (checkout / "venv").mkdir()
        (checkout / "venv" / "ray").write_text("#!/bin/sh\n")
        hidden = tmp_path / "head-scratch"
        hidden.write_text("only the head sees this")
        script = f"{private_tmp(keep, [str(checkout)])} && cat {checkout}/venv/ray && test ! -e {hidden} && echo ok"
        shown = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True)
        assert shown.returncode == 0 and shown.stdout.decode().endswith("ok\n"), shown
    finally:
        shutil.rmtree(checkout)
        keep.rmdir()


def status_with_host(uri: str, host: str) -> int:
    request = urllib.request.Request(f"{uri}/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_kuberay_mlflow_server_answers_its_service_name(cluster):
    """docs/kuberay/mlflow.yaml's --allowed-hosts: MLflow >= 3.5 answers 403 to every API call with
    a Host it does not allow (while /health passes): the Service name must be allowed."""
    _, _, tracking, _, _ = cluster
    assert kuberay_mlflow_args()
    assert status_with_host(tracking, "mlflow:5000") == 200  # what jobs send through the Service
    assert status_with_host(tracking, "mlflow.overthink.svc.cluster.local:5000") == 200
    assert status_with_host(tracking, "elsewhere.example:5000") == 403  # the check is on
