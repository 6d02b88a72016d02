"""Model resolution in one place: every stage that takes a model accepts the same specs.

- `organism`: the model organism, built once and cached (overthink.organism);
- a local Hugging Face folder (must hold config.json);
- an MLflow model URI (`models:/NAME@alias`, `models:/NAME/3`, `runs:/RUN/model`): downloaded
  into $OVERTHINK_CACHE/mlflow-models;
- anything else is a Hugging Face hub id: downloaded once, here, into the Hugging Face cache
  (HF_HOME).

Every spec becomes a local folder before any Ray work, and engines and train workers load that
folder: on a cluster, OVERTHINK_CACHE and HF_HOME point at storage every node mounts, so each
node finds the same path and none downloads on its own."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from overthink.errors import ConfigError, InputError

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")
ORGANISM = "organism"
CACHE_ENV = "OVERTHINK_CACHE"
# Weights in formats vLLM and transformers do not load when safetensors are there: skipped.
NOT_LOADED = ["*.pt", "*.pth", "*.h5", "*.msgpack", "*.onnx", "*.gguf", "original/*"]


def cache_root() -> Path:
    """Where overthink keeps built organisms and downloaded MLflow models."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/overthink").expanduser()


@dataclass(frozen=True)
class ResolvedModel:
    spec: str  # as the user gave it
    path: str  # a local folder or a hub id: what transformers and vLLM load
    name: str  # what outputs record (the samples' `model` column, fingerprints)
    run_id: str | None = None  # the MLflow run that logged it, for MLflow URIs

    @property
    def is_local(self) -> bool:
        return os.path.isdir(self.path)


def looks_local(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or os.path.isdir(os.path.expanduser(spec))


def require_model_folder(path: str, key: str = "model") -> None:
    """A model given as a local path must be a Hugging Face folder; hub ids pass through."""
    if looks_local(path) and not os.path.isfile(os.path.join(os.path.expanduser(path), "config.json")):
        raise ConfigError(f"{key}={path}: not a Hugging Face model folder (no config.json)")


def resolve_model(
    spec: str | None, key: str = "model", download_dir: str | Path | None = None, tracking_uri: str | None = None
) -> ResolvedModel:
    """The model behind `spec`; `key` names the config key in errors. MLflow models are
    downloaded into `download_dir` (default: the user cache)."""
    if not spec:
        raise ConfigError(f"no model: set {key} (a Hugging Face folder, hub id, `organism` or models:/NAME@alias)")
    if spec == ORGANISM:
        from overthink.organism.build import build_organism
        from overthink.organism.config import OrganismConfig

        path = build_organism(OrganismConfig())
        return ResolvedModel(spec, str(path.resolve()), f"organism-{path.name}")
    if spec.startswith(MLFLOW_SCHEMES):
        return _download_mlflow_model(spec, key, download_dir, tracking_uri)
    require_model_folder(spec, key)
    if looks_local(spec):
        return ResolvedModel(spec, str(Path(spec).expanduser().resolve()), spec)
    return ResolvedModel(spec, download_hub_model(spec, key), spec)


def download_hub_model(repo_id: str, key: str = "model") -> str:
    """The hub model's snapshot folder in the Hugging Face cache, downloaded if missing (resumable;
    HF_TOKEN is used for gated models). Offline (HF_HUB_OFFLINE=1) only the cache is read."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HFValidationError

    ignore = list(NOT_LOADED)
    try:
        if any(name.endswith(".safetensors") for name in HfApi().list_repo_files(repo_id)):
            ignore.append("*.bin")
    except Exception:  # offline, or the listing failed: the download below says why if it matters
        pass
    try:
        return snapshot_download(repo_id, ignore_patterns=ignore)
    except HFValidationError:
        raise ConfigError(
            f"{key}={repo_id}: not a model folder here and not a hub id "
            "(give a folder with config.json, `organism`, a hub id like Qwen/QwQ-32B, or models:/NAME@alias)"
        ) from None
    except Exception as err:
        raise InputError(f"{key}={repo_id}: cannot download it from the Hugging Face hub ({root_line(err)})") from None


def root_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def require_on_this_node(path: str, key: str = "model") -> None:
    """A worker's check that the driver's model folder exists where it runs: a clear message
    instead of transformers' "not a valid model identifier" on a node without shared storage."""
    if os.path.isabs(path) and not os.path.isdir(path):
        import socket

        raise InputError(
            f"{key}: the folder {path} is not on node {socket.gethostname()}: keep models on storage every node "
            f"mounts (set HF_HOME and {CACHE_ENV} there, see docs/cluster.md)"
        )


def _download_mlflow_model(spec: str, key: str, download_dir, tracking_uri: str | None) -> ResolvedModel:
    import mlflow

    from overthink.config import content_hash

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    target = (
        Path(download_dir)
        if download_dir
        else cache_root() / "mlflow-models" / content_hash([mlflow.get_tracking_uri(), spec])
    )
    try:
        info = mlflow.models.get_model_info(spec)
        root = Path(mlflow.artifacts.download_artifacts(artifact_uri=spec, dst_path=str(target)))
    except Exception as err:  # MLflow raises several types for a missing model, alias or run
        raise InputError(f"{key}={spec}: cannot fetch it from MLflow ({str(err).splitlines()[0]})") from None
    folders = [p.parent for p in sorted(root.rglob("config.json"))]
    if not folders:
        raise InputError(f"{key}={spec}: the MLflow artifacts hold no Hugging Face folder (config.json)")
    return ResolvedModel(spec, str(folders[0]), spec, info.run_id)
