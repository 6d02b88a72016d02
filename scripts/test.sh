#!/usr/bin/env bash
# Creates the environment (if needed), checks lint and formatting, and runs the whole test suite.
# Extra arguments go to pytest. pytest exits non-zero when no test ran (exit 5), so an empty run fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# tests/cluster/test_launcher.py runs `ray up` over SSH to this machine: Debian's sshd (run per
# connection by the test, never as a daemon) and rsync. Installed once, as root; otherwise it skips.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! { [ -x /usr/sbin/sshd ] && command -v rsync >/dev/null; }; then
  deny=""; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; deny=1; }
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server rsync  # no sshd started: policy-rc.d
  [ -z "$deny" ] || rm -f /usr/sbin/policy-rc.d
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RAY_TRAIN_ENABLE_PRINT_PATCH=0 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
