"""`overthink train`: pairs -> a Hugging Face model folder, trained by TRL inside a Ray Train
TorchTrainer. Ray Train keeps checkpoints at the storage path and restarts a failed worker group
from the last one; a re-run of the same config resumes the same Ray Train run. The final
checkpoint is exported (LoRA merged) to OUTPUT/model, a plain folder vLLM and transformers load."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from overthink.config import content_hash
from overthink.errors import ConfigError, OverthinkError
from overthink.runtime.files import atomic_write_text, root_message
from overthink.runtime.models import resolve_model
from overthink.runtime.outputs import DoneMarker, claim_output_dir, file_identity, require_output_dir
from overthink.train.config import TrainConfig
from overthink.train.core import deepspeed_config, load_pairs, pairs_file
from overthink.train.losses import LOSSES, training_rows, trl_arguments

MODEL_DIR = "model"
SUMMARY_FILE = "train_summary.json"
CACHE = Path.home() / ".cache" / "overthink"


@dataclass
class TrainResult:
    output_dir: Path
    model_dir: Path
    summary: dict
    run_id: str | None
    reused: bool


def fingerprint_of(config: TrainConfig) -> str:
    """What determines the trained model: the settings, the pairs file, the base model."""
    model = os.path.abspath(config.model) if os.path.isdir(config.model) else config.model
    return content_hash(
        {
            "config": config.model_dump(
                mode="json", exclude={"ray", "mlflow", "force", "output_dir", "storage_path", "pairs"}
            ),
            "pairs": file_identity(pairs_file(config)),
            "model": model,
        }
    )


# What a model folder needs (LoRA: the adapters, merged on export); the checkpoint's optimizer,
# ZeRO and RNG states stay behind.
MODEL_FILES = ("*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json")
TOKENIZER_FILES = ("tokenizer*", "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt")
ADAPTER_FILES = ("adapter_config.json",)  # its weights are adapter_model.safetensors


def fetch_model_files(checkpoint, folder: Path) -> None:
    """Copy the model's files out of a Ray Train checkpoint wherever it is stored (a folder, s3://,
    gs://), leaving the optimizer and ZeRO states behind: at 32B they are ~400 GB of the ~460 GB
    checkpoint, more than a head's disk holds."""
    from fnmatch import fnmatch

    import pyarrow.fs as pafs

    from overthink.train.loop import CHECKPOINT_DIR

    folder.mkdir(parents=True)
    wanted = (*MODEL_FILES, *TOKENIZER_FILES, *ADAPTER_FILES)
    selector = pafs.FileSelector(f"{checkpoint.path.rstrip('/')}/{CHECKPOINT_DIR}")
    for info in checkpoint.filesystem.get_file_info(selector):
        if info.type == pafs.FileType.File and any(fnmatch(info.base_name, pattern) for pattern in wanted):
            pafs.copy_files(
                info.path,
                str(folder / info.base_name),
                source_filesystem=checkpoint.filesystem,
                destination_filesystem=pafs.LocalFileSystem(),
            )


