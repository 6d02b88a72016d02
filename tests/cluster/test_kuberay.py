"""docs/kuberay: what a pod needs that the cloud launcher does not show. MLflow >= 3.5 refuses any
Host it does not allow (403 on every API call while /health passes), so the server's
--allowed-hosts must admit the Service name; the token goes to the head only; GPU pods get a
memory-backed /dev/shm (64 MiB by default, too small for NCCL and tensor-parallel vLLM)."""

import urllib.error
import urllib.request

import pytest
import yaml

from conftest import REPO
from raycluster import mlflow_server

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


def status_with_host(uri: str, host: str) -> int:
    request = urllib.request.Request(f"{uri}/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.slow
def test_the_mlflow_service_name_is_an_allowed_host(tmp_path):
    deployment = next(d for d in documents("mlflow.yaml") if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    allowed = [arg for arg in container["args"] if arg.startswith("--allowed-hosts=")]
    assert allowed, "the MLflow server needs --allowed-hosts for the Service name"
    with mlflow_server(tmp_path / "mlflow", tuple(allowed)) as uri:
        assert status_with_host(uri, "mlflow:5000") == 200  # what jobs send through the Service
        assert status_with_host(uri, "mlflow.overthink.svc.cluster.local:5000") == 200
        assert status_with_host(uri, "elsewhere.example:5000") == 403  # the check is on
