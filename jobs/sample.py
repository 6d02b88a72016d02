"""Ray job entry point of the sample stage:

    ray job submit --working-dir . -- python jobs/sample.py --config configs/sample/organism.yaml --output out/samples

Same arguments as `overthink sample`; joins the cluster through RAY_ADDRESS set by the job."""

import sys
from pathlib import Path

try:
    import overthink  # noqa: F401  (installed on the cluster's nodes)
except ImportError:  # a bare checkout: the package's source root is platform/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from overthink.cli import main

if __name__ == "__main__":
    sys.exit(main(["sample", *sys.argv[1:]]))
