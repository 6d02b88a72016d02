"""A Hugging Face hub cache made from a local model folder, laid out as `huggingface_hub` writes
it (models--ORG--NAME/{refs/main, snapshots/REV/...}): with HF_HUB_OFFLINE=1 a hub id resolves
from it exactly as a downloaded model does on a cluster, with no network."""

from __future__ import annotations

import shutil
from pathlib import Path

REVISION = "0" * 40


def publish_to_hub_cache(model_dir: str | Path, hub_cache: str | Path, repo_id: str) -> Path:
    repo = Path(hub_cache) / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    shutil.copytree(model_dir, snapshot, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot
