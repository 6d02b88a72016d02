"""Shared start of the job scripts: import `overthink` from this tree, then run one CLI stage.

`ray job submit --working-dir .` unpacks the submitted tree beside this file; its platform/ goes
first on the path so the driver runs the submitted code rather than a copy installed on the node
(and overthink.runtime.ray_init ships that same package to every worker)."""

import sys
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1] / "platform"
if (SOURCE_ROOT / "overthink").is_dir():
    sys.path.insert(0, str(SOURCE_ROOT))


def run(stage: str) -> int:
    from overthink.cli import main

    return main([stage, *sys.argv[1:]])
