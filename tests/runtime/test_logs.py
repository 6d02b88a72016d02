"""Calm output: libraries' chatter in the run's log file, our bars and results on the terminal,
everything as it was after the command; `--verbose` changes nothing; Ctrl-C ends a Ray run."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
from pydantic import Field

from locations import EXAMPLES
from overthink.cli import main
from overthink.config import Settings
from overthink.runtime import logs
from overthink.stages import STAGES, StageSpec
from raycluster import BIN


class ChattyConfig(Settings):
    output_dir: str | None = Field(None, description="Where to write.")


def chatty_cli(config, **_) -> str:
    """A stage whose libraries talk: a library logger, a warning, a native write to stderr."""
    logging.getLogger("somelib").warning("library chatter")
    warnings.warn("a library warning", UserWarning, stacklevel=1)
    os.write(2, b"native chatter\n")
    print("sample: our own line", file=sys.stderr)
    if config.output_dir == "boom":
        raise RuntimeError("a bug")
    return f"Wrote {config.output_dir}/result.md\n"


@pytest.fixture
def chatty(monkeypatch, capfd):
    library = logging.getLogger("somelib")
    handler = logging.StreamHandler(sys.stderr)  # as libraries set themselves up: to the terminal they find
    library.addHandler(handler)
    library.propagate = False
    row = StageSpec("chatty", "A stage with talkative libraries.", f"{__name__}:ChattyConfig", f"{__name__}:chatty_cli")
    monkeypatch.setitem(STAGES, "chatty", row)
    yield library, handler
    library.removeHandler(handler)
    library.propagate = True


def test_quiet_run_logs_library_output_to_a_file_and_prints_the_path_first(chatty, capfd, tmp_path):
    library, handler = chatty
    root_handlers, library_handlers = list(logging.root.handlers), list(library.handlers)
    assert main(["chatty", "--set", "output_dir=out"]) == 0
    out, err = capfd.readouterr()
    assert out == "Wrote out/result.md\n"
    first, *rest = err.splitlines()
    assert first.startswith("log: out/logs/overthink-chatty-")
    assert first.endswith(".log (library output; --verbose prints it here)")
    assert rest == ["sample: our own line"]
    (log,) = (tmp_path / "out" / "logs").glob("overthink-chatty-*.log")
    text = log.read_text()
    assert "WARNING somelib: library chatter" in text and "UserWarning: a library warning" in text
    assert "native chatter" in text
    assert library.handlers == library_handlers and not library.propagate  # all put back as it was
    assert logging.root.handlers == root_handlers and "MLFLOW_CONFIGURE_LOGGING" not in os.environ


@pytest.mark.filterwarnings("ignore:a library warning")
def test_verbose_leaves_every_line_on_the_terminal(chatty, capfd, tmp_path):
    assert main(["--verbose", "chatty", "--set", "output_dir=out"]) == 0
    out, err = capfd.readouterr()
    assert out == "Wrote out/result.md\n"
    assert "library chatter" in err and "native chatter" in err and "log:" not in err
    assert not (tmp_path / "out" / "logs").exists()
    assert main(["chatty", "--set", "output_dir=out", "--verbose"]) == 0  # after the stage, too
    assert "library chatter" in capfd.readouterr().err


def test_a_bug_is_one_line_with_its_traceback_in_the_log(chatty, capfd, tmp_path):
    assert main(["chatty", "--set", "output_dir=boom"]) == 1
    err = capfd.readouterr().err.splitlines()
    (log,) = (tmp_path / "boom" / "logs").glob("*.log")
    assert err[-1] == f"error: RuntimeError: a bug (traceback in {log.relative_to(tmp_path)})"
    assert "Traceback" not in "\n".join(err) and "Traceback (most recent call last)" in log.read_text()


def test_worker_lines_go_to_the_log_of_a_routed_command_and_to_ray_otherwise(tmp_path):
    printed = []
    lines = logs.WorkerLines(printed.append)
    batch = {"pid": 41, "actor_name": "EngineActor", "lines": ["engine core exited unexpectedly"]}
    with logs.routed("sample", tmp_path) as path:
        lines(batch)
    assert "(EngineActor pid=41) engine core exited unexpectedly\n" in path.read_text() and printed == []
    late = {"pid": "raylet", "lines": ["A worker was killed by ray.kill"]}
    lines(late)  # after the command's last line (Ray shutting down): its log, not the terminal
    assert "(raylet) A worker was killed by ray.kill\n" in path.read_text() and printed == []
    unrouted = logs.WorkerLines(printed.append)
    unrouted(batch)
    assert printed == [batch]  # never routed (--verbose): Ray's own printer


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["Started a local Ray instance", "Starting execution of Dataset"])
def test_ctrl_c_ends_a_ray_run_promptly_with_130_and_no_traceback(tmp_path, moment):
    """SIGINT to the process group, as a terminal's Ctrl-C sends it, while Ray starts (inside
    ray.init) and while analyze runs on Ray Data; `moment` is a line of the run's log."""
    rows = [json.loads(line) for line in EXAMPLES.read_text().splitlines()]
    big = tmp_path / "big.jsonl"
    copies = [{**row, "problem_id": f"{row['problem_id']}-{i}"} for i in range(200) for row in rows]
    big.write_text("".join(json.dumps(row) + "\n" for row in copies))
    out = tmp_path / "out"
    args = [str(BIN / "overthink"), "analyze", "--input", str(big), "--output", str(out), "--set", "ray.num_cpus=2"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            if any(moment in log.read_text() for log in (out / "logs").glob("*.log")):
                break
            time.sleep(0.2)
        assert run.poll() is None, "analyze ended before it could be interrupted"
        os.killpg(run.pid, signal.SIGINT)
        sent = time.monotonic()
        err = run.communicate(timeout=60)[1]
        seconds = time.monotonic() - sent
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 130, err  # not -11: a Ctrl-C inside ray.init used to segfault the exit
    assert seconds < 60  # Ray finishes starting first (seconds), then shuts down
    assert err.rstrip().endswith("interrupted: finished work is kept; run the same command again to resume.")
    ours = ("log: ", "analyze: ", "stopping once Ray has started (Ctrl-C again: now)", "interrupted: ")
    assert all(line.startswith(ours) for line in err.splitlines() if line.strip()), err  # nothing of Ray's
