"""Engine processes die with their owner: an owner process with two children titled as vLLM
titles its engine core and worker is killed with SIGKILL; the children must be gone within a few
seconds (without the watcher they live on, reparented to PID 1: measured 80 s and more with real
vLLM engines, tests/serve/test_serve.py checks a real replica)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

OWNER = """
import os, subprocess, sys, time
from overthink.runtime.reaper import reap_with_owner

reap_with_owner()
child = "import setproctitle, time; setproctitle.setproctitle(sys.argv[1]); time.sleep(600)"
for title in ("VLLM::EngineCore", "VLLM::Worker_TP0"):
    subprocess.Popen([sys.executable, "-c", "import sys; " + child, title])
time.sleep(2)  # the watcher notes them (it lists the owner's processes every second)
print("ready", flush=True)
time.sleep(600)
"""


def test_vllm_processes_die_with_their_owner():
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, env={**os.environ}, start_new_session=True
    )
    engines = []
    try:
        assert owner.stdout.readline().strip() == "ready"
        children = psutil.Process(owner.pid).children()
        titles = sorted(" ".join(c.cmdline()) for c in children)
        assert len(children) == 3 and sum("VLLM::" in t for t in titles) == 2, titles  # and the watcher
        engines += [c for c in children if "VLLM::" in " ".join(c.cmdline())]
        started = time.time()
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        gone, alive = psutil.wait_procs(engines, timeout=5)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        assert time.time() - started < 5
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
        for engine in engines:  # reparented to PID 1 if the watcher failed: ours to end all the same
            if engine.is_running():
                engine.kill()
