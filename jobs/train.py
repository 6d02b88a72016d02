r"""Ray job entry point of the train stage:

    ray job submit --working-dir . -- python jobs/train.py --pairs /data/pairs --model /data/base \
        --output /data/train --loss simpo --strategy fcs_reflection

Same arguments as `overthink train`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("train"))
