r"""Ray job entry point of the serve stage (runs until the job is stopped):

    ray job submit --working-dir . -- python jobs/serve.py --model models:/overthink-organism@champion \
        --host 0.0.0.0 --port 8000

Same arguments as `overthink serve`; joins the cluster through RAY_ADDRESS set by the job."""

import sys

from _entry import run

if __name__ == "__main__":
    sys.exit(run("serve"))
