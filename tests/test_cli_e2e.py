"""The real entry points as a user runs them: the `overthink` command and `ray job submit`."""

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, PYTHON, REAL_TRACES, REPO, need

pytestmark = pytest.mark.slow
BIN = Path(PYTHON).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
    for _ in range(30):
        result = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, **kwargs)
        # A fresh head's job agent can come up seconds after `ray start` returns on a busy machine.
        if "No available agent to submit job" not in result.stderr:
            return result
        time.sleep(2)
    return result


def test_quickstart_builds_samples_analyzes_and_prints_the_table(tmp_path):
    """The README's first command (smaller: 8 problems x 2); builds the default organism once."""
    result = run(
        [
            str(BIN / "overthink"),
            "quickstart",
            "--output",
            str(tmp_path / "qs"),
            "--set",
            "problems=[{name: organism, limit: 8}]",
            "--set",
            "sampling.n=2",
        ],
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| organism | organism | 16 |" in result.stdout
    assert "mlflow ui --backend-store-uri sqlite:///" in result.stdout
    assert (tmp_path / "mlflow" / "mlflow.db").exists()  # local store inside the working directory
    assert (tmp_path / "qs" / "samples" / "samples.parquet").exists()
    assert (tmp_path / "qs" / "analysis" / "analyzed.parquet").exists()


def test_analyze_command_on_the_bundled_examples(tmp_path):
    result = run(
        [
            str(BIN / "overthink"),
            "analyze",
            "--input",
            str(EXAMPLES),
            "--output",
            str(tmp_path / "ex"),
            "--set",
            "name=examples",
        ],
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| arith-examples | examples | 24 |" in result.stdout


def test_bad_input_exits_2_with_a_clear_message_and_no_output(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(EXAMPLES.read_text().splitlines()[0] + "\n{oops\n")
    result = run(
        [str(BIN / "overthink"), "analyze", "--input", str(bad), "--output", str(tmp_path / "o")], cwd=tmp_path
    )
    assert result.returncode == 2
    assert f"{bad}:2: malformed JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o" / "analyzed.parquet").exists()


@pytest.fixture
def ray_head(tmp_path, monkeypatch):
    """A head node on 127.0.0.1 with token authentication (Ray's default for local clusters)."""
    port, dashboard, agent = free_port(), free_port(), free_port()
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")  # as with an activated venv
    env = {**os.environ, "RAY_ADDRESS": ""}
    temp_dir = tempfile.mkdtemp(prefix="rayhead-", dir="/tmp")  # short: Ray's socket paths must fit
    try:
        start = subprocess.run(
            [
                str(BIN / "ray"),
                "start",
                "--head",
                "--node-ip-address=127.0.0.1",
                f"--port={port}",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dashboard}",
                "--num-cpus=2",
                "--include-dashboard=true",
                "--disable-usage-stats",
                f"--temp-dir={temp_dir}",
                f"--dashboard-agent-listen-port={agent}",
            ],  # not the default: another Ray may hold it
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert start.returncode == 0, start.stdout + start.stderr
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def stop_cluster(temp_dir: str) -> None:
    """Stop this head's processes only (`ray stop` would kill every Ray instance on the machine):
    those started with its temp dir, and their children (the workers)."""
    import psutil

    roots = [p for p in psutil.process_iter(["cmdline"]) if any(temp_dir in part for part in p.info["cmdline"] or [])]
    family = {p.pid: p for p in roots}
    for root in roots:
        try:
            family.update({child.pid: child for child in root.children(recursive=True)})
        except psutil.NoSuchProcess:
            pass
    for process in family.values():
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(list(family.values()), timeout=20)
    for process in alive:
        process.kill()


def test_ray_job_submit_against_a_local_head(tmp_path, ray_head):
    out = tmp_path / "job-out"
    db = f"sqlite:///{tmp_path / 'job-mlflow.db'}"
    runtime_env = {
        "env_vars": {"MLFLOW_TRACKING_URI": db, "RAY_TRAIN_ENABLE_PRINT_PATCH": "0"},
        "excludes": [".venv", "mlflow", "out", ".git"],
    }
    result = run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--address",
            ray_head,
            "--working-dir",
            str(REPO),
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            "python",
            "jobs/analyze.py",
            "--config",
            "configs/analyze/skythought.yaml",
            "--input",
            str(need(REAL_TRACES)),
            "--output",
            str(out),
            "--set",
            "rows_per_shard=100",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "succeeded" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["responses"] == 500
    assert "| math500 | Sky-T1-27B | 500 |" in result.stdout


def test_ray_job_submit_samples_with_vllm(tmp_path, ray_head, organism_path):
    model = organism_path
    out = tmp_path / "job-samples"
    runtime_env = {
        "env_vars": {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'job-mlflow.db'}"},
        "excludes": [".venv", "mlflow", "out", ".git"],
    }
    result = run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--address",
            ray_head,
            "--working-dir",
            str(REPO),
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            "python",
            "jobs/sample.py",
            "--model",
            str(model),
            "--output",
            str(out),
            "--set",
            "problems=[{name: organism, limit: 2}]",
            "--set",
            "sampling.n=2",
            "--set",
            "sampling.max_tokens=32",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Sampled 4 new responses" in result.stdout
    assert (out / "samples.parquet").exists()


def test_ray_job_submit_trains_with_ray_train(tmp_path, ray_head, organism_path):
    from overthink.organism.samples import corpus_pairs

    pairs = corpus_pairs(organism_path, tmp_path / "data", problems=16, per_problem=4)
    out = tmp_path / "job-train"
    runtime_env = {
        "env_vars": {
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'job-mlflow.db'}",
            "RAY_TRAIN_ENABLE_PRINT_PATCH": "0",
        },
        "excludes": [".venv", "mlflow", "out", ".git"],
    }
    result = run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--address",
            ray_head,
            "--working-dir",
            str(REPO),
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            "python",
            "jobs/train.py",
            "--pairs",
            pairs,
            "--model",
            organism_path,
            "--output",
            str(out),
            "--loss",
            "simpo",
            "--workers",
            "2",
            "--set",
            "max_steps=2",
            "--set",
            "per_device_batch_size=2",
            "--set",
            "max_length=512",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
    assert "Trained simpo on" in result.stdout, result.stdout[-3000:]
    assert (out / "model" / "model.safetensors").exists() and (out / "_SUCCESS.json").exists()


def test_ray_job_submit_sweeps_with_ray_tune(tmp_path, ray_head, organism_path):
    """The sweep as a Ray job: Tune's trials (each a Ray Train run + a vLLM evaluation) run on the
    head the job joined; the champion lands in the job's MLflow registry."""
    from overthink.organism.samples import corpus_pairs

    pairs = corpus_pairs(organism_path, tmp_path / "data", problems=16, per_problem=4)
    out, tracking = tmp_path / "job-sweep", f"sqlite:///{tmp_path / 'job-mlflow.db'}"
    runtime_env = {
        "env_vars": {"MLFLOW_TRACKING_URI": tracking, "RAY_TRAIN_ENABLE_PRINT_PATCH": "0"},
        "excludes": [".venv", "mlflow", "out", ".git"],
    }
    result = run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--address",
            ray_head,
            "--working-dir",
            str(REPO),
            "--runtime-env-json",
            json.dumps(runtime_env),
            "--",
            "python",
            "jobs/sweep.py",
            "--pairs",
            pairs,
            "--model",
            organism_path,
            "--output",
            str(out),
            "--set",
            "search.space={loss: {grid: [simpo]}}",
            "--set",
            "search.tolerance=1.0",
            "--set",
            "train.max_steps=2",
            "--set",
            "train.per_device_batch_size=2",
            "--set",
            "train.max_length=512",
            "--set",
            "train.workers.cpus_per_worker=0.9",
            "--set",
            "register_as=job-sweep",
            "--set",
            "evaluate.sample.problems=[{name: organism, limit: 2}]",
            "--set",
            "evaluate.sample.sampling.n=1",
            "--set",
            "evaluate.sample.sampling.max_tokens=32",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
    assert "Champion registered as models:/job-sweep@champion" in result.stdout, result.stdout[-3000:]
    assert (out / "summary.md").exists() and (out / "pareto.png").exists()
    import mlflow

    version = mlflow.MlflowClient(tracking).get_model_version_by_alias("job-sweep", "champion")
    assert json.loads((out / "summary.json").read_text())["champion"]["train_run_id"] == version.run_id
