"""Typed, frozen stage configs: defaults < YAML file < `--set key=value` overrides.

Every field carries its help text once (pydantic `description`); `--help` and the README's config
tables are generated from it. Unknown keys and bad values raise ConfigError naming the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterator, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from overthink.errors import ConfigError


def content_hash(value) -> str:
    """A stable 16-hex-digit hash of a JSON-able value: the key of content-addressed outputs."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are frozen after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def fingerprint(self) -> str:
        """Stable hash of the config's content, for content-addressed outputs."""
        return content_hash(self.model_dump(mode="json"))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


ConfigT = TypeVar("ConfigT", bound=Section)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=1` -> (["a", "b"], 1); the value is read as YAML so lists and numbers work."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {key}: value {raw!r} is not valid YAML: {err}") from None
    return key.strip().split("."), value


def apply_override(data: dict, path: list[str], value: Any) -> None:
    node = data
    for depth, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {'.'.join(path)}: {'.'.join(path[:depth + 1])} is not a section")
        node = child
    node[path[-1]] = value


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, not {type(data).__name__}")
    return data


def describe_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid config ({source}):"]
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "<root>"
        if problem["type"] == "extra_forbidden":
            lines.append(f"  unknown key '{key}'")
        elif problem["type"] == "missing":
            lines.append(f"  missing required key '{key}'")
        else:
            lines.append(f"  key '{key}': {problem['msg']} (got {problem.get('input')!r})")
    return "\n".join(lines)


def load_config(
    model: type[ConfigT],
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict | None = None,
) -> ConfigT:
    """Build `model` from `base` < YAML at `path` < `overrides`; raise ConfigError on any problem."""
    data: dict = json.loads(json.dumps(base or {}))
    sources = ["defaults"]
    if path is not None:
        deep_merge(data, read_yaml(path))
        sources.append(str(path))
    for text in overrides:
        key_path, value = parse_override(text)
        apply_override(data, key_path, value)
    if overrides:
        sources.append("--set")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, " < ".join(sources))) from None


def deep_merge(into: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def iter_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any, str, Any]]:
    """Yield (dotted key, annotation, help, default) for every leaf field, sections flattened."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield key, annotation, field.description or "", None
            yield from iter_fields(annotation, prefix=f"{key}.")
        else:
            default = None if field.is_required() else field.get_default(call_default_factory=True)
            yield key, annotation, field.description or "", default


def type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    return text or re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(annotation))  # typing.X, pkg.mod.Class -> X, Class


def help_table(model: type[BaseModel], markdown: bool = False, expand: tuple[str, ...] | None = None) -> str:
    """Every config key with its type, default and help: for `--help` and the README. With
    `expand`, only those top-level sections are listed key by key; the others are one row each
    (the pipeline's sections are whole stage configs, documented with their stages)."""
    rows = []
    for key, annotation, help_text, default in iter_fields(model):
        section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        top = key.split(".")[0]
        if expand is not None and "." in key and top not in expand:
            continue
        if section and (expand is None or top in expand):
            continue
        rows.append((key, "section" if section else type_name(annotation), "" if section else json.dumps(default), help_text))
    if markdown:
        out = ["| key | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{k}` | {t.replace('|', 'or')} | {f'`{d}`' if d else ''} | {h} |" for k, t, d, h in rows]
        return "\n".join(out)
    width = max(len(k) for k, *_ in rows)
    return "\n".join(f"  {k:<{width}}  {h} [default: {d}]" for k, t, d, h in rows)
