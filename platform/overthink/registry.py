"""Named registries for the pluggable science (segmenters, distinctness judges, pair strategies,
losses), after verl's `register_policy_loss`: a config names an entry, the registry's keys are
what it may name, and adding an entry is one function and one decorator. Pure: no heavy imports,
so config modules can import a registry to validate names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from overthink.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in registration order. `kind` names what they are in errors ("pair strategy")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding its target under `name`; returns the target unchanged."""

        def add(entry: T) -> T:
            if name in self._entries:  # a second entry would silently shadow the first
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):  # TypeError: an unhashable value from a hand-edited config
            raise ConfigError(f"unknown {self.kind} {name!r}: choose one of {', '.join(self._entries)}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries
        except TypeError:
            return False

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
