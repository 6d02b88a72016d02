"""Real Ray clusters and an MLflow server for tests, started and stopped by this process only
(`ray stop` would end every Ray instance on the machine, other people's included).

- `start_head`: a head on 127.0.0.1 with token authentication (Ray's default for local clusters);
- `start_private_worker`: a second node in its own mount namespace with a fresh tmpfs on /tmp, so
  it sees none of the head's scratch (its temp dir, the job's unpacked working dir), like another
  machine; both share the network, so 127.0.0.1 reaches the head;
- `mlflow_server`: `mlflow server` on 127.0.0.1, as a cluster's head runs it."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    """A CLI call; retried while a fresh head's job agent is not up yet (seconds on a busy machine)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
    timeout = kwargs.pop("timeout", 600)
    for _ in range(30):
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)
        if "No available agent to submit job" not in result.stderr:
            return result
        time.sleep(2)
    return result


def auth_env() -> dict:
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "PATH": f"{BIN}:{os.environ['PATH']}"}


def stop_processes(marker: str) -> None:
    """Stop the processes whose command line holds `marker` (a cluster's own temp dir), and their children."""
    import psutil

    roots = [p for p in psutil.process_iter(["cmdline"]) if any(marker in part for part in p.info["cmdline"] or [])]
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


@contextmanager
def start_head(env: dict, num_cpus: int = 2, resources: str | None = None, port: int | None = None, extra=()):
    """Yields (dashboard URL, GCS address) of a new head node; `extra` are more `ray start` flags."""
    port, dashboard, agent = port or free_port(), free_port(), free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayhead-", dir="/tmp")  # short: Ray's socket paths must fit
    args = [
        str(BIN / "ray"),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--dashboard-agent-listen-port={agent}",  # not the default: another Ray may hold it
        f"--num-cpus={num_cpus}",
        "--include-dashboard=true",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
        *([f"--resources={resources}"] if resources else []),
        *extra,
    ]
    try:
        start = subprocess.run(args, capture_output=True, text=True, timeout=300, env={**env, "RAY_ADDRESS": ""})
        assert start.returncode == 0, start.stdout + start.stderr
        yield f"http://127.0.0.1:{dashboard}", f"127.0.0.1:{port}"
    finally:
        stop_processes(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


@contextmanager
def start_private_worker(gcs_address: str, env: dict, num_cpus: int = 2, resources: str | None = None):
    """A worker node whose /tmp is its own (a tmpfs in a private mount namespace). Yields its temp dir."""
    temp_dir = f"/tmp/raywork-{secrets.token_hex(4)}"  # inside the private /tmp: invisible to the head
    ray_start = " ".join(
        [
            str(BIN / "ray"),
            "start",
            f"--address={gcs_address}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={num_cpus}",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
            f"--dashboard-agent-listen-port={free_port()}",
            *([f"--resources='{resources}'"] if resources else []),
        ]
    )
    script = f"mount -t tmpfs -o size=8g tmpfs /tmp && {ray_start}"
    try:
        start = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=300,
            env={**env, "RAY_ADDRESS": ""},
        )
        assert start.returncode == 0, start.stdout + start.stderr
        yield temp_dir
    finally:
        stop_processes(temp_dir)


@contextmanager
def mlflow_server(folder: Path):
    """`mlflow server` with a sqlite backend and artifacts served from `folder`; yields its URI."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "server.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with its gunicorn/uvicorn workers
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (folder / "server.log").read_text()
                time.sleep(0.5)
        yield uri
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()
