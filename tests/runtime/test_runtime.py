"""The helpers every stage shares: output folders and reuse markers, Parquet inputs with clear
errors, model resolution, MLflow runs that always close, one metric naming scheme."""

import json
import os
import signal
import subprocess
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hub_cache import publish_to_hub_cache
from locations import PYTHON
from overthink.errors import ConfigError, InputError, OverthinkError
from overthink.runtime.config import MlflowConfig
from overthink.runtime.files import read_parquet
from overthink.runtime.metric_names import comparison_metrics, summary_metrics
from overthink.runtime.models import require_on_this_node, resolve_model
from overthink.runtime.outputs import DoneMarker, claim_output_dir, require_output_dir
from overthink.runtime.tracking import PARENT_TAG, stage_run


def test_output_dir_is_required():
    with pytest.raises(ConfigError, match="set --output"):
        require_output_dir(None)


def test_done_marker_reuses_only_a_matching_fingerprint(tmp_path, capsys):
    marker = DoneMarker(tmp_path)
    assert marker.reusable("abc", force=False, what="x") is None
    marker.write("abc", "run-1", rows=3)
    assert marker.reusable("abc", force=False, what="x") == {"fingerprint": "abc", "run_id": "run-1", "rows": 3}
    assert "already holds x" in capsys.readouterr().out
    assert marker.reusable("abd", force=False, what="x") is None
    assert marker.reusable("abc", force=True, what="x") is None
    marker.path.write_text("{half")  # a torn marker is no marker
    assert marker.reusable("abc", force=False, what="x") is None


def test_read_parquet_names_the_file_and_what_is_missing(tmp_path):
    good = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1], "b": [2]}), good)
    assert read_parquet(good, columns=["a"]).column_names == ["a"]
    with pytest.raises(InputError, match=rf"{good}: missing column\(s\) c; hint here"):
        read_parquet(good, needed=("a", "c"), hint="hint here")
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="x.parquet: not a readable Parquet file"):
        read_parquet(tmp_path / "x.parquet")
    with pytest.raises(InputError, match="nope.parquet does not exist"):
        read_parquet(tmp_path / "nope.parquet")


def test_model_specs_resolve_in_one_place(tmp_path, organism_path):
    folder = resolve_model(organism_path)
    assert folder.path == organism_path and folder.is_local
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"tokenizer=.*empty: not a Hugging Face model folder"):
        resolve_model(str(tmp_path / "empty"), key="tokenizer")
    with pytest.raises(ConfigError, match="no model: set model"):
        resolve_model(None)
    with pytest.raises(InputError, match=r"model=models:/nope@champion: cannot fetch it from MLflow"):
        resolve_model("models:/nope@champion")


def test_hub_ids_resolve_to_one_local_snapshot_in_the_hub_cache(tmp_path, organism_path, monkeypatch):
    """The driver downloads a hub model once (here: offline, from the cache) and every stage and
    node loads that folder; a hub id nobody has is one clear error."""
    import huggingface_hub.constants

    snapshot = publish_to_hub_cache(organism_path, tmp_path / "hub", "overthink-test/organism")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    hub = resolve_model("overthink-test/organism")
    assert hub.path == str(snapshot) and hub.is_local and hub.name == "overthink-test/organism"
    with pytest.raises(InputError, match=r"model=overthink-test/missing: cannot download it from the Hugging Face hub"):
        resolve_model("overthink-test/missing")
    with pytest.raises(InputError, match=r"the folder /nowhere/model is not on node"):
        require_on_this_node("/nowhere/model")


