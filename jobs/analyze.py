"""Ray job entry point of the analyze stage:

    ray job submit --working-dir . -- python jobs/analyze.py --input data.jsonl --output out/analyze

Same arguments as `overthink analyze`; joins the cluster through RAY_ADDRESS set by the job."""

import sys
from pathlib import Path

try:
    import overthink  # noqa: F401  (installed on the cluster's nodes)
except ImportError:  # a bare checkout: the package's source root is platform/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from overthink.cli import main

if __name__ == "__main__":
    sys.exit(main(["analyze", *sys.argv[1:]]))
