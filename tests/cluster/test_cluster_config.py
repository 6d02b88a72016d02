"""ray_cluster.yaml: valid for Ray's own cluster-config validation (what `ray up` runs, offline),
and keeping the promises docs/cluster.md makes about it."""

import json
import re

import pytest
import yaml

from conftest import REPO

CLUSTER_YAML = REPO / "ray_cluster.yaml"


@pytest.fixture(scope="module")
def cluster():
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_ray_validates_it(cluster):
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(cluster))  # raises on a schema error


def test_a_cpu_head_and_gpu_workers_that_scale_from_zero(cluster):
    types = cluster["available_node_types"]
    head = types[cluster["head_node_type"]]
    assert head["resources"] == {"CPU": 0}  # runs drivers, MLflow and the dashboard; no engine or worker
    assert "--num-cpus=0" in " ".join(cluster["head_start_ray_commands"])
    gpu_types = {name: t for name, t in types.items() if t.get("resources", {}).get("GPU")}
    assert sorted(t["resources"]["GPU"] for t in gpu_types.values()) == [1, 1, 8]
    for name, node_type in gpu_types.items():
        assert node_type["min_workers"] == 0, name
        assert all(isinstance(v, int) for v in node_type["resources"].values()), name  # Ray wants integers
    assert gpu_types["gpu_8x_h100"]["node_config"]["InstanceType"] == "p5.48xlarge"
    assert 0 < cluster["idle_timeout_minutes"] <= 30


def test_every_node_installs_the_gpu_extra_at_one_path_and_mounts_shared_storage(cluster):
    setup = " ".join(cluster["setup_commands"])
    assert "OVERTHINK_VENV=/opt/overthink/venv bash scripts/install.sh gpu" in setup
    assert "/mnt/shared" in setup and "mount -t nfs4" in setup
    assert not cluster["head_setup_commands"] and not cluster["worker_setup_commands"]  # the same on every node


def test_the_job_environment_reaches_every_ray_process(cluster):
    setup = " ".join(cluster["setup_commands"])
    assert "HF_HOME=/mnt/shared/hf" in setup and "OVERTHINK_CACHE=/mnt/shared/cache" in setup
    head, worker = " ".join(cluster["head_start_ray_commands"]), " ".join(cluster["worker_start_ray_commands"])
    assert "mlflow server" in head and "--artifacts-destination /mnt/shared/mlflow-artifacts" in head
    for start in (head, worker):  # exported before `ray start`, so raylets and their workers inherit it
        assert re.search(r"env\.sh && export MLFLOW_TRACKING_URI=http://.+?:5000 && .*ray start", start), start
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

    serving = load_config(ServeConfig, REPO / "configs" / "serve" / "cluster.yaml", []).deployment
    node_type = cluster["available_node_types"]["serve_1x"]
    assert serving.resources and all(
        node_type["resources"].get(key, 0) >= need for key, need in serving.resources.items()
    )
    assert serving.max_replicas <= node_type["max_workers"]
    others = [t for name, t in cluster["available_node_types"].items() if name != "serve_1x"]
    assert not any(key in t.get("resources", {}) for t in others for key in serving.resources)


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
    assert load_config(ServeConfig, None, overrides).deployment.resources == {"serving": 1}
