r"""Ray job entry point of the sample stage:

    ray job submit --working-dir . -- python jobs/sample.py --config configs/sample/organism.yaml \
        --output /data/samples

Same arguments as `overthink sample`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("sample"))
