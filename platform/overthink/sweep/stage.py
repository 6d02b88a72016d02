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

from overthink.errors import ConfigError, OverthinkError
from overthink.runtime.files import atomic_write_text, read_parquet, root_message
from overthink.runtime.outputs import claim_output_dir, require_output_dir
from overthink.sweep.config import SweepConfig
from overthink.sweep.report import pareto_plot, summary_markdown
from overthink.sweep.select import champion, pareto_front
from overthink.sweep.space import parse_space, space_values
from overthink.sweep.trial import (
    TRIAL_FILE,
    make_trainable,
    trial_evaluate_config,
    trial_key,
    trial_name,
    trial_train_config,
)

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


def plan(config: SweepConfig) -> dict:
    """The base model's evaluation and a trial's train and evaluate configs (the searched keys
    take each trial's values; model specs and paths are resolved when the sweep runs)."""
    from overthink.evaluate.config import EvaluateConfig

    out = Path(config.output_dir or "OUTPUT").resolve()
    trial = out / "trials" / "<trial>"
    stages = {}
    if not config.baseline:
        stages["evaluate: base model"] = EvaluateConfig.wire(
            config.evaluate,
            model=config.model or "MODEL",
            name="base",
            output_dir=str(out / "base"),
            ray=config.ray,
            mlflow=config.mlflow,
        )
    template = config.model_copy(update={"output_dir": str(out), "model": config.model or "MODEL"})
    stages["train: each trial (searched keys vary)"] = trial_train_config(template, {}, str(trial / "train"))
    stages["evaluate: each trial"] = trial_evaluate_config(
        template,
        str(trial / "train" / "model"),
        "<trial>",
        str(trial / "evaluate"),
        config.baseline or str(out / "base"),
        None,
    )
    return stages


def resolved(config: SweepConfig) -> SweepConfig:
    """The config with absolute paths, the base model resolved and a fixed tracking URI: trials
    run in other processes and Tune moves them into their trial folders."""
    from overthink.runtime.models import resolve_model
    from overthink.runtime.tracking import pinned
    from overthink.train.core import pairs_file

    out = require_output_dir(config.output_dir).resolve()
    if not config.model:
        raise ConfigError("no base model: set --model (model) to a Hugging Face folder, hub id or `organism`")
    model = resolve_model(config.model).path
    pairs = str(Path(pairs_file(config)).resolve())
    return config.model_copy(
        update={
            "pairs": pairs,
            "model": model,
            "output_dir": str(out),
            "mlflow": pinned(config.mlflow),
            "baseline": str(Path(config.baseline).resolve()) if config.baseline else None,
        }
    )


def check_space(config: SweepConfig) -> None:
    """Every strategy the space lists is in the pairs file: a typo fails here, not in trial 7
    (the space's values were checked against the train settings when the config loaded)."""
    strategies = set(read_parquet(config.pairs, columns=["strategy"]).column("strategy").to_pylist())
    space = parse_space(config.search.space, type(config.train))
    listed = space_values(space["strategy"]) if "strategy" in space else None
    for value in listed or []:
        if value not in strategies:
            raise ConfigError(
                f"search.space.strategy: {value!r} is not in {config.pairs} (it holds {sorted(strategies)})"
            )
    if "strategy" not in space and config.train.strategy is None and len(strategies) > 1:
        raise ConfigError(
            f"{config.pairs} holds several strategies {sorted(strategies)}: search over `strategy` or set "
            "train.strategy"
        )
    if config.register_as and not config.train.log_model:
        raise ConfigError("register_as needs train.log_model=true (the champion is registered from its logged model)")


def check_resources(config: SweepConfig) -> None:
    """A trial's request must fit the cluster, or Tune would wait for it forever."""
    import ray

    total = ray.cluster_resources()
    workers = config.train.placement
    search = config.search
    needs = {
        "CPU": search.trial_cpus + workers.count * workers.cpus,
        "GPU": workers.count if workers.device == "gpu" else 0,
    }
    needs_eval = search.trial_cpus + config.evaluate.sample.placement.cpus
    problems = []
    if needs["CPU"] > total.get("CPU", 0) + 1e-9:
        problems.append(
            f"training needs {needs['CPU']:g} CPUs (trial {search.trial_cpus:g} + {workers.count} "
            f"Ray Train workers × {workers.cpus:g}) but the cluster has {total.get('CPU', 0):g}; "
            f"lower train.placement.cpus (e.g. 0.9) or train.placement.count"
        )
    if needs["GPU"] > total.get("GPU", 0):
        problems.append(f"training needs {needs['GPU']} GPUs but the cluster has {total.get('GPU', 0):g}")
    if needs_eval > total.get("CPU", 0) + 1e-9:
        problems.append(
            f"evaluation needs {needs_eval:g} CPUs (trial + one vLLM engine) but the cluster has "
            f"{total.get('CPU', 0):g}"
        )
    for name, amount in workers.resources.items():
        if amount * workers.count > total.get(name, 0):
            problems.append(
                f"training needs {amount * workers.count:g} of resource {name!r}; the cluster has "
                f"{total.get(name, 0):g}"
            )
    if problems and not (config.ray.address or _on_cluster()):
        raise ConfigError("a sweep trial cannot be scheduled on this Ray instance:\n  " + "\n  ".join(problems))
    for problem in problems:  # an autoscaling cluster may still add the nodes
        print(f"warning: {problem}; waiting for the autoscaler to add nodes")


