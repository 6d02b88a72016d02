"""Autoscaling on one machine: Ray's fake multi-node provider runs the node types of
ray_cluster.yaml (same names, resources scaled down), a job whose sample stage needs GPU engines
makes the autoscaler add a GPU worker, the job finishes, and the idle worker is removed."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import yaml

from conftest import REPO
from raycluster import BIN, auth_env, run, start_head

pytestmark = pytest.mark.slow
IDLE_TIMEOUT_MINUTES = 0.1  # 6 s: scale-down inside a test


def fake_cluster_config(gcs_address: str) -> dict:
    """ray_cluster.yaml's node types on the fake provider: one CPU and one or two fake GPUs each
    (the 8-GPU type keeps more GPUs than the 1-GPU one, so a 2-GPU engine fits it alone)."""
    real = yaml.safe_load((REPO / "ray_cluster.yaml").read_text())
    types = {}
    for name, node_type in real["available_node_types"].items():
        if name == real["head_node_type"]:
            continue
        gpus = min(node_type["resources"]["GPU"], 2)
        custom = {k: v for k, v in node_type["resources"].items() if k not in ("CPU", "GPU")}
        types[name] = {
            "resources": {"CPU": 1, "GPU": gpus, **custom},
            "node_config": {},
            "min_workers": 0,
            "max_workers": 1,
        }
    # The fake provider names its head type "ray.head.default"; like the real head it takes no work.
    types["ray.head.default"] = {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0}
    return {
        "cluster_name": "fake-" + real["cluster_name"],
        "max_workers": len(types) - 1,
        "upscaling_speed": real["upscaling_speed"],
        "idle_timeout_minutes": IDLE_TIMEOUT_MINUTES,
        "provider": {
            "type": "fake_multinode",
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
            "gcs_address": gcs_address,
        },
        "available_node_types": types,
        "head_node_type": "ray.head.default",
        "auth": {"ssh_user": "ubuntu"},
        # The launcher's remaining keys, empty: the fake provider ignores setup and file sync.
        **{key: [] for key in ("cluster_synced_files", "rsync_exclude", "rsync_filter", "initialization_commands")},
        **{key: [] for key in ("setup_commands", "head_setup_commands", "worker_setup_commands")},
        **{key: [] for key in ("head_start_ray_commands", "worker_start_ray_commands")},
        "file_mounts": {},
        "file_mounts_sync_continuously": False,
    }


def gpu_nodes(dashboard: str, env: dict) -> list[dict]:
    result = run([str(BIN / "ray"), "list", "nodes", "--address", dashboard, "--format", "json"], env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return [n for n in json.loads(result.stdout) if n["state"] == "ALIVE" and n["resources_total"].get("GPU")]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_gpu_stage_scales_a_worker_type_up_and_idle_removes_it(tmp_path, organism_path):
    from raycluster import free_port

    port = free_port()
    config = tmp_path / "fake_cluster.yaml"
    config.write_text(yaml.safe_dump(fake_cluster_config(f"127.0.0.1:{port}")))
    env = {**os.environ, **auth_env(), "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1"}
    with start_head(env, num_cpus=0, port=port, extra=[f"--autoscaling-config={config}"]) as (dashboard, _):
        assert gpu_nodes(dashboard, env) == []  # GPU workers start at zero
        started = time.monotonic()
        job = run(
            [
                str(BIN / "ray"),
                "job",
                "submit",
                "--no-wait",
                "--address",
                dashboard,
                "--working-dir",
                str(REPO),
                "--runtime-env-json",
                json.dumps({"excludes": [".venv", ".git", "mlflow", "out", ".pytest_cache", ".ruff_cache"]}),
                "--",
                "python",
                "jobs/sample.py",
                "--model",
                organism_path,
                "--output",
                str(tmp_path / "samples"),
                "--set",
                "problems=[{name: organism, limit: 2}]",
                "--set",
                "sampling.n=1",
                "--set",
                "sampling.max_tokens=8",
                "--set",
                "engine.backend=transformers",
                "--set",
                "engine.placement=gpu",
                "--set",
                "engine.tensor_parallel_size=2",  # only the (scaled) gpu_8x_h100 type holds 2 GPUs
                "--set",
                "mlflow.enabled=false",
            ],
            env=env,
        )
        assert job.returncode == 0, job.stderr[-3000:]
        job_id = re.search(r"raysubmit_[A-Za-z0-9]+", job.stdout).group()  # the CLI colours its output

        def eight_gpu_type():  # the only type whose (scaled) nodes hold a 2-GPU engine
            return [n for n in gpu_nodes(dashboard, env) if n["resources_total"]["GPU"] == 2]

        wait_for(eight_gpu_type, 180, "a gpu_8x_h100 worker")
        scaled_up = time.monotonic() - started

        def finished():
            result = run([str(BIN / "ray"), "job", "status", "--address", dashboard, job_id], env=env)
            status = result.stdout + result.stderr  # the CLI logs the status line to stderr
            ended = {"' succeeded": "SUCCEEDED", "' failed": "FAILED", "' was stopped": "STOPPED"}
            return next((state for words, state in ended.items() if words in status), None)

        assert wait_for(finished, 300, "the job") == "SUCCEEDED", run(
            [str(BIN / "ray"), "job", "logs", "--address", dashboard, job_id], env=env
        ).stdout[-3000:]
        job_done = time.monotonic() - started
        assert (tmp_path / "samples" / "samples.parquet").is_file()
        wait_for(lambda: not gpu_nodes(dashboard, env), 120, "the idle GPU workers to go")
        scaled_down = time.monotonic() - started
        print(
            f"\nautoscaling timeline: GPU worker up at {scaled_up:.0f} s, job done at {job_done:.0f} s, "
            f"worker removed at {scaled_down:.0f} s (idle timeout {IDLE_TIMEOUT_MINUTES * 60:.0f} s)"
        )
