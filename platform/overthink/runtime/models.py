"""Model resolution in one place: every stage that takes a model accepts the same specs.

- `organism`: the model organism, built once and cached (overthink.organism);
- a local Hugging Face folder (must hold config.json);
- an MLflow model URI (`models:/NAME@alias`, `models:/NAME/3`, `runs:/RUN/model`): downloaded;
- anything else is a hub id, passed through for vLLM/transformers to download where they run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from overthink.errors import ConfigError, InputError

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")
ORGANISM = "organism"


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
    path = str(Path(spec).expanduser().resolve()) if looks_local(spec) else spec
    return ResolvedModel(spec, path, spec)


def _download_mlflow_model(spec: str, key: str, download_dir, tracking_uri: str | None) -> ResolvedModel:
    import mlflow

    from overthink.config import content_hash

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    target = (
        Path(download_dir)
        if download_dir
        else Path.home() / ".cache" / "overthink" / "mlflow-models" / content_hash([mlflow.get_tracking_uri(), spec])
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
