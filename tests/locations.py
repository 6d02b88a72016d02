"""Where tests find things: the checkout, the reference data beside it, the bundled examples and
this interpreter. Imported by name from any test folder (a `conftest` module may be another
folder's)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "fixtures"
OFFICIAL = SHARED / "overthinking_official" / "debug.jsonl.split.eval.solution_level_eval.diversity.jsonl"
REAL_TRACES = SHARED / "real_traces" / "sky_t1_27b_math500.jsonl"
EXAMPLES = REPO / "platform" / "overthink" / "examples" / "responses.jsonl"
PYTHON = sys.executable


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data {path} is not beside the checkout")
    return path
