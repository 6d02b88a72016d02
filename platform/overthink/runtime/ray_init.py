"""Start or join Ray: a new local instance sized for this machine unless an address is given.

Joining a cluster ships this process's `overthink` package to every worker (Ray `py_modules`),
so the driver, engines, train workers and Tune trials all run the code that was submitted, not
whatever copy each node has installed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from overthink.runtime.config import RayConfig

JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by `ray job submit` for the driver


def cluster_address(config: RayConfig) -> str | None:
    """The cluster this run joins, or None for a new local instance."""
    address = config.address or os.environ.get("RAY_ADDRESS") or None
    return None if address == "local" else address


def submitted_code_env() -> dict:
    """A runtime env that puts this process's overthink package first on every worker's path,
    unless the job already chose its py_modules (Ray refuses to merge the same key twice)."""
    job = json.loads(os.environ.get(JOB_CONFIG_ENV) or "{}")
    if (job.get("runtime_env") or {}).get("py_modules"):
        return {}
    import overthink

    return {"py_modules": [str(Path(overthink.__file__).resolve().parent)]}


def init_ray(config: RayConfig):
    """`address="local"` never attaches to a foreign instance by accident; RAY_ADDRESS (set by
    `ray job submit`) or ray.address joins a cluster."""
    import ray

    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    address = cluster_address(config)
    if ray.is_initialized():
        pass  # inside a Ray worker (a sweep trial) or a second stage in one process: Data settings still apply
    elif address:
        ray.init(address=address, log_to_driver=True, runtime_env=submitted_code_env())
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


def node_gpu_counts() -> tuple[list[int], list[int]]:
    """GPUs per alive node, and per node type the autoscaler can still add (empty without one)."""
    import ray

    alive = [int(node["Resources"].get("GPU", 0)) for node in ray.nodes() if node.get("Alive")]
    scalable = []
    try:
        from ray._private.state import state

        cluster_config = state.get_cluster_config()
        for group in cluster_config.node_group_configs if cluster_config else []:
            if group.max_count != 0:
                scalable.append(int(group.resources.get("GPU", 0)))
    except Exception:  # an older GCS without the autoscaler's config: only the nodes there are
        pass
    return alive, scalable
