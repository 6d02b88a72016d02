"""Package, not checkout: a non-editable install of the project runs every stage from its own
files. The wheel is built from this tree and installed into a folder of its own; the stages run
from a directory far from the checkout, with that folder first on the path (Ray's workers inherit
it), so nothing can be read from the repository layout."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from locations import PYTHON, REPO

pytestmark = pytest.mark.slow
PROMPT = (
    "{system_prompt: 'You are a careful math assistant. Think step by step, then give the final answer in "
    "\\boxed{}.', answer_instruction: ''}"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """(environment running the installed copy, its site folder)."""
    root = tmp_path_factory.mktemp("installed")
    wheels, site, source = root / "wheels", root / "site", root / "source"
    # Build from a copy: setuptools writes build/ beside the sources, which must not land in the checkout.
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "platform", source / "platform", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    build = subprocess.run(
        [PYTHON, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob("overthink-*.whl"))
    install = subprocess.run(
        [PYTHON, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONUNBUFFERED": "1"}
    return {"env": env, "site": site, "cwd": root}


def run(installed, *args, timeout=900):
    return subprocess.run(
        [PYTHON, *args], capture_output=True, text=True, timeout=timeout, env=installed["env"], cwd=installed["cwd"]
    )


def test_the_installed_copy_is_the_one_imported_and_carries_its_files(installed):
    code = (
        "import overthink, overthink.train.core as t; print(overthink.__file__); "
        "print(sorted(t.deepspeed_config(m)['zero_optimization']['stage'] for m in ('zero2', 'zero3', "
        "'zero3_offload')))"
    )
    result = run(installed, "-c", code)
    assert result.returncode == 0, result.stderr[-3000:]
    where, stages = result.stdout.splitlines()
    assert Path(where).is_relative_to(installed["site"]) and stages == "[2, 3, 3]"
    assert not any(
        p.suffix == ".py" and "parents[" in p.read_text() for p in (installed["site"] / "overthink").rglob("*.py")
    )


def test_every_stage_runs_from_the_installed_package(installed):
    """The pipeline runs sample, analyze, pairs, train, evaluate and register on local Ray, on the
    default organism (built once by tests/organism; resolved from `organism` by the installed copy)."""
    out = installed["cwd"] / "pipeline"
    settings = {
        "ray.num_cpus": "2",
        "register_as": "package-test",
        "sample.problems": "[{name: organism, split: train, limit: 24}]",
        "sample.sampling.n": "2",
        "sample.prompt": PROMPT,
        "sample.engine.batch_size": "48",
        "pairs.strategies": "[fcs_reflection]",
        "train.strategy": "fcs_reflection",
        "train.max_steps": "1",
        "train.per_device_batch_size": "2",
        "train.max_length": "768",
        "train.placement.cpus": "0.9",
        "evaluate.sample.problems": "[{name: organism, limit: 3}]",
        "evaluate.sample.sampling.n": "1",
        "evaluate.sample.prompt": PROMPT,
    }
    overrides = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    result = run(installed, "-m", "overthink.cli", "pipeline", "--model", "organism", "--output", str(out), *overrides)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "Registered as models:/package-test@champion" in result.stdout
    for produced in (
        "samples/samples.parquet",
        "analysis/analyzed.parquet",
        "pairs/pairs.parquet",
        "train/model/config.json",
        "evaluate/trained/evaluation.json",
        "result.md",
    ):
        assert (out / produced).is_file(), produced
