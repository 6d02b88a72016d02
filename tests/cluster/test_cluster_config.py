"""ray_cluster.yaml: valid for Ray's own cluster-config validation (what `ray up` runs, offline),
and keeping the promises docs/cluster.md makes about it."""

import json
import re

import pytest
import yaml

from locations import REPO

CLUSTER_YAML = REPO / "ray_cluster.yaml"


@pytest.fixture(scope="module")
def cluster():
    return yaml.safe_load(CLUSTER_YAML.read_text())


COMMANDS = ("setup_commands", "head_setup_commands", "worker_setup_commands", "head_start_ray_commands")


def test_ray_validates_it(cluster):
    from overthink.runtime.ray_internals import validate_cluster_config

    validate_cluster_config(cluster)  # raises on a schema error
    for key in (*COMMANDS, "worker_start_ray_commands"):  # a stray ": " would make a command a mapping
        assert all(isinstance(command, str) for command in cluster[key]), key


def test_a_cpu_head_and_gpu_workers_that_scale_from_zero(cluster):
    types = cluster["available_node_types"]
    head = types[cluster["head_node_type"]]
    assert head["resources"] == {"CPU": 0}  # runs drivers, MLflow and the dashboard; no engine or worker
    assert "--num-cpus=0" in " ".join(cluster["head_start_ray_commands"])
    gpu_types = {name: t for name, t in types.items() if t.get("resources", {}).get("GPU")}
    assert sorted(t["resources"]["GPU"] for t in gpu_types.values()) == [1, 1, 8, 8]
    for name, node_type in gpu_types.items():
        assert node_type["min_workers"] == 0, name
        assert all(isinstance(v, int) for v in node_type["resources"].values()), name  # Ray wants integers
    assert gpu_types["gpu_8x_h100"]["node_config"]["InstanceType"] == "p5.48xlarge"
    assert 0 < cluster["idle_timeout_minutes"] <= 30
    assert cluster["max_workers"] >= sum(t["max_workers"] for t in gpu_types.values())


def test_spot_nodes_hold_sampling_engines_and_train_workers_stay_on_demand(cluster):
    """The paper config on these node types, cold: all 8 engines (also on spot, when asked), and
    the 16 train workers only where `on_demand` is (a spot reclaim would restart training)."""
    from overthink.config import load_config
    from overthink.pipeline.config import PipelineConfig
    from overthink.runtime.placement import ClusterNodes, launcher_node_types, plan_units

    spot = cluster["available_node_types"]["gpu_8x_h100_spot"]
    assert spot["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    types = launcher_node_types(cluster)
    paper = load_config(PipelineConfig, REPO / "configs" / "pipeline" / "qwq32b_paper.yaml", [])
    cold = ClusterNodes([{"CPU": 0}], types)
    engines = plan_units(paper.sample.placement, paper.sample.engine.tensor_parallel_size, cold, "placement", "engine")
    assert (engines.count, engines.gpus) == (8, 2) and "waiting for the autoscaler" in engines.where
    on_spot = paper.sample.placement.model_copy(update={"resources": {"spot": 2}})
    assert plan_units(on_spot, 2, cold, "placement", "engine").count == 8
    workers = paper.train.placement
    assert plan_units(workers, 1, cold, "placement", "worker").count == 16
    spot_only = ClusterNodes([], [t for t in types if "spot" in t.resources])
    with pytest.raises(Exception, match="no node or autoscaler node type has that"):
        plan_units(workers, 1, spot_only, "placement", "worker")


def test_every_node_installs_the_gpu_extra_in_the_users_home_and_mounts_shared_storage(cluster):
    setup = cluster["setup_commands"]
    assert "OVERTHINK_VENV=~/overthink/venv bash scripts/install.sh gpu" in " ".join(setup)
    # file_mounts run before any setup command, as ssh_user without sudo: only into its home.
    assert all(remote.startswith("~/") for remote in cluster["file_mounts"])
    mount = next(i for i, c in enumerate(setup) if "mount -t nfs4" in c)
    assert "nfs-common" in " ".join(setup[:mount])  # the NFS client comes first
    assert "chown -R" not in " ".join(setup)  # never a walk over every checkpoint
    assert cluster["head_setup_commands"] == ["mkdir -p -m 700 ~/overthink/secrets"]
    assert cluster["worker_setup_commands"] == ["bash ~/overthink/src/scripts/node_scratch.sh >> ~/overthink/env.sh"]


def test_the_job_environment_reaches_every_ray_process(cluster):
    setup = " ".join(cluster["setup_commands"])
    assert "HF_HOME=/mnt/shared/hf" in setup and "OVERTHINK_CACHE=/mnt/shared/cache" in setup
    head, worker = " ".join(cluster["head_start_ray_commands"]), " ".join(cluster["worker_start_ray_commands"])
    assert "scripts/head_mlflow.sh ~/overthink/mlflow 0.0.0.0 5000 /mnt/shared/mlflow-artifacts" in head
    assert "pgrep -f" not in head  # it matched the launcher's own shell (tests/cluster/test_launcher.py)
    assert "RAY_AUTH_MODE=token" in setup and "HF_TOKEN_PATH" in head and "HF_TOKEN" not in worker
    for start in (head, worker):  # exported before `ray start`, so raylets and their workers inherit it
        assert re.search(r"env\.sh && export MLFLOW_TRACKING_URI=http://.+?:5000.* && .*ray start", start), start
    assert "$RAY_HEAD_IP:5000" in worker


def test_every_value_is_commented():
    lines = CLUSTER_YAML.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        commented = "#" in line or lines[number - 2].lstrip().startswith("#")
        assert commented, f"ray_cluster.yaml:{number} has no comment: {line.strip()}"


def test_serve_replicas_land_on_the_serving_node_type(cluster):
    from overthink.config import load_config
    from overthink.serve.config import ServeConfig

    serving = load_config(ServeConfig, REPO / "configs" / "serve" / "cluster.yaml", [])
    node_type = cluster["available_node_types"]["serve_1x"]
    resources = serving.placement.resources
    assert resources and all(node_type["resources"].get(key, 0) >= need for key, need in resources.items())
    assert serving.deployment.max_replicas <= node_type["max_workers"]
    others = [t for name, t in cluster["available_node_types"].items() if name != "serve_1x"]
    assert not any(key in t.get("resources", {}) for t in others for key in resources)


def test_the_serve_deploy_config_is_valid_and_its_args_are_serve_config_keys():
    import yaml
    from ray.serve.schema import ServeDeploySchema

    from overthink.config import load_config
    from overthink.serve.config import ServeConfig
    from overthink.stages import load

    data = yaml.safe_load((REPO / "configs" / "serve" / "serve_deploy.yaml").read_text())
    [app] = ServeDeploySchema.model_validate(data).applications
    assert callable(load(app.import_path))
    overrides = [f"{key}={json.dumps(value)}" for key, value in app.args.items()]
    assert load_config(ServeConfig, None, overrides).placement.resources == {"serving": 1}
