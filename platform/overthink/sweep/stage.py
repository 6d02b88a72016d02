"""`overthink sweep`: Ray Tune over train-config keys (pair strategy, loss, β, γ, learning rate…).
Every trial trains (Ray Train) and evaluates on the dev set; the sweep reports the whole
accuracy-vs-tokens Pareto front and registers the champion — the largest token reduction whose
accuracy stays within `search.tolerance` of the base model — under the MLflow alias `champion`.
MLflow: one `sweep` run, one child run per trial, the trial's train and evaluate runs beneath it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from overthink.errors import ConfigError, InputError, OverthinkError
from overthink.runtime.files import atomic_write_text, root_message
from overthink.runtime.models import require_model_folder
from overthink.sweep.config import SweepConfig
from overthink.sweep.report import pareto_plot, summary_markdown
from overthink.sweep.select import champion, pareto_front, tune_settings
from overthink.sweep.trial import TRIAL_FILE, make_trainable, trial_key, trial_name, trial_train_config

SUMMARY_FILE = "summary.md"
PLOT_FILE = "pareto.png"


@dataclass
class SweepResult:
    output_dir: Path
    base: dict
    trials: list[dict]
    front: list[dict]
    champion: dict | None
    registered: str | None  # models:/<name>@champion
    run_id: str | None
    table: str


def resolved(config: SweepConfig) -> SweepConfig:
    """The config with absolute paths and a fixed tracking URI: trials run in other processes and
    Tune moves them into their trial folders."""
    from overthink.runtime.tracking import tracking_uri
    from overthink.sample.stage import resolve_model
    from overthink.train.core import pairs_file

    if not config.output_dir:
        raise ConfigError("no output folder: set --output (output_dir)")
    if not config.model:
        raise ConfigError("no base model: set --model (model) to a Hugging Face folder, hub id or `organism`")
    model, _ = resolve_model(config.model)
    require_model_folder(model)
    pairs = str(Path(pairs_file(config.train.model_copy(update={"pairs": config.pairs}))).resolve())
    mlflow = config.mlflow.model_copy(update={"tracking_uri": tracking_uri(config.mlflow)}) if config.mlflow.enabled else config.mlflow
    folder = Path(model).resolve() if Path(model).exists() else model
    return config.model_validate({
        **config.model_dump(mode="json"), "pairs": pairs, "model": str(folder), "output_dir": str(Path(config.output_dir).resolve()),
        "baseline": str(Path(config.baseline).resolve()) if config.baseline else None, "mlflow": mlflow.model_dump(),
        "train": {**config.train.model_dump(mode="json"), "pairs": pairs, "model": str(folder), "mlflow": mlflow.model_dump()},
        "evaluate": {**config.evaluate.model_dump(mode="json"), "mlflow": mlflow.model_dump(), "ray": config.ray.model_dump()}})


def check_space(config: SweepConfig) -> None:
    """Every listed value (grid/choice or fixed) makes a valid train config, and every strategy
    is in the pairs file: a typo fails here, not in trial 7."""
    strategies = set(pq.read_table(config.pairs, columns=["strategy"]).column("strategy").to_pylist())
    base = config.train.model_dump(mode="json")
    for key, spec in config.search.space.items():
        values = next(iter(spec.values())) if isinstance(spec, dict) and next(iter(spec)) in ("grid", "choice") else (
            [spec] if not isinstance(spec, dict) else [])
        for value in values:
            trial_train_config(base, {key: value}, "-", None)
            if key == "strategy" and value not in strategies:
                raise ConfigError(f"search.space.strategy: {value!r} is not in {config.pairs} (it holds {sorted(strategies)})")
    if "strategy" not in config.search.space and config.train.strategy is None and len(strategies) > 1:
        raise ConfigError(f"{config.pairs} holds several strategies {sorted(strategies)}: search over `strategy` or set train.strategy")
    if config.register_as and not config.train.log_model:
        raise ConfigError("register_as needs train.log_model=true (the champion is registered from its logged model)")


def check_resources(config: SweepConfig) -> None:
    """A trial's request must fit the cluster, or Tune would wait for it forever."""
    import ray

    total = ray.cluster_resources()
    workers = config.train.workers
    search = config.search
    needs = {"CPU": search.trial_cpus + workers.num_workers * workers.cpus_per_worker,
             "GPU": workers.num_workers if workers.use_gpu else 0}
    engine = config.evaluate.sample.engine
    needs_eval = search.trial_cpus + engine.cpus_per_engine
    problems = []
    if needs["CPU"] > total.get("CPU", 0) + 1e-9:
        problems.append(f"training needs {needs['CPU']:g} CPUs (trial {search.trial_cpus:g} + {workers.num_workers} "
                        f"Ray Train workers × {workers.cpus_per_worker:g}) but the cluster has {total.get('CPU', 0):g}; "
                        f"lower train.workers.cpus_per_worker (e.g. 0.9) or train.workers.num_workers")
    if needs["GPU"] > total.get("GPU", 0):
        problems.append(f"training needs {needs['GPU']} GPUs but the cluster has {total.get('GPU', 0):g}")
    if needs_eval > total.get("CPU", 0) + 1e-9:
        problems.append(f"evaluation needs {needs_eval:g} CPUs (trial + one vLLM engine) but the cluster has {total.get('CPU', 0):g}")
    for name, amount in workers.resources_per_worker.items():
        if amount * workers.num_workers > total.get(name, 0):
            problems.append(f"training needs {amount * workers.num_workers:g} of resource {name!r}; the cluster has {total.get(name, 0):g}")
    if problems and not (config.ray.address or _on_cluster()):
        raise ConfigError("a sweep trial cannot be scheduled on this Ray instance:\n  " + "\n  ".join(problems))
    for problem in problems:  # an autoscaling cluster may still add the nodes
        print(f"warning: {problem}; waiting for the autoscaler to add nodes")


