"""Shared test setup: MLflow on a per-session sqlite store, Ray shut down after each module,
tests run from a temp folder so nothing lands in the checkout."""

from __future__ import annotations

import os
import signal
import sys

import pytest

# A shell starts a background job (`pytest ... &`, nohup, some CI runners) with SIGINT ignored, and
# every process a test starts would inherit that: the Ctrl-C tests would see a stage ignore Ctrl-C.
# A handler (not SIG_IGN) is reset to the default in each child, which is what a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(scope="module", autouse=True)
def ray_shutdown():
    yield
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            ray.shutdown()


# A small organism recipe (seconds to build): real tokenizer, real Qwen2 checkpoint.
SMALL_ORGANISM = {"corpus": {"examples": 600}, "train": {"steps": 12, "batch_size": 4, "row_length": 256}}


@pytest.fixture(scope="session")
def organism_path(tmp_path_factory) -> str:
    from overthink.organism.build import build_organism
    from overthink.organism.config import OrganismConfig

    config = OrganismConfig.model_validate({**SMALL_ORGANISM, "cache_dir": str(tmp_path_factory.mktemp("organism"))})
    return str(build_organism(config, progress=False))
