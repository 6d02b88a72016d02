r"""Ray job entry point of the evaluate stage:

    ray job submit --working-dir . -- python jobs/evaluate.py --config configs/evaluate/organism.yaml \
        --model models:/overthink-organism@champion --baseline /data/eval/base \
        --output /data/eval/champion

Same arguments as `overthink evaluate`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("evaluate"))
