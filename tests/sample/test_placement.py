"""Where engines run and how work reaches them: GPU placement from the nodes and the autoscaler's
node types, blocks sized so every engine works, and each row stamped with its engine replica."""

from collections import Counter

import pyarrow.parquet as pq
import pytest

from overthink.config import load_config
from overthink.errors import ConfigError
from overthink.runtime.placement import ClusterNodes, NodeType, launcher_node_types
from overthink.sample.config import SampleConfig
from overthink.sample.ray_adapter import block_rows, choose_placement
from overthink.sample.stage import run_sample


def config(*overrides):
    return load_config(SampleConfig, None, list(overrides))


def nodes(alive_gpus, types=(), cpus=8):
    """Alive nodes with these GPU counts; node types as (GPUs, max_workers); types=None: unknown."""
    alive = [{"CPU": cpus, "GPU": gpus} for gpus in alive_gpus]
    if types is None:
        return ClusterNodes(alive, None)
    return ClusterNodes(alive, [NodeType({"CPU": cpus, "GPU": gpus}, most) for gpus, most in types])


def test_auto_uses_gpus_a_node_has_or_an_autoscaler_can_add():
    assert choose_placement(config(), nodes([0, 0])).actor_options() == {"num_cpus": 1.0}
    eight = choose_placement(config("engine.tensor_parallel_size=4"), nodes([8, 8, 2]))
    assert (eight.count, eight.actor_options()) == (4, {"num_cpus": 1.0, "num_gpus": 4})  # the 2-GPU node holds none
    later = choose_placement(config("engine.tensor_parallel_size=8"), nodes([0], [(0, 4), (8, 1)]))
    assert later.gpus == 8 and "waiting for the autoscaler" in later.where
    assert choose_placement(config("placement.device=cpu"), nodes([8])).gpus == 0
    assert choose_placement(config("engine.backend=openai"), nodes([8])).gpus == 0
    # An autoscaler whose node types are unknown: auto does not guess GPUs; gpu needs the count.
    assert choose_placement(config(), nodes([0], None)).gpus == 0
    unknown = choose_placement(config("placement.device=gpu", "placement.count=3"), nodes([0], None))
    assert unknown.count == 3 and "waiting" in unknown.where
    with pytest.raises(ConfigError, match=r"placement.count: an autoscaler runs but its node types are not known"):
        choose_placement(config("placement.device=gpu"), nodes([0], None))


def test_a_cold_cluster_gets_as_many_engines_as_its_best_node_type_holds():
    """The paper run's case: nothing alive, 2 × 8-GPU nodes possible, 2 GPUs per engine: 8 engines
    (it used to be one, on 2 of the 16 GPUs), not one per GPU of every type."""
    cold = nodes([0], [(8, 2), (1, 4), (1, 4)])
    paper = choose_placement(config("engine.tensor_parallel_size=2"), cold)
    assert (paper.count, paper.gpus) == (8, 2) and "waiting for the autoscaler" in paper.where
    assert choose_placement(config(), cold).count == 16  # one GPU each: the 8-GPU type at its 2 nodes
    warm = choose_placement(config("engine.tensor_parallel_size=2"), nodes([8, 8, 0], [(8, 2)]))
    assert warm.count == 8 and "waiting" not in warm.where
    types = [NodeType({"CPU": 192, "GPU": 8, "on_demand": 8}, 2), NodeType({"CPU": 192, "GPU": 8, "spot": 8}, 2)]
    spot = config("placement.resources={spot: 2}", "engine.tensor_parallel_size=2")
    custom = choose_placement(spot, ClusterNodes([{"CPU": 8}], types))
    assert custom.count == 8 and custom.actor_options()["resources"] == {"spot": 2}
    with pytest.raises(ConfigError, match=r"placement.count=20: the cluster holds at most 16 engines"):
        choose_placement(config("placement.count=20", "placement.device=gpu"), nodes([0], [(8, 2)]))


def test_node_types_come_from_a_launcher_config_capped_by_its_max_workers():
    import yaml

    from locations import REPO

    types = launcher_node_types(yaml.safe_load((REPO / "ray_cluster.yaml").read_text()))
    assert all(t.max_nodes >= 1 for t in types) and not any(t.resources.get("CPU") == 0 for t in types)  # no head
    capped = launcher_node_types(
        {
            "max_workers": 3,
            "head_node_type": "h",
            "available_node_types": {
                "h": {"resources": {"CPU": 0}},
                "big": {"resources": {"GPU": 8}, "max_workers": 5},
                "off": {"resources": {"GPU": 1}, "max_workers": 0},
            },
        }
    )
    assert capped == [NodeType({"GPU": 8.0}, 3)]


def test_a_gpu_request_no_node_can_hold_fails_at_once():
    with pytest.raises(ConfigError, match=r"8 GPU\(s\), 1 CPUs on one node, but no node has that \(the largest has 4"):
        choose_placement(config("placement.device=gpu", "engine.tensor_parallel_size=8"), nodes([4, 4]))
    with pytest.raises(ConfigError, match=r"no node or autoscaler node type has that \(the largest has 2 GPUs\)"):
        choose_placement(config("placement.device=gpu", "engine.tensor_parallel_size=4"), nodes([0], [(2, 1)]))
    with pytest.raises(ConfigError, match="backend=openai calls a server and holds no GPU"):
        config("engine.backend=openai", "placement.device=gpu")


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
            "placement.count=3",
            "placement.cpus=0.5",
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
