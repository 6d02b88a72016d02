#!/usr/bin/env bash
# Creates the environment (if needed), checks lint and formatting, and runs the whole test suite.
# Extra arguments go to pytest. pytest exits non-zero when no test ran (exit 5), so an empty run fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RAY_TRAIN_ENABLE_PRINT_PATCH=0 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
