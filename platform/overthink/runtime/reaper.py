"""Engine processes die with the process that owns them.

vLLM runs its engine core (and, per GPU, a worker) in child processes titled `VLLM::...`. When the
process that owns the engine is killed outright (SIGKILL: a killed driver, Ray ending an actor
whose job died, the out-of-memory killer), nothing tells those children: they live on, reparented
to PID 1 (measured: still alive 80 s after a kill -9 of their owner; an orphaned `VLLM::Worker`
was seen spinning at 94% CPU for a minute), and on a GPU node an orphan keeps its GPU memory. A
parent-death signal cannot be set in them (vLLM spawns them in Ray actors and runs no code of ours
there), so `reap_with_owner()` starts a small watcher beside the owner instead: this file, run as a
script (stdlib and psutil only, so it runs wherever the engine does). It notes the owner's vLLM
processes as they appear (an engine killed while it starts is covered too, and so are the engines
a serve replica restarts); once the owner is gone it kills them and ends. It runs in its own
session, so a Ctrl-C meant for the owner's process group does not end it before its work."""

from __future__ import annotations

import os
import subprocess
import sys
import time

ENGINE_TITLE = "VLLM::"  # vLLM titles its processes VLLM::EngineCore, VLLM::Worker_TP0, ...
OWNER_POLL_S = 0.2  # how soon after the owner's death its engine processes are killed
SCAN_S = 1.0  # how often the owner's processes are listed (a scan reads every /proc entry)


def is_engine_process(process) -> bool:
    try:
        return process.name().startswith(ENGINE_TITLE) or ENGINE_TITLE in " ".join(process.cmdline())
    except Exception:  # gone already, or not ours to read
        return False


def engine_processes(owner=None) -> list:
    """The vLLM processes below `owner` (default: this process)."""
    import psutil

    owner = owner or psutil.Process()
    return [p for p in owner.children(recursive=True) if is_engine_process(p)]


def reap_with_owner() -> subprocess.Popen:
    """Start the watcher of this process's vLLM engine processes (call it before the engine)."""
    import psutil

    owner = psutil.Process()
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), f"{owner.pid}:{owner.create_time()}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def _alive(identity: str):
    """The process named 'pid:create_time' if it still runs (a reused pid is another process)."""
    import psutil

    pid, created = identity.split(":")
    try:
        process = psutil.Process(int(pid))
        if abs(process.create_time() - float(created)) > 0.01 or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def watch(owner_identity: str) -> None:
    import psutil

    engines: set[str] = set()
    scanned = 0.0
    while (owner := _alive(owner_identity)) is not None:
        if time.monotonic() - scanned >= SCAN_S:
            try:
                engines |= {f"{p.pid}:{p.create_time()}" for p in engine_processes(owner)}
            except psutil.Error:
                pass
            scanned = time.monotonic()
        time.sleep(OWNER_POLL_S)
    doomed = []
    for process in filter(None, map(_alive, engines)):
        try:
            doomed += [process, *process.children(recursive=True)]
        except psutil.Error:
            continue
    for process in doomed:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(doomed, timeout=5)


if __name__ == "__main__":
    watch(sys.argv[1])
