r"""Ray job entry point of the sweep stage:

    ray job submit --working-dir . -- python jobs/sweep.py --config configs/sweep/organism.yaml \
        --pairs /data/pairs --output /data/sweep

Same arguments as `overthink sweep`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("sweep"))
