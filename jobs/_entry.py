"""Shared start of the job scripts: make `overthink` importable, then run one CLI stage."""

import sys
from pathlib import Path

try:
    import overthink  # noqa: F401  (installed on the cluster's nodes)
except ImportError:  # a bare checkout: the package's source root is platform/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))


def run(stage: str) -> int:
    from overthink.cli import main

    return main([stage, *sys.argv[1:]])
