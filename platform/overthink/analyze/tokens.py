"""Token counts with the evaluated model's tokenizer, per response and per character span."""

from __future__ import annotations

import re
from bisect import bisect_left

from overthink.errors import ConfigError

_APPROX = re.compile(r"\w+|[^\w\s]")


class TokenCounter:
    """Tokenizes responses once and counts the tokens that start inside any character span.

    `name_or_path` is a local tokenizer folder or a hub id (loaded offline from the cache);
    None counts words and punctuation marks instead, a model-free approximation."""

    def __init__(self, name_or_path: str | None):
        self.name = name_or_path or "approx-words"
        self._tokenizer = None
        if name_or_path:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            except Exception as err:  # OSError, ValueError, hub errors: all mean "cannot load it"
                raise ConfigError(
                    f"tokenizer {name_or_path!r} cannot be loaded (offline: a local folder or a cached hub id): {err}"
                ) from None
            if not self._tokenizer.is_fast:
                raise ConfigError(
                    f"tokenizer {name_or_path!r} has no fast version; per-solution counts need its offsets"
                )

    def starts(self, texts: list[str]) -> list[list[int]]:
        """Start offset of every token of every text."""
        if self._tokenizer is None:
            return [[m.start() for m in _APPROX.finditer(text)] for text in texts]
        encoded = self._tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        return [[start for start, _ in offsets] for offsets in encoded["offset_mapping"]]

    def count(self, texts: list[str]) -> list[int]:
        return [len(starts) for starts in self.starts(texts)]


def tokens_before(starts: list[int], offset: int) -> int:
    """Number of tokens that start before character `offset`."""
    return bisect_left(starts, offset)
