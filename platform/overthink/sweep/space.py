"""The sweep's search space, typed and checked when the config loads (never imports Ray).

YAML form, one entry per dotted settings key: `{grid: [...]}`, `{choice: [...]}`, `{uniform: [lo, hi]}`,
`{loguniform: [lo, hi]}`, `{randint: [lo, hi]}` (Ray's convention: lo..hi-1) or a plain fixed value.
Every listed value and the range of every distribution is validated strictly against the settings field,
so a typo or a bad bound fails at load time, not after the base evaluation has run.
"""

from __future__ import annotations

import difflib
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from overthink.errors import ConfigError


@dataclass(frozen=True)
class Grid:
    """Every value is tried (Tune's grid_search; a choice for random/Optuna searches)."""

    values: tuple[Any, ...]
    kind: ClassVar[str] = "grid"


@dataclass(frozen=True)
class Choice:
    """One value drawn per trial."""

    values: tuple[Any, ...]
    kind: ClassVar[str] = "choice"


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from [low, high)."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"


@dataclass(frozen=True)
class LogUniform:
    """A float drawn uniformly in log space from [low, high); low > 0."""

    low: float
    high: float
    kind: ClassVar[str] = "loguniform"


@dataclass(frozen=True)
class RandInt:
    """An int drawn from low..high-1 (Ray's randint: high is exclusive)."""

    low: int
    high: int
    kind: ClassVar[str] = "randint"


@dataclass(frozen=True)
class Fixed:
    """The same value in every trial."""

    value: Any
    kind: ClassVar[str] = "fixed"


Dimension = Grid | Choice | Uniform | LogUniform | RandInt | Fixed
LISTED = {"grid": Grid, "choice": Choice}
RANGES = {"uniform": Uniform, "loguniform": LogUniform, "randint": RandInt}
DISTRIBUTIONS = (*LISTED, *RANGES)
# PyYAML (YAML 1.1) reads a float only with a dot and, if any, a signed exponent: `1e-7` and `1.0e7` are text.
NUMBER_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_space(raw: Any, settings_model: type[BaseModel], where: str = "search.space") -> dict[str, Dimension]:
    """YAML form -> typed dimensions; raises ConfigError naming the full key (`where.key`) on any problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: give a mapping of {settings_model.__name__} keys, not {type(raw).__name__}")
    return {
        key: parse_dimension(f"{where}.{key}", spec, settings_field(f"{where}.{key}", key, settings_model))
        for key, spec in raw.items()
    }


def validate_search_space(raw: Any, settings_model: type[BaseModel], where: str = "search.space") -> dict[str, Any]:
    """parse_space, then back to the YAML form with values normalized (e.g. ints of float fields as floats):
    for a pydantic validator on a `dict[str, Any]` field. The ConfigError it raises passes through pydantic."""
    return dump_space(parse_space(raw, settings_model, where))


def space_values(dimension: Dimension) -> list | None:
    """The values a grid, choice or fixed dimension can take; None for drawn ranges."""
    if isinstance(dimension, (Grid, Choice)):
        return list(dimension.values)
    return [dimension.value] if isinstance(dimension, Fixed) else None


def dump_space(space: Mapping[str, Dimension]) -> dict[str, Any]:
    """Typed dimensions -> the YAML form (parse_space of it gives the same dimensions)."""
    return {key: dump_dimension(dimension) for key, dimension in space.items()}


def dump_dimension(dimension: Dimension) -> Any:
    if isinstance(dimension, Fixed):
        return dimension.value
    if isinstance(dimension, (Grid, Choice)):
        return {dimension.kind: list(dimension.values)}
    return {dimension.kind: [dimension.low, dimension.high]}


def settings_field(name: str, key: Any, model: type[BaseModel]) -> FieldInfo:
    """The leaf field a dotted key names, walking nested sections."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{name}: keys must be dotted {model.__name__} keys, not {key!r}")
    node: type[BaseModel] | None = model
    field = None
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if node is None:
            raise ConfigError(f"{name}: {'.'.join(parts[:depth])} is a value, not a section of {model.__name__}")
        if part not in node.model_fields:
            guess = did_you_mean(part, node.model_fields)
            raise ConfigError(f"{name}: {part!r} is not a key of {node.__name__}{guess}")
        field = node.model_fields[part]
        node = section(field.annotation)
    if node is not None:
        # A whole section would be replaced, dropping the base config's other keys in it: search its keys instead.
        raise ConfigError(f"{name}: is a section; search its keys instead (e.g. {key}.{next(iter(node.model_fields))})")
    return field


