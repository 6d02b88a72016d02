r"""Ray job entry point of the analyze stage:

    ray job submit --working-dir . -- python jobs/analyze.py --input /data/samples/samples.parquet \
        --output /data/analysis

Same arguments as `overthink analyze`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("analyze"))
