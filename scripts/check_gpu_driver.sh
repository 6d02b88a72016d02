#!/usr/bin/env bash
# Warns (exit 0 regardless) when this node's NVIDIA driver cannot run the PyPI torch and vLLM
# wheels: they are CUDA 13 builds and need a driver of the R580 series or newer.
driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)"
if [ -z "$driver" ]; then
  echo "overthink: warning: no NVIDIA driver found (nvidia-smi); GPU nodes need driver R580 or newer" >&2
elif [ "${driver%%.*}" -lt 580 ]; then
  echo "overthink: warning: NVIDIA driver $driver is older than R580; torch and vLLM (CUDA 13 builds) will not use the GPUs" >&2
else
  echo "overthink: NVIDIA driver $driver (R580 or newer: CUDA 13 wheels run)"
fi
