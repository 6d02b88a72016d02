"""The real entry points as a user runs them: the `overthink` command (jobs submitted with `ray job
submit` run on a two-node cluster in tests/cluster/test_two_nodes.py)."""

import shutil
from pathlib import Path

import pytest

from locations import EXAMPLES, REPO
from raycluster import BIN, run

pytestmark = pytest.mark.slow


def test_quickstart_builds_samples_analyzes_and_prints_the_table(tmp_path):
    """The README's first command (smaller: 8 problems x 2); builds the default organism once."""
    result = run(
        [
            str(BIN / "overthink"),
            "quickstart",
            "--output",
            str(tmp_path / "qs"),
            "--set",
            "problems=[{name: organism, limit: 8}]",
            "--set",
            "sampling.n=2",
        ],
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| organism | organism | 16 |" in result.stdout
    assert "mlflow ui --backend-store-uri sqlite:///" in result.stdout
    assert "/#/experiments/1/runs?workflowType=machine_learning" in result.stdout  # the runs, not GenAI
    assert (tmp_path / "mlflow" / "mlflow.db").exists()  # local store inside the working directory
    assert (tmp_path / "qs" / "samples" / "samples.parquet").exists()
    assert (tmp_path / "qs" / "analysis" / "analyzed.parquet").exists()
    # calm: the result and where it went; the libraries' chatter in the log named first
    assert "Wrote " in result.stdout.splitlines()[-1]
    assert "Traceback" not in result.stderr and "exited unexpectedly" not in result.stderr
    log = result.stderr.splitlines()[0].removeprefix("log: ").split(" (")[0]
    chatter = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("sample:", "analyze:"))
    ]
    assert Path(log).is_file() and len(chatter) == 1, chatter  # the log line; the rest is progress bars
    # The README's second command (lint, then tests) after the first, in the same folder: the
    # store it left (mlflow/) must not turn `import mlflow` into a first-party import for ruff.
    for name in ("pyproject.toml", "platform", "tests", "jobs", "bench", "scripts"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    lint = run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout[-3000:]


def test_analyze_command_on_the_bundled_examples(tmp_path):
    result = run(
        [
            str(BIN / "overthink"),
            "analyze",
            "--input",
            str(EXAMPLES),
            "--output",
            str(tmp_path / "ex"),
            "--set",
            "name=examples",
        ],
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| arith-examples | examples | 24 |" in result.stdout
    assert not (tmp_path / "ex" / ".overthink.lock").exists()  # a finished folder names no holder


def test_bad_input_exits_2_with_a_clear_message_and_no_output(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(EXAMPLES.read_text().splitlines()[0] + "\n{oops\n")
    result = run(
        [str(BIN / "overthink"), "analyze", "--input", str(bad), "--output", str(tmp_path / "o")], cwd=tmp_path
    )
    assert result.returncode == 2
    assert f"{bad}:2: malformed JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()  # refused before any work: no output folder, no logs/ in it