def export_model(checkpoint, config: TrainConfig, target: Path) -> None:
    """The Ray Train checkpoint as a clean model folder (weights, tokenizer, generation config).
    Full fine-tuning: the checkpoint already holds the full 16-bit weights (ZeRO-3 gathers them on
    save), so its files are copied, never loaded (a 32B model would need ~65 GB of the driver's
    RAM). LoRA: the adapters are merged into the base, which loads the base (LoRA is for small
    models here)."""
    staging = target.with_name(target.name + ".tmp")
    fetched = target.with_name(target.name + ".fetch")
    for folder in (staging, fetched):
        shutil.rmtree(folder, ignore_errors=True)
    fetch_model_files(checkpoint, fetched)
    if (fetched / "adapter_config.json").exists():
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        base = AutoModelForCausalLM.from_pretrained(
            config.model, dtype=torch.bfloat16 if config.bf16 else torch.float32
        )
        PeftModel.from_pretrained(base, str(fetched)).merge_and_unload().save_pretrained(str(staging))
        AutoTokenizer.from_pretrained(str(fetched)).save_pretrained(str(staging))
        shutil.rmtree(fetched)
    else:
        os.replace(fetched, staging)
    if not any(staging.glob("*.safetensors")):
        raise OverthinkError(f"the checkpoint {checkpoint.path} holds no safetensors weights to export")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def run_train(config: TrainConfig, parent_run_id: str | None = None) -> TrainResult:
    out = require_output_dir(config.output_dir).resolve()
    # Workers load the base model by what it resolves to (organism and MLflow models are folders).
    config = config.model_copy(update={"model": resolve_model(config.model).path})
    if config.placement.device == "gpu":
        check_memory_plan(config)
    pairs, lengths = load_pairs(config)
    rows = training_rows(pairs, config.loss)
    deepspeed = deepspeed_config(config.deepspeed)
    fingerprint = fingerprint_of(config)
    done = DoneMarker(out)
    record = done.reusable(fingerprint, config.force, "the model of this config")
    if record:
        return TrainResult(
            out, out / MODEL_DIR, json.loads((out / SUMMARY_FILE).read_text()), record.get("run_id"), True
        )
    claim_output_dir(out, "train")
    done.clear()
    # The same name resumes an interrupted Ray Train run from its last checkpoint; force starts afresh.
    run_name = f"train-{fingerprint}" + (f"-{int(time.time())}" if config.force else "")

    from overthink.runtime.tracking import MODEL_DIR_TAG, stage_run

    tags = {"overthink.fingerprint": fingerprint, "overthink.loss": config.loss}
    with stage_run(config.mlflow, "train", parent_run_id, tags=tags, output=out) as run:
        run.log_params(
            {**config.model_dump(mode="json"), "pairs_used": len(rows), "trl.class": LOSSES.get(config.loss).trl_config}
        )
        run.log_input_files([pairs_file(config)], "pairs")
        run.log_metrics({f"data.{k}": v for k, v in lengths.items()})
        result = fit(config, rows, deepspeed, run_name, run.id, run.uri, run.worker_metrics())
        export_model(result.checkpoint, config, out / MODEL_DIR)
        summary = {
            "fingerprint": fingerprint,
            "pairs_used": len(rows),
            "data": lengths,
            "loss": config.loss,
            "deepspeed": config.deepspeed,
            "workers": config.placement.count,
            "checkpoint": result.checkpoint.path,
            "metrics": scalar_metrics(result.metrics),
        }
        atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2))
        atomic_write_text(out / "config.yaml", config.to_yaml())
        run.log_metrics({f"final.{k}": v for k, v in summary["metrics"].items()})
        run.log_artifact(out / SUMMARY_FILE)
        run.log_artifact(out / "config.yaml")
        run.set_tags({MODEL_DIR_TAG: str(out / MODEL_DIR)})
        if run.id and config.log_model:
            with run.active():
                summary["mlflow_model_uri"] = log_model(out / MODEL_DIR)
            atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2))
    done.write(fingerprint, run.id)
    return TrainResult(out, out / MODEL_DIR, summary, run.id, False)


def check_memory_plan(config: TrainConfig) -> None:
    """Print the per-GPU memory plan of a train step; refuse one that cannot fit, naming single
    changes that would (overthink.train.memory)."""
    from overthink.train.memory import ModelShape, fitting_options, plan_step

    shape = ModelShape.from_folder(config.model)
    plan = plan_step(config, shape, config.gpu_memory_gb)
    print(plan.table(f"train: memory plan per GPU ({shape.parameters / 1e9:.2f}B parameters)"), flush=True)
    if plan.fits:
        return
    options = fitting_options(config, shape, config.gpu_memory_gb)
    fixes = "; ".join(f"{label} ({gb:.0f} GB)" for label, gb in options) or "none alone: combine them"
    raise ConfigError(
        f"train: the step needs ~{plan.total_gb:.0f} GB per GPU, more than gpu_memory_gb={config.gpu_memory_gb:g}. "
        f"Changes that fit: {fixes}"
    )


def cli(config: TrainConfig) -> str:
    result = run_train(config)
    metrics = result.summary["metrics"]
    shown = ", ".join(f"{k} {metrics[k]:.4g}" for k in ("train_loss", "loss", "rewards.margins") if k in metrics)
    return (
        f"Trained {config.loss} on {result.summary['pairs_used']} pairs{': ' + shown if shown else ''}\n"
        f"Wrote {result.model_dir}: sample it with `overthink sample --model {result.model_dir} ...`\n"
    )


