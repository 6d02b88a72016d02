"""docs/kuberay: what a pod needs that the cloud launcher does not show. MLflow >= 3.5 refuses any
Host it does not allow (403 on every API call while /health passes), so the server's
--allowed-hosts must admit the Service name; the token goes to the head only; GPU pods get a
memory-backed /dev/shm (64 MiB by default, too small for NCCL and tensor-parallel vLLM)."""

import yaml

from locations import REPO
from raycluster import kuberay_mlflow_args

KUBERAY = REPO / "docs" / "kuberay"


def documents(name: str) -> list[dict]:
    return list(yaml.safe_load_all((KUBERAY / name).read_text()))


def test_the_token_reaches_the_head_only_and_gpu_pods_get_a_real_dev_shm():
    (job,) = documents("rayjob.yaml")
    cluster = job["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]["spec"]
    assert any(e["name"] == "HF_TOKEN" for c in head["containers"] for e in c["env"])
    for group in cluster["workerGroupSpecs"]:
        pod = group["template"]["spec"]
        assert not any(e["name"] == "HF_TOKEN" for c in pod["containers"] for e in c.get("env", []))
        shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
        assert shm["emptyDir"]["medium"] == "Memory"
        assert all({"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"] for c in pod["containers"])


def test_the_mlflow_server_allows_the_service_name_as_host():
    """What the server then does with these arguments: test_two_nodes.py's cluster runs its MLflow
    server with them (one server for both) and checks the Host answers."""
    assert kuberay_mlflow_args() and all("mlflow:*" in arg for arg in kuberay_mlflow_args())
