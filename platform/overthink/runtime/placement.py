"""Where a stage's units run — sample's engine actors, serve's replicas, train's workers — with one
config type (`Placement`) and one rule (`plan_units`). Pure: the cluster's nodes come from
`ray_init.cluster_nodes()`.

The rule, for a unit of G GPUs (G = tensor_parallel_size for engines and replicas, 1 for a train
worker): it must fit on one node. On a cold autoscaling cluster nothing is alive yet, so the count
comes from the autoscaler's node types: as many units as the best single node type holds at its
max_workers (the paper config's 8 engines of 2 GPUs on 2 × p5), so the autoscaler scales to hold
them all rather than one."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from overthink.config import Section
from overthink.errors import ConfigError

AUTOSCALER_CONFIG_ENV = "OVERTHINK_AUTOSCALER_CONFIG"  # an autoscaler config file (`ray start --autoscaling-config`)


class Placement(Section):
    """Where a stage's units run and how many: sample's engine actors, serve's replicas, train's workers."""

    device: Literal["auto", "gpu", "cpu"] = Field(
        "auto",
        description="gpu (each unit's GPUs on one node; waits for an autoscaler to add nodes, fails at once if "
        "no node or node type can hold a unit), cpu, or auto (gpu when a node or autoscaler node type can hold "
        "a unit, else cpu).",
    )
    count: int | None = Field(
        None,
        ge=1,
        description="Units (engines, train workers); null = as many as the cluster holds on GPUs (alive nodes, or "
        "the best autoscaler node type at its max_workers), one on CPU.",
    )
    cpus: float = Field(1.0, gt=0, description="CPUs each unit reserves (beside its GPUs).")
    resources: dict[str, float] = Field(
        default_factory=dict,
        description="Custom Ray resources each unit asks for, e.g. {spot: 1} for ray_cluster.yaml's spot GPU "
        "nodes or {serving: 1} for its serve_1x nodes.",
    )


@dataclass(frozen=True)
class NodeType:
    """A node type an autoscaler can add: one node's resources and how many nodes it may run."""

    resources: dict[str, float]
    max_nodes: int


@dataclass(frozen=True)
class ClusterNodes:
    """The alive nodes' total resources, and the autoscaler's node types: [] when no autoscaler
    runs, None when one runs but its node types are not known here."""

    alive: list[dict[str, float]]
    types: list[NodeType] | None = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    count: int
    gpus: int  # per unit; 0 on CPUs
    cpus: float  # per unit
    resources: dict[str, float]  # custom resources per unit
    where: str  # one line for the user

    def actor_options(self) -> dict:
        """Ray resource options of one unit (actor / map_batches / Serve replica)."""
        return {
            "num_cpus": self.cpus,
            **({"num_gpus": self.gpus} if self.gpus else {}),
            **({"resources": dict(self.resources)} if self.resources else {}),
        }


def units_per_node(node: dict[str, float], unit: dict[str, float]) -> int:
    """How many units fit on a node with these total resources."""
    return min((math.floor(node.get(key, 0) / need + 1e-9) for key, need in unit.items() if need > 0), default=0)


def gpu_unit(placement: Placement, gpus_per_unit: int) -> dict[str, float]:
    return {"GPU": gpus_per_unit, "CPU": placement.cpus, **placement.resources}


def on_gpus(
    placement: Placement, gpus_per_unit: int, nodes: ClusterNodes, key: str, unit: str, allow_gpu: bool = True
) -> bool:
    """Whether units run on GPUs (device gpu, or auto with a node or node type that holds one);
    a GPU unit no node or node type can hold is refused at once, naming the largest."""
    one = gpu_unit(placement, gpus_per_unit)
    fits_now = any(units_per_node(node, one) for node in nodes.alive)
    fits_later = nodes.types is None or any(units_per_node(t.resources, one) for t in nodes.types)
    known_later = nodes.types is not None and fits_later
    if placement.device == "cpu" or not allow_gpu:
        return False
    if placement.device == "auto":
        return fits_now or known_later
    if not (fits_now or fits_later):
        raise ConfigError(no_room(placement, gpus_per_unit, nodes, key, f"one {unit}"))
    return True


def plan_units(
    placement: Placement, gpus_per_unit: int, nodes: ClusterNodes, key: str, unit: str, allow_gpu: bool = True
) -> Plan:
    """How many units (`unit`: engine, worker) run where, with what resources. `key` is the config
    section named in errors (`placement`, `train.placement`...)."""
    custom = dict(placement.resources)
    if not on_gpus(placement, gpus_per_unit, nodes, key, unit, allow_gpu):
        return Plan(placement.count or 1, 0, placement.cpus, custom, "on CPUs")
    one = gpu_unit(placement, gpus_per_unit)
    now = sum(units_per_node(node, one) for node in nodes.alive)
    at_scale = None if nodes.types is None else max((scaled(t, one) for t in nodes.types), default=0)
    count = placement.count or max(now, at_scale or 0)
    if not count:
        raise ConfigError(
            f"{key}.count: an autoscaler runs but its node types are not known here, and no alive node holds "
            f"one {unit} ({gpus_per_unit} GPU(s), {placement.cpus:g} CPUs{custom_text(custom)}); set {key}.count "
            f"(how many the autoscaler should scale to), or {AUTOSCALER_CONFIG_ENV} to the autoscaler's config file"
        )
    if nodes.types is not None:
        ceiling = max(now, sum(scaled(t, one) for t in nodes.types))
        if count > ceiling:
            raise ConfigError(
                f"{key}.count={count}: the cluster holds at most {ceiling} {unit}s ({gpus_per_unit} GPU(s) each"
                f"{custom_text(custom)}), alive nodes and every node type at its max_workers together; lower "
                f"{key}.count or raise the node types' max_workers"
            )
    waiting = "" if now >= count else " (waiting for the autoscaler to add GPU nodes)"
    return Plan(count, gpus_per_unit, placement.cpus, custom, f"on GPUs, {gpus_per_unit} per {unit}{waiting}")


def scaled(node_type: NodeType, unit: dict[str, float]) -> int:
    return units_per_node(node_type.resources, unit) * node_type.max_nodes


def custom_text(custom: dict[str, float]) -> str:
    return "".join(f", {amount:g} {name}" for name, amount in custom.items())


def no_room(placement: Placement, gpus: int, nodes: ClusterNodes, key: str, what: str) -> str:
    gpu_counts = [int(n.get("GPU", 0)) for n in nodes.alive] + [int(t.resources.get("GPU", 0)) for t in nodes.types]
    largest = max(gpu_counts, default=0)
    return (
        f"{key}.device=gpu: {what} needs {gpus} GPU(s), {placement.cpus:g} CPUs{custom_text(placement.resources)} "
        f"on one node, but no node{' or autoscaler node type' if nodes.types else ''} has that (the largest has "
        f"{largest} GPUs); lower tensor_parallel_size or {key}.cpus, add a node type that holds it, or use "
        f"{key}.device=cpu"
    )


def launcher_node_types(config: dict) -> list[NodeType]:
    """The worker node types of a cluster launcher config (ray_cluster.yaml's schema), each capped
    by the cluster's max_workers."""
    cap = config.get("max_workers")
    types = []
    for name, node_type in (config.get("available_node_types") or {}).items():
        if name == config.get("head_node_type"):
            continue
        most = node_type.get("max_workers", cap if cap is not None else 0)
        most = min(most, cap) if cap is not None else most
        if most:
            types.append(NodeType({k: float(v) for k, v in (node_type.get("resources") or {}).items()}, most))
    return types
