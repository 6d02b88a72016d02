"""Start or join Ray: a new local instance sized for this machine unless an address is given."""

from __future__ import annotations

import os

from overthink.runtime.config import RayConfig


def init_ray(config: RayConfig):
    """`address="local"` never attaches to a foreign instance by accident; RAY_ADDRESS (set by
    `ray job submit`) or ray.address joins a cluster."""
    import ray

    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    address = config.address or os.environ.get("RAY_ADDRESS")
    if ray.is_initialized():
        pass  # inside a Ray worker (a sweep trial) or a second stage in one process: Data settings still apply
    elif address:
        ray.init(address=address, log_to_driver=True)
    else:
        ray.init(
            address="local",
            num_cpus=config.num_cpus or os.cpu_count(),
            include_dashboard=False,
            log_to_driver=True,
            configure_logging=False,
        )
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False  # the stage draws its own bar
    context.execution_options.preserve_order = True
    return ray


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))