def log_model(model_dir: Path) -> str:
    """The exported folder as an MLflow transformers model of the active run: registrable later
    (`mlflow.register_model(uri, name)`). Requirements are given, not inferred (inference imports
    torchvision, which CPU installs leave out)."""
    import mlflow
    import torch
    import transformers

    info = mlflow.transformers.log_model(
        transformers_model=str(model_dir),
        task="text-generation",
        name=MODEL_DIR,
        pip_requirements=[f"transformers=={transformers.__version__}", f"torch=={torch.__version__.split('+')[0]}"],
    )
    return info.model_uri


def scalar_metrics(metrics: dict) -> dict:
    return {
        k.replace("/", "."): float(v)
        for k, v in (metrics or {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def place_workers(config: TrainConfig):
    """(the config with placement.device resolved to gpu or cpu, the workers' plan): one GPU per
    worker, checked against the cluster's nodes and autoscaler node types before any worker starts."""
    from overthink.runtime.placement import plan_units
    from overthink.runtime.ray_init import cluster_nodes

    plan = plan_units(config.placement, 1, cluster_nodes(), "placement", "worker")
    device = "gpu" if plan.gpus else "cpu"
    if device == "gpu" and config.placement.device == "auto":
        check_memory_plan(config)  # an explicit gpu was checked before Ray started
    print(f"train: {plan.count} worker(s) {plan.where}", flush=True)
    return config.model_copy(update={"placement": config.placement.model_copy(update={"device": device})}), plan


def fit(
    config: TrainConfig,
    rows: list[dict],
    deepspeed: dict | None,
    run_name: str,
    run_id: str | None,
    tracking: str | None,
    system_metrics=None,
):
    """One Ray Train run; its errors come back as one clear message. `system_metrics`: each node's
    first rank records its node's system metrics into the stage run."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig

    from overthink.runtime.ray_init import init_ray
    from overthink.runtime.ray_internals import interruptible_torch_trainer
    from overthink.train.loop import FAIL_ONCE_ENV, train_loop_per_worker

    init_ray(config.ray)
    config, plan = place_workers(config)
    trl_class, trl_args = trl_arguments(config, "set on each worker", deepspeed)  # the node's own scratch
    storage = config.storage_path or str(Path(config.output_dir).resolve() / "ray")
    trainer = interruptible_torch_trainer()(
        train_loop_per_worker,
        train_loop_config={
            "config": config.model_dump(mode="json"),
            "run_name": run_name,
            "rows": rows,
            "trl_class": trl_class,
            "trl_args": trl_args,
            "deepspeed": deepspeed,
            "mlflow_run_id": run_id,
            "tracking_uri": tracking,
            "system_metrics": system_metrics,
            "torch_extensions_dir": str(CACHE / "torch_extensions"),
            "fail_once": os.environ.get(FAIL_ONCE_ENV),
        },
        scaling_config=ScalingConfig(
            num_workers=plan.count,
            use_gpu=bool(plan.gpus),
            resources_per_worker={"CPU": plan.cpus, **plan.resources},
        ),
        torch_config=TorchConfig(backend="nccl" if plan.gpus else "gloo"),
        run_config=RunConfig(
            name=run_name,
            storage_path=storage,
            failure_config=FailureConfig(max_failures=config.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=config.keep_checkpoints),
        ),
    )
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main_thread else None
    try:
        result = trainer.fit()
    except SystemExit:  # Ray Train's own Ctrl-C path ends in sys.exit: still an interrupt to us
        raise KeyboardInterrupt from None
    except Exception as err:
        raise OverthinkError(f"training failed: {root_message(err)}\n(Ray Train logs: {storage}/{run_name})") from None
    finally:
        if main_thread:  # the trainer's handler would abort a controller that is gone
            signal.signal(signal.SIGINT, previous)
    if result.checkpoint is None:
        raise OverthinkError(f"training finished without a checkpoint (Ray Train run {storage}/{run_name})")
    return result
