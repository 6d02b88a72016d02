"""Start or join Ray: a new local instance sized for this machine unless an address is given.

Joining a cluster ships this process's `overthink` package to every worker (Ray `py_modules`),
so the driver, engines, train workers and Tune trials all run the code that was submitted, not
whatever copy each node has installed."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from overthink.errors import OverthinkError
from overthink.runtime.config import RayConfig
from overthink.runtime.placement import AUTOSCALER_CONFIG_ENV, ClusterNodes, NodeType, launcher_node_types

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


REACH_TIMEOUT_S = 20.0


def require_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Fail in seconds, naming the address, where Ray itself would retry the head's GCS forever
    (an unreachable `ray.address` used to hang the run and ignore nothing but kill -9)."""
    import socket
    import time

    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=min(5.0, timeout_s)):
                return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise OverthinkError(
                    f"ray.address={address}: no Ray head answers there after {timeout_s:.0f} s "
                    f"({err.strerror or err}); "
                    "start the cluster (`ray up ray_cluster.yaml`) or fix the address (RAY_ADDRESS, ray.address)"
                ) from None
            time.sleep(1.0)


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold a Ctrl-C until ray.init returns, then raise it: one in the middle leaves a half-made
    core worker (the process segfaults at exit) or Ray's agents running after the command ended.
    A second Ctrl-C does not wait."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []

    def hold(signum, frame):
        if held:
            raise KeyboardInterrupt
        held.append(signum)
        print("\nstopping once Ray has started (Ctrl-C again: now)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if held:
        raise KeyboardInterrupt


def init_ray(config: RayConfig):
    """`address="local"` never attaches to a foreign instance by accident; RAY_ADDRESS (set by
    `ray job submit`) or ray.address joins a cluster."""
    import ray

    from overthink.runtime import logs

    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    address = cluster_address(config)
    logs.sweep_loggers()  # Ray's own console handler, set up when ray was imported
    if ray.is_initialized():
        pass  # inside a Ray worker (a sweep trial) or a second stage in one process: Data settings still apply
    elif address:
        require_reachable(address)
        with ctrl_c_held():
            ray.init(address=address, log_to_driver=True, runtime_env=submitted_code_env())
    else:
        with ctrl_c_held():
            ray.init(
                address="local",
                num_cpus=config.num_cpus or os.cpu_count(),
                include_dashboard=False,
                log_to_driver=True,
                configure_logging=False,
            )
    logs.capture_worker_output()
    from ray.data import DataContext

    logs.sweep_loggers()  # and Ray Data's

    context = DataContext.get_current()
    context.enable_progress_bars = False  # the stage draws its own bar
    context.execution_options.preserve_order = True
    return ray


def ray_running() -> bool:
    """Whether this process is connected to Ray (without importing it)."""
    return "ray" in sys.modules and sys.modules["ray"].is_initialized()


def stop_ray() -> None:
    """Disconnect, and end a local instance this process started (what exit would do, but while
    the command's output is still routed, so Ray's last words go to the log)."""
    if ray_running():
        import ray

        ray.shutdown()


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


LAUNCHER_CONFIG = "~/ray_bootstrap_config.yaml"  # where `ray up` puts the cluster config on the head


def cluster_nodes() -> ClusterNodes:
    """The alive nodes' resources and the node types an autoscaler can add (see ClusterNodes)."""
    import ray

    alive = [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]
    return ClusterNodes(alive, autoscaler_node_types())


def autoscaler_node_types() -> list[NodeType] | None:
    """From the node groups an autoscaler reported to the GCS (autoscaler v2, KubeRay), else from
    the autoscaler config file on this node (`ray up` puts it on the head, where job drivers run),
    else [] without an autoscaler and None when one runs with types unknown here."""
    from overthink.runtime import ray_internals

    groups = ray_internals.autoscaler_node_groups()
    if groups:
        if any(g["max_count"] < 0 for g in groups):
            return None  # an unbounded group: no count follows from it
        return [NodeType(g["resources"], g["max_count"]) for g in groups if g["max_count"]]
    path = Path(os.environ.get(AUTOSCALER_CONFIG_ENV) or LAUNCHER_CONFIG).expanduser()
    if path.is_file():
        import yaml

        return launcher_node_types(yaml.safe_load(path.read_text()) or {})
    if os.environ.get(AUTOSCALER_CONFIG_ENV):
        raise OverthinkError(f"{AUTOSCALER_CONFIG_ENV}={path}: no such file on this node")
    return None if ray_internals.autoscaler_reports() else []