def _on_cluster() -> bool:
    import os

    return bool(os.environ.get("RAY_ADDRESS"))


def base_evaluation(config: SweepConfig, parent_run_id: str | None) -> tuple[str, dict]:
    """(folder of the base model's evaluation, its overall metrics)."""
    if config.baseline:
        path = Path(config.baseline) / "analysis" / "metrics.json"
        if not path.is_file():
            raise InputError(f"baseline={config.baseline}: no {path} (give an `overthink evaluate` output folder)")
        return config.baseline, json.loads(path.read_text())["overall"]
    from overthink.evaluate.stage import run_evaluate

    out = Path(config.output_dir) / "base"
    evaluate = config.evaluate.model_validate({
        **config.evaluate.model_dump(mode="json"), "model": config.model, "name": "base", "output_dir": str(out),
        "baseline": None, "mlflow": {**config.mlflow.model_dump(), "parent_run_id": parent_run_id, "run_name": None}})
    return str(out), run_evaluate(evaluate).metrics["overall"]


def run_tune(config: SweepConfig, base: dict, base_dir: str, parent_run_id: str | None):
    from ray import tune

    search = config.search
    trainable = make_trainable(config.model_dump(mode="json"), base, base_dir, config.output_dir, parent_run_id)
    space, tune_config, stopper = tune_settings(search)
    tuner = tune.Tuner(
        tune.with_resources(trainable, tune.PlacementGroupFactory([{"CPU": search.trial_cpus}])),
        param_space=space, tune_config=tune_config,
        run_config=tune.RunConfig(name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(Path(config.output_dir) / "tune"),
                                  failure_config=tune.FailureConfig(max_failures=0), stop=stopper),
    )
    try:
        return tuner.fit()
    except Exception as err:
        raise OverthinkError(f"the sweep failed: {root_message(err)}") from None


def collect(grid, root: Path, space_keys: list[str]) -> list[dict]:
    trials = []
    for result in grid:
        params = {key: result.config[key] for key in space_keys if key in result.config}
        record_file = root / "trials" / trial_key(params) / TRIAL_FILE
        if result.error is None and record_file.is_file():
            record = json.loads(record_file.read_text())
            trials.append({**record, **record["metrics"]})
        else:
            error = root_message(result.error) if result.error else "no result reported"
            trials.append({"key": trial_key(params), "name": trial_name(params), "params": params, "error": error})
    return trials


def run_sweep(config: SweepConfig) -> SweepResult:
    from overthink.runtime.ray_init import init_ray
    from overthink.runtime.tracking import flatten_params, log_batch, open_run, register_model

    config = resolved(config)
    check_space(config)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    init_ray(config.ray)
    check_resources(config)
    opened = open_run(config.mlflow, "sweep", config.mlflow.run_name or f"sweep-{time.strftime('%Y%m%d-%H%M%S')}")
    client, run_id = opened if opened else (None, None)
    try:
        if client:
            log_batch(client, run_id, params=flatten_params({
                "space": json.dumps(config.search.space), "algorithm": config.search.algorithm,
                "num_samples": config.search.num_samples, "tolerance": config.search.tolerance,
                "pairs": config.pairs, "model": config.model}))
        base_dir, base = base_evaluation(config, run_id)
        grid = run_tune(config, base, base_dir, run_id)
        trials = collect(grid, out, list(config.search.space))
        done = [t for t in trials if not t.get("error")]
        front = pareto_front(done)
        best = champion(done, base, config.search.tolerance)
        table = summary_markdown(trials, base, front, best, config.search.tolerance)
        atomic_write_text(out / SUMMARY_FILE, table)
        atomic_write_text(out / "summary.json", json.dumps(
            {"base": base, "trials": trials, "front": [t["key"] for t in front], "champion": best}, indent=2, default=str))
        atomic_write_text(out / "config.yaml", config.to_yaml())
        pareto_plot(trials, base, front, best, out / PLOT_FILE)
        registered = None
        if best and config.register_as:
            registered = register_model(best["model_uri"], config.register_as, tags={
                "overthink.trial": best["name"], **({"overthink.sweep_run_id": run_id} if run_id else {})})
        if client:
            for name in (SUMMARY_FILE, "summary.json", PLOT_FILE, "config.yaml"):
                client.log_artifact(run_id, str(out / name))
            log_batch(client, run_id, metrics=sweep_metrics(trials, front, best, base))
            if best:
                client.set_tag(run_id, "overthink.champion", best["name"])
            if registered:
                client.set_tag(run_id, "overthink.registered_model", registered)
            client.set_terminated(run_id, "FINISHED")
    except BaseException:
        if client:
            client.set_terminated(run_id, "FAILED")
        raise
    return SweepResult(out, base, trials, front, best, registered, run_id, table)



def sweep_metrics(trials: list[dict], front: list[dict], best: dict | None, base: dict) -> dict:
    values = {"trials": len(trials), "trials_failed": sum(1 for t in trials if t.get("error")), "pareto_size": len(front),
              "base.accuracy": base["accuracy"], "base.mean_tokens": base["mean_tokens"]}
    if best:
        values.update({"champion.accuracy": best["accuracy"], "champion.mean_tokens": best["mean_tokens"],
                       "champion.token_reduction_pct": best["token_reduction_pct"],
                       "champion.accuracy_change": best["accuracy_change"]})
    return values
