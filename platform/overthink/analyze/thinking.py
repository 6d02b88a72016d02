"""Locate the thinking part of a response (the text before `</think>` or its equivalents)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResponseParts:
    """Character offsets of the parts of one response."""

    thinking_start: int  # first character after an opening tag, 0 without one
    thinking_end: int  # offset of the closing tag, len(text) without one
    answer_start: int  # first character after the closing tag (== len(text) without one)
    opened: bool  # an opening thinking tag was present
    closed: bool  # a closing thinking tag was present


def split_thinking(text: str, open_markers: tuple[str, ...], close_markers: tuple[str, ...]) -> ResponseParts:
    """Split at the first closing marker; an opening marker, if any, is skipped over."""
    start, opened = 0, False
    for marker in open_markers:
        at = text.find(marker)
        if at != -1 and at < 200:  # an opening tag belongs at the very beginning
            start, opened = at + len(marker), True
            break
    best = None
    for marker in close_markers:
        at = text.find(marker, start)
        if at != -1 and (best is None or at < best[0]):
            best = (at, at + len(marker))
    if best is None:
        return ResponseParts(start, len(text), len(text), opened, False)
    return ResponseParts(start, best[0], best[1], opened, True)
