"""Typed, frozen stage configs: defaults < YAML file < `--set key=value` overrides.

Every field carries its help text once (pydantic `description`); `--help` and the docs' config
reference are generated from it. Unknown keys and bad values raise ConfigError naming the key.

A stage's config is its *settings* (what the experiment decides) plus its *wiring* (inputs,
output folder, model, Ray, MLflow): `XConfig(XSettings)` adds the wiring fields. Composite stages
embed only `XSettings` and pass wiring in code with `XConfig.wire(settings, ...)`, so a wiring key
inside an embedded section is refused (naming the key) rather than silently replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

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


class Settings(Section):
    """What an experiment decides for one stage. `wiring` names the keys of the stage's full config
    that are wiring (filled in by `wiring_of`); composites refuse them inside this section."""

    wiring: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def wire(cls, settings: Settings, **wiring):
        """The full stage config (cls) from embedded settings and the wiring a composite passes."""
        data = settings.model_dump(mode="json")
        data.update(
            {
                key: value.model_dump(mode="json") if isinstance(value, BaseModel) else value
                for key, value in wiring.items()
            }
        )
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise ConfigError(describe_validation_error(err, f"{cls.__name__} wired by a composite stage")) from None


def wiring_of(config_class: type[Settings], settings_class: type[Settings]) -> None:
    """Record on `settings_class` which keys its full config adds (call after defining both)."""
    settings_class.wiring = tuple(k for k in config_class.model_fields if k not in settings_class.model_fields)


def registered(registry) -> Any:
    """A `str` config field whose value must name an entry of `registry` (overthink.registry)."""
    from typing import Annotated

    def check(name: str) -> str:
        if name not in registry:
            raise ValueError(f"unknown {registry.kind} {name!r}: choose one of {', '.join(registry.names())}")
        return name

    return Annotated[str, AfterValidator(check)]


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
            raise ConfigError(f"override {'.'.join(path)}: {'.'.join(path[: depth + 1])} is not a section")
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


def section_at(model: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """The config section class at a key path of `model` (None where the path leaves the models)."""
    for part in path:
        field = getattr(model, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def refused_wiring(model: type[BaseModel] | None, loc: tuple) -> str | None:
    """Why an unknown key is refused, when it is a wiring key inside an embedded stage's settings."""
    section = section_at(model, loc[:-1]) if model is not None and len(loc) > 1 else None
    if section is not None and loc[-1] in getattr(section, "wiring", ()):
        composite = model.__name__.removesuffix("Config").lower()
        return (
            f"key '{'.'.join(map(str, loc))}' is refused: `{loc[-1]}` is wiring that the {composite} passes to "
            f"`{'.'.join(map(str, loc[:-1]))}` itself; set the {composite}'s own top-level keys instead "
            f"(model, output_dir, ray, mlflow)"
        )
    return None


def describe_validation_error(err: ValidationError, source: str, model: type[BaseModel] | None = None) -> str:
    lines = [f"invalid config ({source}):"]
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "<root>"
        refused = refused_wiring(model, tuple(problem["loc"])) if problem["type"] == "extra_forbidden" else None
        if refused:
            lines.append(f"  {refused}")
        elif problem["type"] == "extra_forbidden":
            lines.append(f"  unknown key '{key}'")
        elif problem["type"] == "missing":
            lines.append(f"  missing required key '{key}'")
        else:
            lines.append(
                f"  key '{key}': {problem['msg'].removeprefix('Value error, ')} (got {problem.get('input')!r})"
            )
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
        raise ConfigError(describe_validation_error(err, " < ".join(sources), model)) from None


def deep_merge(into: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def field_at(model: type[BaseModel], key: str):
    """The pydantic FieldInfo of a dotted config key."""
    *sections, last = key.split(".")
    section = section_at(model, tuple(sections)) if sections else model
    if section is None or last not in section.model_fields:
        raise KeyError(f"{model.__name__} has no key {key!r}")
    return section.model_fields[last]


def iter_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any, str, Any]]:
    """Yield (dotted key, annotation, help, default) for every leaf field, sections flattened."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield key, annotation, field.description or "", None
            if not issubclass(annotation, Settings):  # another stage's settings: documented with that stage
                yield from iter_fields(annotation, prefix=f"{key}.")
        else:
            default = None if field.is_required() else field.get_default(call_default_factory=True)
            yield key, annotation, field.description or "", default


def type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    if text:
        return text
    text = re.sub(r"Annotated\[(\w+), .*?\)\]", r"\1", str(annotation))  # a validated str (registry names) -> str
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", text)  # typing.X, pkg.mod.Class -> X, Class


def help_table(model: type[BaseModel], markdown: bool = False) -> str:
    """Every config key with its type, default and help: for `--help` and docs/config.md. A section
    holding another stage's settings is one row (its keys are documented with that stage)."""
    rows = []
    for key, annotation, help_text, default in iter_fields(model):
        section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if section and not issubclass(annotation, Settings):
            continue  # its keys follow, one row each
        if section:
            stage = annotation.__name__.removesuffix("Settings").lower()
            rows.append((key, "section", "", f"{help_text} The {stage} stage's settings (see its keys)."))
        else:
            rows.append((key, type_name(annotation), json.dumps(default), help_text))
    if markdown:
        out = ["| key | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{k}` | {t.replace('|', 'or')} | {f'`{d}`' if d else ''} | {h} |" for k, t, d, h in rows]
        return "\n".join(out)
    width = max(len(k) for k, *_ in rows)
    return "\n".join(f"  {k:<{width}}  {h}" + (f" [default: {d}]" if d else "") for k, t, d, h in rows)
