"""Where engines run and how work reaches them: GPU placement from the nodes and the autoscaler's
node types, blocks sized so every engine works, and each row stamped with its engine replica."""

from collections import Counter

import pyarrow.parquet as pq
import pytest

from overthink.config import load_config
from overthink.errors import ConfigError
from overthink.sample.config import SampleConfig
from overthink.sample.ray_adapter import block_rows, choose_placement
from overthink.sample.stage import run_sample


def config(*overrides):
    return load_config(SampleConfig, None, list(overrides))


def test_auto_uses_gpus_a_node_has_or_an_autoscaler_can_add():
    assert choose_placement(config(), alive=[0, 0], scalable=[]).resources == {"num_cpus": 1.0}
    eight = choose_placement(config("engine.tensor_parallel_size=4"), alive=[8, 8, 2], scalable=[])
    assert (eight.engines, eight.resources) == (4, {"num_gpus": 4})  # 2 per 8-GPU node; the 2-GPU node holds none
    later = choose_placement(config("engine.tensor_parallel_size=8"), alive=[0], scalable=[0, 8])
    assert later.resources == {"num_gpus": 8} and "waiting for the autoscaler" in later.where
    assert choose_placement(config("engine.placement=cpu"), alive=[8], scalable=[]).resources == {"num_cpus": 1.0}
    assert choose_placement(config("engine.backend=openai"), alive=[8], scalable=[]).resources == {"num_cpus": 1.0}
    # An autoscaler whose node types are unknown: gpu waits for it, auto does not guess GPUs.
    assert "waiting" in choose_placement(config("engine.placement=gpu"), alive=[0], scalable=None).where
    assert choose_placement(config(), alive=[0], scalable=None).resources == {"num_cpus": 1.0}


def test_a_gpu_request_no_node_can_hold_fails_at_once():
    with pytest.raises(ConfigError, match=r"an engine needs 8 GPUs on one node .* the largest node has 4"):
        choose_placement(config("engine.placement=gpu", "engine.tensor_parallel_size=8"), alive=[4, 4], scalable=[])
    with pytest.raises(ConfigError, match=r"largest node or autoscaler node type has 2"):
        choose_placement(config("engine.placement=gpu", "engine.tensor_parallel_size=4"), alive=[0], scalable=[2])
    with pytest.raises(ConfigError, match="backend=openai calls a server and holds no GPU"):
        config("engine.backend=openai", "engine.placement=gpu")


def test_blocks_give_every_engine_several_and_respect_a_set_size():
    assert block_rows(config(), requests=4096, engines=8) == 128
    assert block_rows(config(), requests=100_000, engines=2) == 256  # capped: the unit of resumption
    assert block_rows(config(), requests=6, engines=4) == 1
    assert block_rows(config("requests_per_shard=1000"), requests=4096, engines=8) == 1000


@pytest.mark.slow
def test_the_work_is_spread_over_the_engine_replicas(tmp_path, organism_path):
    """Three engine actors, 48 requests in blocks sized for several per engine: no replica serves
    more than 2x an even share (one block for all would leave two of them idle). The stage does
    not wait for every engine before it starts (on an autoscaling cluster that could be an hour):
    under load an engine that comes up after the others have finished serves nothing, so that is
    not claimed."""
    result = run_sample(
        config(
            "problems=[{name: organism, limit: 16}]",
            f"model={organism_path}",
            f"output_dir={tmp_path / 'samples'}",
            "sampling.n=3",
            "sampling.max_tokens=8",
            "engine.backend=transformers",
            "engine.engines=3",
            "engine.cpus_per_engine=0.5",
            "engine.cpu_threads=1",
            "ray.num_cpus=2",
            "mlflow.enabled=false",
        )
    )
    table = pq.read_table(result.output_dir / "samples.parquet")
    served = Counter(table.column("engine_replica").to_pylist())
    print(f"rows per engine replica: {sorted(served.values())}")
    assert len(served) >= 2 and max(served.values()) <= 32, served
    assert len(set(table.column("engine_node").to_pylist())) == 1  # one local node
