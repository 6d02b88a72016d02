"""Checks on model arguments shared by the stages that load checkpoints."""

from __future__ import annotations

import os

from overthink.errors import ConfigError


def require_model_folder(model: str) -> None:
    """A model given as a local path must be a Hugging Face folder; hub ids pass through."""
    looks_local = model.startswith((".", "/", "~")) or os.path.isdir(model)
    if looks_local and not os.path.isfile(os.path.join(os.path.expanduser(model), "config.json")):
        raise ConfigError(f"model={model}: not a Hugging Face model folder (no config.json)")
