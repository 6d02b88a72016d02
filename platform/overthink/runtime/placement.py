"""GPU or CPU: the one placement rule every stage with engines follows (sample's engine actors,
serve's replicas). Pure: the GPU counts come from `ray_init.node_gpu_counts()`."""

from __future__ import annotations

from overthink.errors import ConfigError


def gpu_groups(
    placement: str,
    group: int,
    alive: list[int],
    scalable: list[int] | None,
    key: str,
    what: str,
    allow_gpu: bool = True,
) -> int | None:
    """How many `group`-GPU groups fit on the alive nodes (0: none yet, an autoscaler will add them),
    or None to run on CPUs. `placement` is auto, gpu or cpu; a group must fit on one node; `scalable`
    lists the GPUs of node types an autoscaler can add (None: it runs but its types are unknown)."""
    fits_now = [gpus // group for gpus in alive if gpus >= group]
    fits_later = scalable is None or any(gpus >= group for gpus in scalable)
    known_later = scalable is not None and any(gpus >= group for gpus in scalable)
    use_gpu = placement == "gpu" or (placement == "auto" and allow_gpu and bool(fits_now or known_later))
    if not use_gpu:
        return None
    if not fits_now and not fits_later:
        largest = max(alive + (scalable or []), default=0)
        raise ConfigError(
            f"{key}.placement=gpu: {what} needs {group} GPUs on one node ({key}.tensor_parallel_size), but the "
            f"largest node{' or autoscaler node type' if scalable else ''} has {largest}; lower "
            f"tensor_parallel_size, add a node type with enough GPUs, or use {key}.placement=cpu"
        )
    return sum(fits_now)
