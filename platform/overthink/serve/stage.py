"""`overthink serve`: resolve the model (before Ray starts), deploy it on Ray Serve, record an
MLflow run of what is served, and block until Ctrl-C (or SIGTERM), then shut down gracefully."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

from overthink.runtime.models import resolve_model
from overthink.serve.config import ServeConfig


@dataclass(frozen=True)
class Served:
    model_path: str
    name: str  # what clients send as `model`
    version: str | None  # the registered model version behind an alias URI


def served_name(config: ServeConfig, model_path: str) -> str:
    """models:/NAME@alias -> NAME; a folder -> its name (a train output's model/ -> the output's)."""
    if config.served_name:
        return config.served_name
    if config.model.startswith("models:/"):
        return config.model.removeprefix("models:/").split("@")[0].split("/")[0]
    if config.model == "organism":
        return "organism"
    folder = Path(model_path)
    return (folder.parent.name if folder.name == "model" else folder.name) or config.model


def registered_version(config: ServeConfig) -> str | None:
    if not (config.model.startswith("models:/") and config.mlflow.enabled):
        return None
    from mlflow import MlflowClient

    from overthink.runtime.tracking import tracking_uri

    name, _, ref = config.model.removeprefix("models:/").partition("@")
    if not ref:
        return name.split("/")[1] if "/" in name else None
    return MlflowClient(tracking_uri(config.mlflow)).get_model_version_by_alias(name, ref).version


def replica_gpus(config: ServeConfig) -> int:
    from overthink.runtime.placement import on_gpus
    from overthink.runtime.ray_init import cluster_nodes

    tp = config.engine.tensor_parallel_size
    return tp if on_gpus(config.placement, tp, cluster_nodes(), "placement", "replica") else 0


def prepare(config: ServeConfig) -> Served:
    """Everything a deployment needs that can fail on bad input (the model above all)."""
    from overthink.runtime.tracking import tracking_uri

    uri = tracking_uri(config.mlflow) if config.mlflow.enabled else None
    model = resolve_model(config.model, tracking_uri=uri)
    return Served(model.path, served_name(config, model.path), registered_version(config))


def cli(config: ServeConfig) -> str:
    from ray import serve

    from overthink.runtime.ray_init import init_ray
    from overthink.runtime.tracking import stage_run
    from overthink.serve.app import build_app

    served = prepare(config)  # a missing model or alias fails here, before Ray starts
    init_ray(config.ray)
    gpus = replica_gpus(config)
    url = f"http://{config.host}:{config.port}/v1"
    tags = {"overthink.model": served.name, "overthink.endpoint": url}
    signal.signal(signal.SIGTERM, _interrupt)  # `ray job stop` and container stops end it like Ctrl-C
    with stage_run(config.mlflow, "serve", tags=tags) as run:
        run.log_params(
            {
                "model": config.model,
                "model_version": served.version,
                "served_name": served.name,
                "policy": config.policy.model_dump(mode="json"),
                "limits": config.limits.model_dump(mode="json"),
                "deployment": config.deployment.model_dump(mode="json"),
                "placement": config.placement.model_dump(mode="json"),
                "gpus_per_replica": gpus,
            }
        )
        serve.start(http_options={"host": config.host, "port": config.port})
        started = time.perf_counter()
        serve.run(build_app(config, served.model_path, served.name, gpus), name=config.app_name, route_prefix="/")
        print(
            f"Serving {served.name} ({config.model}{f', version {served.version}' if served.version else ''}) "
            f"at {url} (ready in {time.perf_counter() - started:.0f} s; Ctrl-C to stop)\n"
            f"Prometheus metrics (overthink_*, Serve's and vLLM's): {metrics_endpoint()}",
            flush=True,
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            print(
                f"stopping: in-flight requests get {config.deployment.graceful_shutdown_timeout_s:.0f} s to finish",
                flush=True,
            )
        finally:
            serve.delete(config.app_name)
    tracked = f"; its MLflow run: {run.id}" if run.id else ""
    return f"Stopped serving {served.name}{tracked}.\n"


def metrics_endpoint() -> str:
    """This node's Ray metrics endpoint, which exports the replicas' metrics on it."""
    import ray

    node = next(n for n in ray.nodes() if n["Alive"] and n["NodeID"] == ray.get_runtime_context().get_node_id())
    return f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"


def _interrupt(signum, frame):
    raise KeyboardInterrupt
