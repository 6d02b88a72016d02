"""MLflow: a local sqlite store in ./mlflow unless MLFLOW_TRACKING_URI or the config says
otherwise (MLflow 3.17 no longer accepts the plain file store).

Every stage records into one run opened by `stage_run` when its work starts: created through the
client (so runs can nest across processes: a sweep's trials, the pipeline's stages), RUNNING while
the work goes on (with progress and system metrics), always closed FINISHED, FAILED or KILLED, and
a no-op stand-in when tracking is disabled, so stages log without `if run:`.

Tracking never costs the result: a server checked before any work (`check_store`), bounded HTTP
retries, and a run whose store stops answering mid-way warns once and logs nothing more while the
stage finishes its output. Values a user chose (paths, names) never go into a search filter: runs
are found by our own constants and compared in Python."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from overthink.errors import ConfigError
from overthink.runtime.config import MlflowConfig

LOCAL_DIR = Path("mlflow")
PARENT_TAG = "mlflow.parentRunId"  # what the UI nests by (start_run(nested=True) sets the same)
STAGE_TAG = "overthink.stage"
OUTPUT_TAG = "overthink.output"
OWNER_TAG = "overthink.owner"  # host:pid of the process that opened the run
MODEL_DIR_TAG = "overthink.model_dir"
CHAMPION_ALIAS = "champion"
MAX_PARAMS, MAX_METRICS = 100, 1000  # MLflow's per-request limits of log_batch


SERVER_COMMAND = (
    "mlflow server --backend-store-uri sqlite:///PATH/mlflow.db --artifacts-destination SHARED_PATH "
    "--host 0.0.0.0 --port 5000"
)


# MLflow's own HTTP defaults retry 7 times with backoff factor 2 and a 120 s timeout: a server that
# is down costs minutes of silence. Defaults only: a user's own setting wins.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
for _key, _value in HTTP_DEFAULTS.items():
    os.environ.setdefault(_key, _value)


def configured_uri(config: MlflowConfig) -> str | None:
    """The tracking URI the user chose (config, then MLFLOW_TRACKING_URI); None = the local default."""
    return config.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None


def tracking_uri(config: MlflowConfig) -> str:
    if configured_uri(config):
        return configured_uri(config)
    LOCAL_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{(LOCAL_DIR / 'mlflow.db').resolve()}"


def is_local_store(uri: str | None) -> bool:
    """sqlite files, file stores and plain paths live on one machine; servers and databases do not."""
    return uri is None or uri.startswith(("sqlite:", "file:")) or "://" not in uri


def require_shared_store(config: MlflowConfig, cluster: str | None) -> None:
    """On a Ray cluster, workers on other nodes log to the store (train steps, sweep trials): a
    local file there does not exist, and MLflow fails with "Run ... not found" mid-run. Refuse
    before any work, naming the fix."""
    if not config.enabled or not cluster or not is_local_store(configured_uri(config)):
        return
    where = configured_uri(config) or f"sqlite in {LOCAL_DIR.resolve()}/ (the default)"
    raise ConfigError(
        f"mlflow: the tracking store {where} is a local file, but this run joins the Ray cluster at {cluster}, "
        "whose workers on other nodes cannot reach it. Run an MLflow server on the head "
        f"(`{SERVER_COMMAND}`, see docs/cluster.md) and set MLFLOW_TRACKING_URI=http://HEAD:5000 "
        "(or mlflow.tracking_uri), or set mlflow.enabled=false."
    )


def check_store(config: MlflowConfig, timeout_s: float = 10.0) -> None:
    """A tracking server that does not answer, or refuses us, fails the command before any work,
    in one line naming it (stages would otherwise work for hours and then wait on retries)."""
    uri = configured_uri(config)
    if not config.enabled or not uri or not uri.startswith(("http://", "https://")):
        return
    import requests

    probe = uri.rstrip("/") + "/api/2.0/mlflow/experiments/get-by-name"
    try:
        answer = requests.get(probe, params={"experiment_name": config.experiment}, timeout=timeout_s)
    except requests.RequestException as err:
        reason = type(err).__name__
        raise ConfigError(
            f"mlflow: the tracking server {uri} does not answer ({reason}); start it (`{SERVER_COMMAND}`), fix "
            "mlflow.tracking_uri / MLFLOW_TRACKING_URI, or set mlflow.enabled=false"
        ) from None
    if answer.status_code in (401, 403):
        raise ConfigError(
            f"mlflow: the tracking server {uri} refuses requests (HTTP {answer.status_code}): give credentials "
            "(MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD), or, for MLflow >= 3.5 behind another "
            "host name, start it with --allowed-hosts naming that host"
        )
    if answer.status_code >= 500:
        raise ConfigError(f"mlflow: the tracking server {uri} fails (HTTP {answer.status_code}): {answer.text[:200]}")


def pinned(config: MlflowConfig) -> MlflowConfig:
    """The config with its tracking URI fixed: stages run in other processes and folders (Tune
    trials, Ray Train workers) must record into the same store as the driver."""
    return config.model_copy(update={"tracking_uri": tracking_uri(config)}) if config.enabled else config


# The UI opens an experiment in the view its kind names; without the tag MLflow 3 guesses, and
# lands on the GenAI overview (traces, prompts) for runs that train and evaluate models.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_DEVELOPMENT = "custom_model_development"


def ensure_experiment(client, name: str, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if EXPERIMENT_KIND_TAG not in experiment.tags:  # one made by hand or by an older overthink
            client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT)
        return experiment.experiment_id
    artifacts = None
    if uri.startswith("sqlite:///"):  # keep artifacts beside the database, not in the cwd
        artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=artifacts, tags={EXPERIMENT_KIND_TAG: MODEL_DEVELOPMENT})


def flatten_params(data: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_params(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out


# What a lost or failing store raises from a logging call; anything else is a bug and propagates.
def _store_errors() -> tuple[type[BaseException], ...]:
    import requests
    from mlflow.exceptions import MlflowException

    return (MlflowException, requests.RequestException, OSError)


class StageRun:
    """One MLflow run, logged through the client (it need not be the process's active run).

    Every logging call goes through `_call`: once the store fails (a server gone mid-run, a full
    disk), one warning says so and the rest of the run's logging is skipped, so the stage still
    writes its outputs."""

    def __init__(
        self,
        client,
        run_id: str,
        experiment_id: str,
        uri: str,
        progress_every_s: float = 10.0,
        system_metrics_every_s: float | None = None,
    ):
        self.client, self.id, self.experiment_id, self.uri = client, run_id, experiment_id, uri
        self.progress_every_s, self.system_metrics_every_s = progress_every_s, system_metrics_every_s
        self.lost: str | None = None  # why the store stopped answering, once it has
        self._last_progress = float("-inf")
        self._lock = threading.Lock()

    def _call(self, what: str, method, *args, **kwargs):
        if self.lost:
            return None
        try:
            return method(*args, **kwargs)
        except _store_errors() as err:
            self.lost = f"{what}: {type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
            print(
                f"warning: MLflow at {self.uri} stopped taking this run's records ({self.lost}); the stage goes on "
                f"and writes its outputs, run {self.id} keeps what it had",
                file=sys.stderr,
                flush=True,
            )
            return None

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten_params(params).items()]
        for start in range(0, len(items), MAX_PARAMS):
            self._call("log_params", self.client.log_batch, self.id, params=items[start : start + MAX_PARAMS])

    def log_metrics(self, metrics: dict, step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None]
        for start in range(0, len(items), MAX_METRICS):
            self._call("log_metrics", self.client.log_batch, self.id, metrics=items[start : start + MAX_METRICS])

    def progress(self, step: int, metrics: dict, final: bool = False) -> None:
        """Progress of running work (`progress/<name>` at `step`, e.g. responses done), at most
        every `progress_every_s` seconds; `final` logs regardless, so the last point is the end."""
        with self._lock:  # engine and analysis loops may report from several threads
            now = time.monotonic()
            if not final and now - self._last_progress < self.progress_every_s:
                return
            self._last_progress = now
        self.log_metrics({f"progress/{name}": value for name, value in metrics.items()}, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._call("log_artifact", self.client.log_artifact, self.id, str(path), artifact_path)

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        self._call("log_artifacts", self.client.log_artifacts, self.id, str(folder), artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        self._call("log_text", self.client.log_text, self.id, text, artifact_file)

    def log_input_files(self, paths, context: str) -> None:
        """Files this stage read, as MLflow dataset inputs: named by file, with a digest of path,
        size and modification time (which change whenever a stage rewrites the file; the content
        itself is not read again)."""
        from overthink.config import content_hash
        from overthink.runtime.outputs import file_identity

        self.log_inputs(
            [(Path(path).name, content_hash(file_identity(path))[:8], str(Path(path).resolve())) for path in paths],
            context,
        )

    def log_inputs(self, datasets: list[tuple[str, str, str]], context: str) -> None:
        """(name, digest, source) triples as MLflow dataset inputs, for the UI's Dataset column and
        lineage. A source is a local path, an http(s) URL, or any other text (recorded as a tag)."""
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag

        inputs = [
            DatasetInput(
                MetaDataset(_dataset_source(source), name=name, digest=digest)._to_mlflow_entity(),
                [InputTag("mlflow.data.context", context)],
            )
            for name, digest, source in datasets
        ]
        if inputs:
            self._call("log_inputs", self.client.log_inputs, self.id, datasets=inputs)

    def set_tags(self, tags: dict) -> None:
        for key, value in tags.items():
            self._call("set_tag", self.client.set_tag, self.id, key, str(value))

    def close(self, status: str) -> None:
        self._call("close", self.client.set_terminated, self.id, status)

    def worker_metrics(self) -> WorkerMetrics | None:
        """Where workers on other nodes (engines, train ranks) log their node's system metrics."""
        if not self.system_metrics_every_s:
            return None
        return WorkerMetrics(self.id, self.uri, self.system_metrics_every_s)

    @contextmanager
    def active(self):
        """This run as the process's active run, for MLflow's fluent APIs (log_model)."""
        import mlflow

        mlflow.set_tracking_uri(self.uri)
        with mlflow.start_run(run_id=self.id):
            yield


def _dataset_source(source: str):
    import warnings

    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.http_dataset_source import HTTPDatasetSource

    if source.startswith(("http://", "https://")):
        return HTTPDatasetSource(source)
    if Path(source).exists():
        with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are local files
            warnings.simplefilter("ignore", UserWarning)
            return resolve_dataset_source(source)
    return CodeDatasetSource(tags={"overthink.source": source})


# The innermost live run of this process: a sub-stage run without a run of its own (evaluate's
# sample and analyze) reports its progress into it.
_CURRENT: ContextVar[StageRun | None] = ContextVar("overthink_stage_run", default=None)


class NoRun:
    """The stand-in when tracking is disabled: every logging call does nothing, but progress goes
    to the enclosing stage's run in this process, if one is live."""

    id = experiment_id = uri = None

    def __init__(self, enclosing: StageRun | None = None):
        self.enclosing = enclosing

    def progress(self, step: int, metrics: dict, final: bool = False) -> None:
        if self.enclosing is not None:
            self.enclosing.progress(step, metrics, final)

    def worker_metrics(self) -> WorkerMetrics | None:
        return self.enclosing.worker_metrics() if self.enclosing is not None else None

    def __getattr__(self, name):
        return lambda *args, **kwargs: None

    @contextmanager
    def active(self):
        yield


@contextmanager
def stage_run(
    config: MlflowConfig,
    stage: str,
    parent_run_id: str | None = None,
    name: str | None = None,
    tags: dict | None = None,
    output: str | Path | None = None,
) -> Iterator[StageRun | NoRun]:
    """Open a run for `stage` (nested under `parent_run_id` when given) when its work starts, and
    always close it: FINISHED, FAILED on an error, KILLED on Ctrl-C. While it is open, MLflow's
    system metrics monitor samples this machine (`config.system_metrics`). `config.run_name`
    names a top-level run only: the runs a composite nests get names of their own. With `output`
    (the stage's folder, which the caller holds: runtime/outputs.claim_output_dir), a run of the
    same stage and folder still RUNNING was left by a process that died without closing it (kill
    -9, a lost node): it is closed as KILLED and linked to this one, so the UI shows one truthful
    history."""
    if not config.enabled:
        yield NoRun(_CURRENT.get())
        return
    from mlflow import MlflowClient

    uri = tracking_uri(config)
    client = MlflowClient(uri)
    experiment_id = ensure_experiment(client, config.experiment, uri)
    run_name = name or (None if parent_run_id else config.run_name) or f"{stage}-{datetime.now():%Y%m%d-%H%M%S}"
    all_tags = {
        STAGE_TAG: stage,
        OWNER_TAG: owner(),
        **(tags or {}),
        **({PARENT_TAG: parent_run_id} if parent_run_id else {}),
        **({OUTPUT_TAG: str(Path(output).resolve())} if output else {}),
    }
    created = client.create_run(experiment_id, run_name=run_name, tags=all_tags)
    every_s = config.system_metrics_every_s if config.system_metrics else None
    run = StageRun(client, created.info.run_id, experiment_id, uri, config.progress_every_s, every_s)
    if output:
        close_stale_runs(client, experiment_id, stage, all_tags[OUTPUT_TAG], run.id)
    monitor = start_system_metrics(config, run) if config.system_metrics else None
    token = _CURRENT.set(run)
    status = "FINISHED"
    try:
        yield run
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        _CURRENT.reset(token)
        if monitor is not None:
            stop_system_metrics(monitor)
        run.close(status)
    if not parent_run_id and not run.lost:  # a lost store: its warning said what there is to say
        print(f"MLflow run {run.id} ({run_name}) in experiment '{config.experiment}' at {uri}")
        hint = ui_hint(config)
        if hint:
            print(f"Open the UI: {hint}")


def start_system_metrics(config: MlflowConfig, run: StageRun):
    """MLflow's own monitor (CPU, memory, disk, network; GPU with pynvml) logging system/* metrics
    of this machine into `run` from a daemon thread; None where it cannot start."""
    return WorkerMetrics(run.id, run.uri, config.system_metrics_every_s).start(None)


@dataclass(frozen=True)
class WorkerMetrics:
    """A stage run's system metrics, as a worker on another node (an engine actor, a train rank)
    records its own node's into it: `system/<node_id>/...`. On a cluster the driver sits on a
    CPU head; whether the GPUs were busy is only seen from their nodes. The monitor stops by
    itself once the run is closed."""

    run_id: str
    uri: str
    every_s: float

    def start(self, node_id: str | None):
        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            monitor = SystemMetricsMonitor(
                self.run_id, sampling_interval=self.every_s, node_id=node_id, tracking_uri=self.uri
            )
            monitor.start()
            return monitor
        except Exception as err:  # a missing psutil, an odd platform: tracking goes on without it
            print(f"warning: no system metrics for run {self.run_id}: {err}", file=sys.stderr)
            return None


def stop_system_metrics(monitor) -> None:
    """Stop sampling and flush what was sampled; never waits on a store that stopped answering
    longer than one request's bounded retries."""
    try:
        monitor.finish()
    except Exception:
        pass


def owner() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def search_all(client, experiment_id: str, filter_string: str, order_by: list[str] | None = None):
    """Every run matching a filter built from our own constants only, page by page."""
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string, order_by=order_by, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def close_stale_runs(client, experiment_id: str, stage: str, output: str, current: str) -> None:
    running = search_all(client, experiment_id, f"tags.`{STAGE_TAG}` = '{stage}' and attributes.status = 'RUNNING'")
    for run in running:
        if run.data.tags.get(OUTPUT_TAG) != output:  # compared here: a path may hold any character
            continue
        host = run.data.tags.get(OWNER_TAG, "").split(":")[0]
        if run.info.run_id == current or host not in ("", owner().split(":")[0]):
            continue  # a run on another machine: its folder only shares the name
        client.set_tag(run.info.run_id, "overthink.superseded_by", current)
        client.set_terminated(run.info.run_id, "KILLED")
        client.set_tag(current, "overthink.resumes", run.info.run_id)


def training_run_of(model_dir: str, config: MlflowConfig) -> str | None:
    """The train run that exported `model_dir` (it tags its runs with the folder), if any."""
    if not config.enabled:
        return None
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri(config))
    experiment = client.get_experiment_by_name(config.experiment)
    if experiment is None:
        return None
    runs = search_all(
        client, experiment.experiment_id, f"tags.`{STAGE_TAG}` = 'train'", order_by=["attributes.start_time DESC"]
    )
    return next((run.info.run_id for run in runs if run.data.tags.get(MODEL_DIR_TAG) == model_dir), None)


