"""A time budget per analyzed row: one pathological response (tens of thousands of paragraphs,
an answer sympy chokes on) is flagged `row_timeout`, not a stalled shard. Checked between steps
(each paragraph, each grade), so a row stops within one step of its budget."""

from __future__ import annotations

import time


class RowTimeout(Exception):
    """The row ran past its budget."""


class Deadline:
    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def check(self, where: str) -> None:
        if self.at is not None and time.monotonic() > self.at:
            raise RowTimeout(f"analysis of the row took over {self.seconds:g} s (stopped while {where})")


NO_DEADLINE = Deadline(None)
