r"""Ray job entry point of the pipeline stage:

    ray job submit --working-dir . -- python jobs/pipeline.py --config configs/pipeline/organism.yaml \
        --output /data/pipeline

Same arguments as `overthink pipeline`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("pipeline"))
