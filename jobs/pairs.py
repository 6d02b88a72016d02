r"""Ray job entry point of the pairs stage:

    ray job submit --working-dir . -- python jobs/pairs.py --input /data/analysis --output /data/pairs \
        --strategies fcs fcs_reflection

Same arguments as `overthink pairs`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("pairs"))