def test_engines_never_force_offline_mode():
    from overthink.sample.engines import VLLM_ENV

    assert not {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"} & set(VLLM_ENV)


def test_a_local_mlflow_store_is_refused_on_a_cluster(monkeypatch):
    from overthink.runtime.tracking import require_shared_store

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    cluster = "127.0.0.1:6379"
    with pytest.raises(ConfigError, match=r"the tracking store sqlite in .*mlflow/ \(the default\) is a local file"):
        require_shared_store(MlflowConfig(), cluster)
    with pytest.raises(ConfigError, match=r"mlflow server --backend-store-uri .* MLFLOW_TRACKING_URI=http://HEAD:5000"):
        require_shared_store(MlflowConfig(tracking_uri="sqlite:////data/mlflow.db"), cluster)
    require_shared_store(MlflowConfig(), None)  # a local Ray instance: the local store is right
    require_shared_store(MlflowConfig(tracking_uri="http://head:5000"), cluster)
    require_shared_store(MlflowConfig(enabled=False), cluster)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://db/mlflow")
    require_shared_store(MlflowConfig(), cluster)


@pytest.mark.slow
def test_mlflow_model_uris_download_to_a_folder(tmp_path, organism_path, mlflow_store):
    import mlflow
    import transformers

    mlflow.set_tracking_uri(mlflow_store)
    with mlflow.start_run() as run:
        mlflow.transformers.log_model(
            transformers_model=organism_path,
            task="text-generation",
            name="model",
            pip_requirements=[f"transformers=={transformers.__version__}"],
        )
    model = resolve_model(f"runs:/{run.info.run_id}/model", download_dir=tmp_path / "dl")
    assert model.is_local and (tmp_path / "dl") in __import__("pathlib").Path(model.path).parents
    assert model.run_id == run.info.run_id


def runs_of(uri: str):
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("runtime-test")
    return {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def test_stage_runs_always_close_and_nest(mlflow_store):
    config = MlflowConfig(experiment="runtime-test", run_name="top")
    with stage_run(config, "parent") as parent:
        with stage_run(config, "child", parent.id, tags={"k": "v"}) as child:
            child.log_params({"a": {"b": 1}})
            child.log_metrics({"m": 2.0})
    with pytest.raises(RuntimeError):
        with stage_run(config, "broken", name="broken"):
            raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt):
        with stage_run(config, "stopped", name="stopped"):
            raise KeyboardInterrupt
    runs = runs_of(mlflow_store)
    assert runs["top"].info.status == "FINISHED"
    nested = next(r for name, r in runs.items() if name.startswith("child-"))  # run_name names the top run only
    assert (
        nested.data.tags[PARENT_TAG] == parent.id
        and nested.data.params["a.b"] == "1"
        and nested.data.metrics["m"] == 2.0
    )
    assert runs["broken"].info.status == "FAILED" and runs["stopped"].info.status == "KILLED"
    from mlflow import MlflowClient

    experiment = MlflowClient(mlflow_store).get_experiment_by_name("runtime-test")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI's model-training view


def test_disabled_tracking_is_a_silent_stand_in():
    with stage_run(MlflowConfig(enabled=False), "x") as run:
        run.log_params({"a": 1})
        with run.active():
            pass
    assert run.id is None


def test_one_metric_name_for_one_metric():
    summary = {
        "overall": {"accuracy": 0.5, "n": 4, "ci95": {"accuracy": [0.4, 0.6]}},
        "by_dataset": {"math 500": {"accuracy": 0.25, "ci95": {}}},
        "by_level": {},
    }
    assert summary_metrics(summary) == {
        "overall.accuracy": 0.5,
        "overall.n": 4.0,
        "overall.accuracy.ci95_low": 0.4,
        "overall.accuracy.ci95_high": 0.6,
        "by_dataset.math_500.accuracy": 0.25,
    }
    assert summary_metrics(summary, "base")["base.overall.accuracy"] == 0.5
    change = {"token_reduction_pct": 30.0, "accuracy_change": 0.01, "accuracy_change_ci95": [-0.1, 0.1]}
    assert comparison_metrics({"overall": change, "by_dataset": {"d": change}}, "final") == {
        "final.overall.token_reduction_pct": 30.0,
        "final.overall.accuracy_change": 0.01,
        "final.overall.accuracy_change.ci95_low": -0.1,
        "final.overall.accuracy_change.ci95_high": 0.1,
        "final.by_dataset.d.token_reduction_pct": 30.0,
        "final.by_dataset.d.accuracy_change": 0.01,
        "final.by_dataset.d.accuracy_change.ci95_low": -0.1,
        "final.by_dataset.d.accuracy_change.ci95_high": 0.1,
    }
    assert json.dumps(comparison_metrics(None)) == "{}"


def _in_child(code: str) -> subprocess.Popen:
    """A second overthink process: what a user's other terminal or a killed driver would be."""
    return subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)


def test_a_second_run_on_the_same_output_folder_stops_plainly(tmp_path):
    folder = tmp_path / "out"
    holder = _in_child(
        "import sys, time\nfrom pathlib import Path\nfrom overthink.runtime.outputs import claim_output_dir\n"
        f"claim_output_dir(Path({str(folder)!r}), 'sample')\nprint('held', flush=True)\ntime.sleep(120)\n"
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            OverthinkError, match=rf"in use by `overthink sample` \(pid {holder.pid} on .*another --output"
        ):
            claim_output_dir(folder, "sample")
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # as a crash would: the kernel drops the lock
        holder.wait()
    assert claim_output_dir(folder, "sample") == folder and claim_output_dir(folder, "sample") == folder


def test_a_run_left_running_by_a_killed_process_is_closed_by_the_rerun(mlflow_store, tmp_path):
    folder = tmp_path / 'it\'s a "train" \\ folder'  # quotes and backslashes: a user's path may hold any
    killed = _in_child(
        "import os\nfrom overthink.runtime.config import MlflowConfig\n"
        "from overthink.runtime.tracking import stage_run\n"
        "with stage_run(MlflowConfig(experiment='stale-test'), 'train', name='first', "
        f"output={str(folder)!r}) as run:\n    print(run.id, flush=True)\n    os._exit(9)\n"
    )
    first = killed.stdout.readline().strip()
    killed.wait()
    config = MlflowConfig(experiment="stale-test")
    with stage_run(config, "train", name="other", output=tmp_path / "elsewhere"):
        pass  # another folder's run is none of this folder's history
    with stage_run(config, "train", name="second", output=folder) as second:
        pass
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_store)
    stale = client.get_run(first)
    assert stale.info.status == "KILLED" and stale.data.tags["overthink.superseded_by"] == second.id
    rerun = client.get_run(second.id)
    assert rerun.info.status == "FINISHED" and rerun.data.tags["overthink.resumes"] == first


def test_an_unreachable_ray_address_fails_in_seconds_naming_it():
    from overthink.runtime.ray_init import require_reachable
    from raycluster import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(OverthinkError, match=rf"ray.address={address}: no Ray head answers there after 2 s"):
        require_reachable(address, timeout_s=2)
    assert time.monotonic() - started < 10
    require_reachable("auto")  # Ray resolves that one itself
