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


def test_every_file_of_the_package_is_installed(installed):
    """A data file the code reads but package-data does not list would be missing on every node
    that installs the wheel; the editable checkout would never show it."""

    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}

    missing = files(REPO / "platform" / "overthink") - files(installed["site"] / "overthink")
    assert not missing, f"in the source tree, not in the wheel: {sorted(missing)}"


def test_the_stages_run_from_the_installed_package(installed):
    """Sample (a vLLM engine actor on local Ray), analyze (Ray Data) and pairs run from the
    installed copy, on the default organism (built once by tests/organism; resolved from
    `organism` by the installed copy). Train and evaluate run the same code paths from the
    checkout in tests/train and tests/evaluate, and across nodes in tests/cluster; what only a
    wheel can break, its files, is checked above."""
    out = installed["cwd"] / "quickstart"
    settings = {
        "ray.num_cpus": "2",
        "problems": "[{name: organism, split: train, limit: 12}]",
        "sampling.n": "2",
        "prompt": PROMPT,
    }
    overrides = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    result = run(installed, "-m", "overthink.cli", "quickstart", "--output", str(out), *overrides)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "| organism | organism | 24 |" in result.stdout
    pairs = run(
        installed,
        "-m",
        "overthink.cli",
        "pairs",
        "--input",
        str(out / "analysis"),
        "--output",
        str(out / "pairs"),
        "--strategies",
        "shortest",
        "--set",
        "ray.num_cpus=2",
    )
    assert pairs.returncode == 0, pairs.stdout[-2000:] + pairs.stderr[-4000:]
    for produced in ("samples/samples.parquet", "analysis/analyzed.parquet", "pairs/pairs.parquet"):
        assert (out / produced).is_file(), produced
