"""Autoscaling on one machine: Ray's fake multi-node provider runs the node types of
ray_cluster.yaml (same names, resources scaled down). On the cold cluster a sample job on the
spot type (placement.resources) sizes its engines from the autoscaler's node types, so the
autoscaler adds every node they need (it used to be one engine, whatever the cluster could hold);
the job finishes, and the idle workers are removed."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import yaml

from locations import REPO
from overthink.runtime.placement import AUTOSCALER_CONFIG_ENV
from raycluster import BIN, auth_env, ray_state, run, start_head, wait_for

pytestmark = pytest.mark.slow
IDLE_TIMEOUT_MINUTES = 0.1  # 6 s: scale-down inside a test


def fake_cluster_config(gcs_address: str) -> dict:
    """ray_cluster.yaml's node types on the fake provider: two CPUs and one or two fake GPUs each
    (the 8-GPU types keep more GPUs than the 1-GPU ones, so a 2-GPU engine fits them alone), custom
    resources scaled like the GPUs, at most 2 nodes of a type."""
    real = yaml.safe_load((REPO / "ray_cluster.yaml").read_text())
    types = {}
    for name, node_type in real["available_node_types"].items():
        if name == real["head_node_type"]:
            continue
        gpus = min(node_type["resources"]["GPU"], 2)
        scale = gpus / node_type["resources"]["GPU"]
        custom = {k: max(1, int(v * scale)) for k, v in node_type["resources"].items() if k not in ("CPU", "GPU")}
        types[name] = {
            "resources": {"CPU": 2, "GPU": gpus, **custom},  # an engine takes 1: room for Ray Data's tasks
            "node_config": {},
            "min_workers": 0,
            "max_workers": min(node_type["max_workers"], 2),
        }
    # The fake provider names its head type "ray.head.default"; like the real head it takes no work.
    types["ray.head.default"] = {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0}
    return {
        "cluster_name": "fake-" + real["cluster_name"],
        "max_workers": sum(t["max_workers"] for t in types.values()),
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
    return [n for n in ray_state(dashboard, env, "nodes") if n["state"] == "ALIVE" and n["resources_total"].get("GPU")]


def test_a_cold_cluster_scales_to_every_engine_its_node_types_hold_and_idle_removes_them(tmp_path, organism_path):
    from raycluster import free_port

    port = free_port()
    config = tmp_path / "fake_cluster.yaml"
    config.write_text(yaml.safe_dump(fake_cluster_config(f"127.0.0.1:{port}")))
    env = {
        **os.environ,
        **auth_env(),
        "RAY_FAKE_CLUSTER": "1",
        "AUTOSCALER_UPDATE_INTERVAL_S": "1",
        AUTOSCALER_CONFIG_ENV: str(config),  # on a `ray up` head the driver reads ~/ray_bootstrap_config.yaml
    }
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
                json.dumps(
                    {
                        "excludes": [".venv", ".git", "mlflow", "out", ".pytest_cache", ".ruff_cache"],
                        # Ray Data starts the pool before it dispatches, so a fast first engine cannot
                        # finish the job before the second is placed: the test sees both.
                        "env_vars": {"RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": "600"},
                    }
                ),
                "--",
                "python",
                "jobs/sample.py",
                "--model",
                organism_path,
                "--output",
                str(tmp_path / "samples"),
                "--set",
                "problems=[{name: organism, limit: 8}]",
                "--set",
                "sampling.n=1",
                "--set",
                "sampling.max_tokens=8",
                "--set",
                "engine.backend=transformers",
                "--set",
                "placement.device=gpu",
                "--set",
                "placement.resources={spot: 2}",  # the spot type only: 1 engine per (scaled) node, 2 nodes
                "--set",
                "engine.tensor_parallel_size=2",
                "--set",
                "mlflow.enabled=false",
            ],
            env=env,
        )
        assert job.returncode == 0, job.stderr[-3000:]
        job_id = re.search(r"raysubmit_[A-Za-z0-9]+", job.stdout).group()  # the CLI colours its output

        def spot_nodes():
            nodes = [n["node_id"] for n in gpu_nodes(dashboard, env) if n["resources_total"].get("spot")]
            return set(nodes) if len(nodes) == 2 else None

        spot = wait_for(spot_nodes, 240, "two gpu_8x_h100_spot workers")
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
        logs = run([str(BIN / "ray"), "job", "logs", "--address", dashboard, job_id], env=env).stdout
        assert "sample: 2 engine(s) on GPUs, 2 per engine" in logs, logs[-3000:]
        engines = {a["node_id"] for a in ray_state(dashboard, env, "actors") if "EngineActor" in a["class_name"]}
        spot |= {n["node_id"] for n in ray_state(dashboard, env, "nodes") if n["resources_total"].get("spot")}
        assert len(engines) == 2 and engines <= spot, (engines, spot)  # each engine on its own spot node
        assert (tmp_path / "samples" / "samples.parquet").is_file()
        wait_for(lambda: not gpu_nodes(dashboard, env), 120, "the idle GPU workers to go")
        scaled_down = time.monotonic() - started
        print(
            f"\nautoscaling timeline: both GPU workers up at {scaled_up:.0f} s, job done at {job_done:.0f} s, "
            f"workers removed at {scaled_down:.0f} s (idle timeout {IDLE_TIMEOUT_MINUTES * 60:.0f} s)"
        )