def _on_cluster() -> bool:
    import os

    return bool(os.environ.get("RAY_ADDRESS"))


def base_evaluation(config: SweepConfig, parent_run_id: str | None) -> tuple[str, dict]:
    """(folder of the base model's evaluation, its overall metrics)."""
    from overthink.evaluate.stage import load_evaluation, run_evaluate

    if config.baseline:
        return config.baseline, load_evaluation(config.baseline).metrics["overall"]
    base = plan(config)["evaluate: base model"]
    return base.output_dir, run_evaluate(base, parent_run_id).metrics["overall"]


def run_tune(config: SweepConfig, base: dict, base_dir: str, parent_run_id: str | None):
    from ray import tune

    from overthink.sweep.tune_adapter import tune_settings

    search = config.search
    trainable = make_trainable(config.model_dump(mode="json"), base, base_dir, parent_run_id)
    space, tune_config, stopper = tune_settings(search, type(config.train))
    tuner = tune.Tuner(
        tune.with_resources(trainable, tune.PlacementGroupFactory([{"CPU": search.trial_cpus}])),
        param_space=space,
        tune_config=tune_config,
        run_config=tune.RunConfig(
            name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(Path(config.output_dir) / "tune"),
            failure_config=tune.FailureConfig(max_failures=0),
            stop=stopper,
            verbose=0,  # Tune's status tables are print()s: the stage's own lines and MLflow say the same
        ),
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


def run_sweep(config: SweepConfig, parent_run_id: str | None = None) -> SweepResult:
    from overthink.runtime.ray_init import init_ray
    from overthink.runtime.tracking import register_model, stage_run

    config = resolved(config)
    check_space(config)
    out = Path(config.output_dir)
    claim_output_dir(out, "sweep")
    init_ray(config.ray)
    check_resources(config)
    with stage_run(config.mlflow, "sweep", parent_run_id, output=out) as run:
        run.log_params(
            {
                "space": json.dumps(config.search.space),
                "algorithm": config.search.algorithm,
                "num_samples": config.search.num_samples,
                "tolerance": config.search.tolerance,
                "pairs": config.pairs,
                "model": config.model,
            }
        )
        base_dir, base = base_evaluation(config, run.id)
        grid = run_tune(config, base, base_dir, run.id)
        trials = collect(grid, out, list(config.search.space))
        done = [t for t in trials if not t.get("error")]
        front = pareto_front(done)
        best = champion(done, base, config.search.tolerance)
        table = summary_markdown(trials, base, front, best, config.search.tolerance)
        atomic_write_text(out / SUMMARY_FILE, table)
        atomic_write_text(
            out / "summary.json",
            json.dumps(
                {"base": base, "trials": trials, "front": [t["key"] for t in front], "champion": best},
                indent=2,
                default=str,
            ),
        )
        atomic_write_text(out / "config.yaml", config.to_yaml())
        pareto_plot(trials, base, front, best, out / PLOT_FILE)
        registered = None
        if best and config.register_as:
            registered = register_model(
                config.mlflow,
                best["model_uri"],
                config.register_as,
                tags={"overthink.trial": best["name"], **({"overthink.sweep_run_id": run.id} if run.id else {})},
            )
        for name in (SUMMARY_FILE, "summary.json", PLOT_FILE, "config.yaml"):
            run.log_artifact(out / name)
        run.log_metrics(sweep_metrics(trials, front, best, base))
        run.set_tags(
            {
                **({"overthink.champion": best["name"]} if best else {}),
                **({"overthink.registered_model": registered} if registered else {}),
            }
        )
    return SweepResult(out, base, trials, front, best, registered, run.id, table)


def sweep_metrics(trials: list[dict], front: list[dict], best: dict | None, base: dict) -> dict:
    from overthink.runtime.metric_names import metric_key

    values = {
        "trials": len(trials),
        "trials_failed": sum(1 for t in trials if t.get("error")),
        "pareto_size": len(front),
    }
    values.update({metric_key("base", "overall", k): base[k] for k in ("accuracy", "mean_tokens")})
    if best:
        values.update(
            {
                metric_key("champion", "overall", k): best[k]
                for k in ("accuracy", "mean_tokens", "token_reduction_pct", "accuracy_change")
            }
        )
    return values


def cli(config: SweepConfig) -> str:
    result = run_sweep(config)
    text = result.table
    if result.registered:
        text += f"Champion registered as {result.registered}: evaluate or serve it by that URI.\n"
    return text + f"Wrote {result.output_dir / SUMMARY_FILE} and {result.output_dir / PLOT_FILE}\n"