def section(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def parse_dimension(name: str, spec: Any, field: FieldInfo) -> Dimension:
    adapter = field_adapter(field)
    if isinstance(spec, Mapping) and not (takes_dict(field.annotation) and not is_distribution(spec)):
        kind, args = distribution(name, spec, field)
        if kind in LISTED:
            return LISTED[kind](listed_values(name, kind, args, adapter))
        return ranged(name, kind, args, adapter)
    return Fixed(checked_value(name, "fixed value", spec, adapter, fixed=True))


def field_adapter(field: FieldInfo) -> TypeAdapter:
    """The field's type with its constraints (gt=0, ge=1, ...), so values are checked as the config would."""
    annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return TypeAdapter(annotation)


def takes_dict(annotation: Any) -> bool:
    """The field holds a mapping (e.g. resources_per_worker), so a fixed dict value is not a distribution."""
    origin = get_origin(annotation)
    if annotation is dict or origin in (dict, Mapping):
        return True
    return origin in (Union, types.UnionType) and any(takes_dict(arg) for arg in get_args(annotation))


def is_distribution(spec: Mapping) -> bool:
    return len(spec) == 1 and next(iter(spec)) in DISTRIBUTIONS


def distribution(name: str, spec: Mapping, field: FieldInfo) -> tuple[str, Any]:
    """The single {kind: args} entry of a distribution mapping."""
    names = ", ".join(DISTRIBUTIONS)
    if len(spec) != 1:
        fixed = "" if takes_dict(field.annotation) else "; a fixed mapping is not a value of this key"
        raise ConfigError(f"{name}: give exactly one of {names} (got {len(spec)} entries: {list(spec)}){fixed}")
    kind, args = next(iter(spec.items()))
    if kind not in DISTRIBUTIONS:
        guess = did_you_mean(kind, DISTRIBUTIONS)
        raise ConfigError(f"{name}: unknown distribution {kind!r}; use one of {names}{guess}")
    return kind, args


def listed_values(name: str, kind: str, args: Any, adapter: TypeAdapter) -> tuple[Any, ...]:
    if not isinstance(args, (list, tuple)) or not args:
        raise ConfigError(f"{name}: {kind} needs a non-empty list of values (got {args!r})")
    return tuple(checked_value(name, f"{kind} value", value, adapter) for value in args)


def ranged(name: str, kind: str, args: Any, adapter: TypeAdapter) -> Dimension:
    """uniform / loguniform / randint [low, high]: numbers, low < high, every draw valid for the field."""
    if not isinstance(args, (list, tuple)) or len(args) != 2:
        raise ConfigError(f"{name}: {kind} needs [low, high] (got {args!r})")
    low, high = (bound(name, kind, which, value) for which, value in zip(("low", "high"), args))
    if kind == "randint" and not all(isinstance(value, int) for value in (low, high)):
        raise ConfigError(f"{name}: randint needs integer bounds (got {list(args)!r})")
    if kind != "randint":
        low, high = float(low), float(high)
    if low >= high:
        raise ConfigError(f"{name}: {kind} needs low < high (got [{low!r}, {high!r}])")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{name}: loguniform needs low > 0 (got {low!r})")
    # The extreme draws: Ray's high is exclusive, so the top float draw is just below high and randint's is high-1.
    top = high - 1 if kind == "randint" else math.nextafter(high, low)
    for value in (low, top):
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as err:
            floats = kind != "randint" and err.errors()[0]["type"].startswith("int")
            hint = f" ({kind} draws floats; use randint, grid or choice for an integer key)" if floats else ""
            raise ConfigError(
                f"{name}: {kind} [{low!r}, {high!r}] can draw {value!r}, which is not valid: {first_error(err)}{hint}"
            ) from None
    return RANGES[kind](low, high)


def bound(name: str, kind: str, which: str, value: Any) -> int | float:
    if isinstance(value, str) and NUMBER_TEXT.fullmatch(value.strip()):
        raise ConfigError(f"{name}: {kind} {which} {value!r} is text, not a number{number_hint(value)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: {kind} {which} {value!r} is not a finite number")
    return value


def checked_value(name: str, label: str, value: Any, adapter: TypeAdapter, fixed: bool = False) -> Any:
    """The value validated strictly (no "1e-7" -> 1e-7 coercion) and dumped back to plain JSON-able data."""
    try:
        return adapter.dump_python(adapter.validate_python(value, strict=True), mode="json")
    except ValidationError as err:
        hint = value_hint(value, fixed)
        raise ConfigError(f"{name}: {label} {value!r} is not valid: {first_error(err)}{hint}") from None


def first_error(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def value_hint(value: Any, fixed: bool) -> str:
    if isinstance(value, str) and NUMBER_TEXT.fullmatch(value.strip()):
        return number_hint(value)
    if fixed and isinstance(value, list):  # likely a forgotten `grid:`
        return " (to search over several values, write {grid: [...]} or {choice: [...]})"
    return ""


def number_hint(text: str) -> str:
    """Why YAML read a number as text, and how to write it so it reads as one."""
    mantissa, sep, exponent = text.strip().lower().partition("e")
    if not sep:
        return " (drop the quotes)"
    mantissa = mantissa if "." in mantissa else f"{mantissa}.0"
    exponent = exponent if exponent[:1] in "+-" else f"+{exponent}"
    return f" (YAML reads {text} as text; write {mantissa}e{exponent}: a dot and a signed exponent)"


def did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
