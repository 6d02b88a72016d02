"""The launch path, for real: Ray's cluster launcher runs `ray up` / `ray exec` / `ray down` on a
config generated from ray_cluster.yaml (its file_mounts, setup, head setup and start commands)
against this machine over SSH, as a non-root user without sudo, with Ray's local node provider;
then a job is submitted with `ray job submit`, as docs/cluster.md says. Only the cloud lines are
swapped (instance types and the provider, the EFS mount, apt, the fixed ports and 0.0.0.0 on a
shared machine), and the heavy install comes from this machine's venv. Each swap must find its
text, so a change to ray_cluster.yaml that this test no longer exercises fails here."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from locations import REPO
from raycluster import BIN, free_port, run, sentinel_ray_process, ssh_node, ssh_node_missing, wait_for

pytestmark = pytest.mark.slow
EXCLUDES = [".venv", "mlflow", "out", ".git", ".pytest_cache", ".ruff_cache", "build", "dist"]


def node_python() -> str | None:
    """A system Python of this venv's version, which the SSH user can run (the venv's own may sit
    under /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin"):
        if Path(folder, version).exists():
            return str(Path(folder, version))
    return None


def local_install(python: str) -> str:
    """Instead of `scripts/install.sh gpu` (GBs of CUDA wheels): a venv on the system Python that
    reads this machine's installed packages, with overthink from the synced checkout first (as the
    editable install of it would be) and the console scripts the start commands call."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = f"~/overthink/venv/lib/{version}/site-packages"
    scripts = [
        f"sed '1s|.*|#!'$HOME'/overthink/venv/bin/python|' {BIN / name} > ~/overthink/venv/bin/{name}"
        f" && chmod +x ~/overthink/venv/bin/{name}"
        for name in ("ray", "mlflow", "overthink")
    ]
    return " && ".join(
        [
            f"{python} -m venv --without-pip ~/overthink/venv",
            f"echo $HOME/overthink/src/platform > {site}/_overthink_src.pth",
            f"echo \"import site; site.addsitedir('{sysconfig.get_paths()['purelib']}')\" > {site}/_stack.pth",
            *scripts,
        ]
    )


def launcher_config(node, folder: Path, ports: dict, token: Path, python: str) -> tuple[dict, Path]:
    """ray_cluster.yaml for the local provider on this machine; (config, shared folder)."""
    real = yaml.safe_load((REPO / "ray_cluster.yaml").read_text())
    shared = node.home / "shared"
    swaps = {  # text in the commands -> what it is here; each must occur
        "/mnt/shared": str(shared),
        "0.0.0.0": "127.0.0.1",  # a shared machine: bind loopback only
        "$(hostname -I | awk '{print $1}')": "127.0.0.1",
        "--port=6379": f"--port={ports['gcs']}",
        "$RAY_HEAD_IP:6379": f"$RAY_HEAD_IP:{ports['gcs']}",
        "--dashboard-port=8265": f"--dashboard-port={ports['dashboard']}",
        "--dashboard-agent-listen-port=52365": f"--dashboard-agent-listen-port={ports['agent']}",
        "--ray-client-server-port=10001": f"--ray-client-server-port={ports['client']}",
        ":5000": f":{ports['mlflow']}",
        "127.0.0.1 5000 ": f"127.0.0.1 {ports['mlflow']} ",  # head_mlflow.sh's port argument (after the host swap)
    }
    found = dict.fromkeys(swaps, 0)

    def local(command: str) -> str | None:
        if "apt-get install" in command:
            return None  # the packages are this machine's
        if "mount -t nfs4" in command:
            return f"mkdir -p {shared}"  # EFS: a folder (one node)
        if "scripts/install.sh gpu" in command:
            return local_install(python)
        for text, here in swaps.items():
            found[text] += text in command
            command = command.replace(text, here)
        return command

    def commands(key: str) -> list[str]:
        return [c for c in (local(c) for c in real[key]) if c is not None]

    config = {
        "cluster_name": f"overthink-launch-{node.user}",
        "provider": {"type": "local", "head_ip": "127.0.0.1", "worker_ips": []},
        "auth": {"ssh_user": node.user, "ssh_private_key": str(node.key), "ssh_proxy_command": node.proxy_command},
        "file_mounts": {
            remote: str(token) if remote == "~/.ray/auth_token" else local_path
            for remote, local_path in real["file_mounts"].items()
        },
        "rsync_exclude": real["rsync_exclude"],
        "initialization_commands": real["initialization_commands"],
        **{key: commands(key) for key in ("setup_commands", "head_setup_commands", "worker_setup_commands")},
        **{key: commands(key) for key in ("head_start_ray_commands", "worker_start_ray_commands")},
    }
    assert all(found.values()), {text: n for text, n in found.items() if not n}  # ray_cluster.yaml changed
    assert "~/.ray/auth_token" in real["file_mounts"] and real["file_mounts"]["~/overthink/src"] == "."
    return config, shared


def ray_cli(*args: str, env: dict, timeout: int = 900):
    result = run([str(BIN / "ray"), *args], env=env, cwd=REPO, timeout=timeout)
    return result, result.stdout + result.stderr


def mlflow_health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def launcher_temp() -> Path:
    """Where `ray up` keeps a local cluster's state: Ray's default temp folder on this side."""
    return Path(os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp") / "ray"


def mlflow_servers(node) -> list:
    return [p for p in node.processes() if p.info["name"] == "mlflow"]  # the console script's process name


def test_ray_up_exec_job_submit_and_down_on_a_node_over_ssh(tmp_path):
    """`ray up` copies the checkout into the user's home (no sudo), the venv there runs it, the
    head's MLflow server answers (and is still one server after a second `ray up`), a job submitted
    with the cluster's token logs a run to it, and `ray down` leaves no process of the user, while a
    root process named like Ray's survives the user's `ray stop`."""
    missing = ssh_node_missing()
    python = node_python()
    if missing or python is None:
        pytest.skip(missing or f"no system python{sys.version_info.major}.{sys.version_info.minor} for the node")
    ports = {name: free_port() for name in ("gcs", "dashboard", "agent", "client", "mlflow")}
    token = tmp_path / "keys" / "auth_token"
    timeline = {}
    started = time.monotonic()
    with ssh_node(tmp_path / "keys") as node, sentinel_ray_process(tmp_path) as sentinel:
        packages = sysconfig.get_paths()["purelib"]
        if node.run("test", "-r", f"{packages}/ray/__init__.py").returncode:
            pytest.skip(f"user {node.user} cannot read this venv's packages ({packages}): a parent folder is private")
        token.write_text(secrets.token_hex(32))
        config, shared = launcher_config(node, tmp_path / "keys", ports, token, python)
        config_file = tmp_path / "cluster.yaml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {"RAY_ADDRESS": None, "RAY_AUTH_MODE": None, "RAY_AUTH_TOKEN": None}  # the launcher needs no token
        try:
            up, logs = ray_cli("up", str(config_file), "--yes", "--no-config-cache", env=env)
            assert up.returncode == 0, logs[-6000:]
            timeline["ray up"] = time.monotonic() - started

            # The checkout reached the node's home and the node's venv imports it.
            probe = (
                "python -c 'import mlflow, ray, overthink; print(\"IMPORTS\", overthink.__file__, ray.__version__)'"
                " && sha256sum ~/overthink/src/platform/overthink/runtime/placement.py && ls -a ~/overthink/src"
            )
            shown, logs = ray_cli("exec", str(config_file), probe, env=env)
            assert shown.returncode == 0, logs[-4000:]
            imports = re.search(r"IMPORTS (\S+) (\S+)", shown.stdout)
            assert imports and imports.group(1) == f"{node.home}/overthink/src/platform/overthink/__init__.py", logs
            local_hash = hashlib.sha256((REPO / "platform/overthink/runtime/placement.py").read_bytes()).hexdigest()
            assert local_hash in shown.stdout and ".venv" not in shown.stdout.split()  # synced, excludes honoured
            assert mlflow_health(ports["mlflow"]) and len(mlflow_servers(node)) == 1

            # The HF token goes to the head's private folder, as docs/cluster.md#secrets says.
            hf_token = tmp_path / "hf_token"
            hf_token.write_text("hf_test")
            hf_token.chmod(0o600)
            secret = f"{node.home}/overthink/secrets/hf_token"
            synced, logs = ray_cli("rsync-up", str(config_file), str(hf_token), secret, env=env)
            assert synced.returncode == 0, logs[-3000:]
            assert node.run("stat", "-c", "%a %U", str(Path(secret).parent), secret).stdout.split() == [
                "700",
                node.user,
                "600",
                node.user,
            ]

            # A job with the cluster's token (only with it) logs a run to the head's MLflow server.
            client = {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
            address = f"http://127.0.0.1:{ports['dashboard']}"
            refused, logs = ray_cli("job", "list", "--address", address, env={**env, "RAY_AUTH_MODE": "token"})
            assert refused.returncode != 0 and "uthenticat" in logs, logs[-2000:]
            out = shared / "runs" / "examples"
            job, logs = ray_cli(
                "job", "submit", "--address", address, "--working-dir", str(REPO),
                "--runtime-env-json", json.dumps({"excludes": EXCLUDES}), "--",
                "python", "jobs/analyze.py", "--no-ray", "--input", "platform/overthink/examples/responses.jsonl",
                "--output", str(out),
                env=client,
            )  # fmt: skip
            assert job.returncode == 0, logs[-5000:]
            timeline["job"] = time.monotonic() - started
            assert (out / "analyzed.parquet").is_file()
            runs = finished_runs(ports["mlflow"])
            assert [r.data.tags["overthink.stage"] for r in runs] == ["analyze"], runs

            # A second `ray up` restarts Ray and replaces the server: still one, same database.
            again, logs = ray_cli("up", str(config_file), "--yes", "--no-config-cache", env=env)
            assert again.returncode == 0, logs[-6000:]
            timeline["second ray up"] = time.monotonic() - started
            assert mlflow_health(ports["mlflow"]) and len(mlflow_servers(node)) == 1
            assert [r.info.run_id for r in finished_runs(ports["mlflow"])] == [r.info.run_id for r in runs]
        finally:
            down, logs = ray_cli("down", str(config_file), "--yes", env=env)
            for suffix in ("lock", "state"):  # the local provider's record of the cluster, on this side
                (launcher_temp() / f"cluster-{config['cluster_name']}.{suffix}").unlink(missing_ok=True)
        assert down.returncode == 0, logs[-4000:]
        wait_for(lambda: not node.processes(), 60, f"no process of {node.user} after `ray down`")
        timeline["ray down, nothing left"] = time.monotonic() - started
        assert sentinel.poll() is None  # the user's `ray stop` could not touch root's "raylet"
        print("\nlauncher timeline: " + ", ".join(f"{step} at {t:.0f} s" for step, t in timeline.items()))


def finished_runs(port: int) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(f"http://127.0.0.1:{port}")
    experiment = client.get_experiment_by_name("overthink")
    assert experiment is not None, "no overthink experiment on the head's server"
    return client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