def register_model(
    config: MlflowConfig, model_uri: str, name: str, alias: str = CHAMPION_ALIAS, tags: dict | None = None
) -> str:
    """A new version of registered model `name` from `model_uri`, pointed to by `alias`; returns
    `models:/name@alias`."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(config))
    version = mlflow.register_model(model_uri, name, tags=tags)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version.version)
    return f"models:/{name}@{alias}"


def runs_page(base_url: str, experiment_id: str | None) -> str:
    """The experiment's runs table. `workflowType=machine_learning`: MLflow 3.17's UI ignores the
    experiment's kind tag and opens every experiment on its GenAI overview (traces, an assistant)
    until a user switches the toggle; the parameter opens the runs (checked in headless Chromium
    with a fresh profile, docs/mlflow.md)."""
    page = f"#/experiments/{experiment_id}/runs" if experiment_id else "#/experiments"
    return f"{base_url.rstrip('/')}/{page}?workflowType=machine_learning"


def ui_hint(config: MlflowConfig) -> str | None:
    """How to open this store's runs in the MLflow UI: the command for a local sqlite store, then
    the page; the page itself for a server."""
    uri = tracking_uri(config)
    if not uri.startswith(("sqlite:///", "http://", "https://")):
        return None
    try:
        from mlflow import MlflowClient

        experiment = MlflowClient(uri).get_experiment_by_name(config.experiment)
    except Exception:  # the hint is a courtesy: never fail a finished stage on it
        experiment = None
    experiment_id = experiment.experiment_id if experiment else None
    if uri.startswith("http"):
        return runs_page(uri, experiment_id)
    beside = Path(sys.executable).parent / "mlflow"  # the venv's mlflow, usable without activating it
    program = str(beside) if beside.exists() else "mlflow"
    return f"{program} ui --backend-store-uri {uri}  then  {runs_page('http://127.0.0.1:5000', experiment_id)}"
