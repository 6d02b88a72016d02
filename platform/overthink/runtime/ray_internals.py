"""Every private Ray symbol overthink uses, and only here. Each has no public equivalent in Ray 2.60
(said per symbol below). A Ray upgrade that moves or removes one fails loudly, naming the symbol and
what overthink needs it for, instead of silently changing behaviour (the paper run's engine count
must not quietly drop to one); tests/runtime/test_ray_internals.py checks that each still exists.

Public paths used instead, where Ray has them: `ray.nodes()` for alive nodes, the cluster
launcher's `~/ray_bootstrap_config.yaml` (a documented file) for node types on a `ray up` head."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from overthink.errors import OverthinkError


class RayInternalsChanged(OverthinkError):
    """A private Ray symbol overthink relies on is gone or changed shape."""


@dataclass(frozen=True)
class Internal:
    module: str
    name: str
    why: str  # what overthink needs it for, and why no public API does it


# (module, attribute) -> purpose; the test checks each one against the installed Ray.
INTERNALS = {
    "cluster_state": Internal(
        "ray._private.state",
        "state",
        "the autoscaler's node types from the GCS (autoscaler v2 / KubeRay), to size engines on a cold cluster; "
        "Ray has no public API for them",
    ),
    "autoscaling_status_key": Internal(
        "ray._private.ray_constants",
        "DEBUG_AUTOSCALING_STATUS",
        "whether an autoscaler runs (its status in the GCS key-value store, which `ray status` reads)",
    ),
    "internal_kv_get": Internal(
        "ray.experimental.internal_kv",
        "_internal_kv_get",
        "reading the autoscaler's status key (the GCS key-value store has no public reader)",
    ),
    "stdstream_dispatcher": Internal(
        "ray._private.ray_logging",
        "global_worker_stdstream_dispatcher",
        "routing workers' output to the command's log file (ray.init only offers on/off: log_to_driver)",
    ),
    "autoscaler_event_filter": Internal(
        "ray._private.worker",
        "filter_autoscaler_events",
        "keeping only the autoscaler's events from its periodic status, as Ray's own printer does",
    ),
    "train_sigint_hook": Internal(
        "ray.train.v2.api.data_parallel_trainer",
        "DataParallelTrainer",
        "replacing Ray Train's Ctrl-C handler (`_register_sigint_handler`, called by fit()), which aborts the run "
        "and then calls sys.exit; Ray Train has no option for it",
    ),
    "validate_cluster_config": Internal(
        "ray.autoscaler._private.util",
        "validate_config",
        "checking a cluster launcher config offline, as `ray up` does (the public `bootstrap_config` also "
        "calls the cloud provider)",
    ),
    "prepare_cluster_config": Internal(
        "ray.autoscaler._private.util",
        "prepare_config",
        "filling a launcher config's defaults before validation, as `ray up` does",
    ),
}


def internal(key: str):
    """The symbol behind INTERNALS[key], or RayInternalsChanged naming it."""
    spec = INTERNALS[key]
    try:
        return getattr(importlib.import_module(spec.module), spec.name)
    except (ImportError, AttributeError) as err:
        raise changed(spec, f"{type(err).__name__}: {err}") from None


def changed(spec: Internal, detail: str) -> RayInternalsChanged:
    import ray

    return RayInternalsChanged(
        f"Ray {ray.__version__}: {spec.module}.{spec.name} is not what overthink expects ({detail}); overthink "
        f"uses it for {spec.why}. Install the Ray version pinned in pyproject.toml, or update "
        "overthink/runtime/ray_internals.py"
    )


def autoscaler_node_groups() -> list[dict] | None:
    """The node groups an autoscaler reported to the GCS, as {"resources", "max_count"} dicts,
    or None when none reported them (autoscaler v1 and the fake provider do not)."""
    spec = INTERNALS["cluster_state"]
    state = internal("cluster_state")
    if not callable(getattr(state, "get_cluster_config", None)):
        raise changed(spec, "no get_cluster_config()")
    config = state.get_cluster_config()
    if config is None:
        return None
    try:
        return [{"resources": dict(g.resources), "max_count": int(g.max_count)} for g in config.node_group_configs]
    except AttributeError as err:
        raise changed(spec, f"the cluster config has no {err.name}") from None


def autoscaler_reports() -> bool:
    """Whether an autoscaler has written its status to the GCS (it runs on this cluster)."""
    return bool(internal("internal_kv_get")(internal("autoscaling_status_key")))


def worker_stdstream_dispatcher():
    """Ray's dispatcher of workers' output lines: `.handlers` (name, handler) pairs under `._lock`."""
    dispatcher = internal("stdstream_dispatcher")
    if not (hasattr(dispatcher, "handlers") and hasattr(dispatcher, "_lock")):
        raise changed(INTERNALS["stdstream_dispatcher"], "no handlers or _lock")
    return dispatcher


def filter_autoscaler_events(lines: list[str]) -> list[str]:
    return list(internal("autoscaler_event_filter")(lines))


def validate_cluster_config(config: dict) -> dict:
    """A cluster launcher config checked against Ray's schema with `ray up`'s defaults filled in;
    raises on a schema error. Offline: no cloud call."""
    prepared = internal("prepare_cluster_config")(config)
    internal("validate_cluster_config")(prepared)
    return prepared


def interruptible_torch_trainer():
    """TorchTrainer whose Ctrl-C is ours: Ray Train V2's own handler aborts the run and then calls
    sys.exit (a command would end with status 1, no message, and its MLflow run FAILED). This one
    aborts the run (its workers stop; the last checkpoint stays for the re-run to resume from) and
    raises KeyboardInterrupt, so train ends like every stage: `interrupted: ...`, 130, KILLED."""
    import signal

    import ray
    from ray.train.torch import TorchTrainer

    if not callable(getattr(internal("train_sigint_hook"), "_register_sigint_handler", None)):
        raise changed(INTERNALS["train_sigint_hook"], "no _register_sigint_handler")

    class InterruptibleTrainer(TorchTrainer):
        def _register_sigint_handler(self, controller):
            def interrupt(signum, frame):
                signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: now
                try:
                    ray.get(controller.abort.remote(), timeout=30)
                except Exception:  # the controller exits as it aborts
                    pass
                raise KeyboardInterrupt

            signal.signal(signal.SIGINT, interrupt)

    return InterruptibleTrainer
