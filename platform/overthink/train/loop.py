"""What each Ray Train worker runs: one TRL trainer for the chosen loss, reporting checkpoints to
Ray Train and (on rank 0) every logged metric to the driver's MLflow run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# Set before TRL is imported anywhere in the worker.
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

FAIL_ONCE_ENV = "OVERTHINK_TRAIN_FAIL_ONCE"  # fault injection: "<step>:<marker file>" fails the worker group once
CHECKPOINT_DIR = "checkpoint"  # the Hugging Face checkpoint's folder inside a Ray Train checkpoint


def node_scratch(run_name: str) -> Path:
    """This run's scratch on the node a worker runs on, found there (the driver's temp folder is on
    another machine): checkpoints in the making and the dataset copy. ray_cluster.yaml points TMPDIR
    at the GPU nodes' NVMe instance store, away from the root volume."""
    return Path(tempfile.gettempdir()) / "overthink-train" / run_name


def checkpoint_reporter():
    """A TrainerCallback that hands each new checkpoint to Ray Train and frees its local copy, on
    every rank. Ray's RayTrainReportCallback copies it into /tmp first (a second copy on the root
    disk) and transformers rotates old checkpoints on global rank 0 only, so the other ranks' ZeRO
    shards piled up on each node (~230 GB per p5 node per save at 32B)."""
    import ray.train
    from ray.train import Checkpoint
    from transformers import TrainerCallback
    from transformers.trainer_utils import get_last_checkpoint

    class ReportCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            metrics = {}
            for log in state.log_history:
                metrics.update(log)
            folder = Path(args.output_dir)
            newest = get_last_checkpoint(str(folder))
            checkpoint = None
            if newest is not None:
                staging = folder / f"report-{state.global_step}"
                shutil.rmtree(staging, ignore_errors=True)
                staging.mkdir()
                os.replace(newest, staging / CHECKPOINT_DIR)  # a rename on one disk, not a copy
                for stale in folder.glob("checkpoint-*"):  # left by an attempt that failed before reporting
                    shutil.rmtree(stale, ignore_errors=True)
                checkpoint = Checkpoint.from_directory(str(staging))
            # Uploaded to storage_path (this rank's files merge with the other ranks'), then deleted here.
            ray.train.report(metrics, checkpoint=checkpoint, delete_local_checkpoint_after_upload=True)

    return ReportCheckpoint()


def trainer_class(name: str):
    if name == "SFTConfig":
        from trl import SFTConfig, SFTTrainer

        return SFTConfig, SFTTrainer
    if name == "CPOConfig":
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        return CPOConfig, CPOTrainer
    from trl import DPOConfig, DPOTrainer

    return DPOConfig, DPOTrainer


def mlflow_step_logger(tracking_uri: str, run_id: str):
    """A TrainerCallback logging every numeric entry of TRL's logs at its optimizer step. A failed
    log (server down, run missing) is a warning, once: metrics are a record, not the training."""
    import logging
    import time

    from mlflow import MlflowClient
    from mlflow.entities import Metric
    from transformers import TrainerCallback

    client = MlflowClient(tracking_uri)
    log = logging.getLogger("overthink.train")

    class MlflowStepLogger(TrainerCallback):
        failures = 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            now = int(time.time() * 1000)
            metrics = [
                Metric(key.replace("/", "."), float(value), now, state.global_step)
                for key, value in logs.items()
                if isinstance(value, (int, float))
            ]
            if not metrics:
                return
            try:
                client.log_batch(run_id, metrics=metrics)
            except Exception as err:  # MLflow raises many types; none may stop training
                self.failures += 1
                if self.failures == 1:
                    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                    log.warning(
                        "MLflow: cannot log step %s metrics to run %s at %s (%s); training goes on, "
                        "later failures are not repeated",
                        state.global_step,
                        run_id,
                        tracking_uri,
                        first,
                    )

    return MlflowStepLogger()


def fail_once_callback(spec: str):
    """Raise at step N the first time only (a marker file remembers), to exercise FailureConfig."""
    from transformers import TrainerCallback

    step, marker = spec.split(":", 1)

    class FailOnce(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == int(step) and not os.path.exists(marker):
                Path(marker).write_text("failed once")
                raise RuntimeError(f"injected failure at step {step} ({FAIL_ONCE_ENV})")

    return FailOnce()


def train_loop_per_worker(loop_config: dict) -> None:
    import ray.train
    import torch
    from datasets import Dataset, load_from_disk
    from ray.train.huggingface.transformers import prepare_trainer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from overthink.runtime.models import require_on_this_node
    from overthink.train.config import TrainConfig

    config = TrainConfig.model_validate(loop_config["config"])
    require_on_this_node(config.model)
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", loop_config["torch_extensions_dir"])
    use_gpu = config.placement.device == "gpu"  # resolved by the driver: never auto here
    if not use_gpu:
        torch.set_num_threads(max(1, int(config.placement.cpus)))  # Ray sets OMP_NUM_THREADS=1
    if loop_config["deepspeed"] is not None:
        import deepspeed

        deepspeed.init_distributed(dist_backend="nccl" if use_gpu else "gloo")
    config_class, trainer_type = trainer_class(loop_config["trl_class"])
    # Each rank saves into its own folder: every rank reports its newest checkpoint, and a folder
    # shared on one node would be moved while another rank still writes it. Ray Train merges the
    # ranks' files (model, optimizer and ZeRO shards, RNG states) in storage.
    context = ray.train.get_context()
    scratch = node_scratch(loop_config["run_name"])
    trl_args = {**loop_config["trl_args"], "output_dir": str(scratch / f"rank-{context.get_world_rank()}")}
    args = config_class(**trl_args)  # before the model: ZeRO-3 partitions it while loading

    tokenizer = AutoTokenizer.from_pretrained(config.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(config.model, dtype=torch.bfloat16 if config.bf16 else torch.float32)
    peft_config = None
    if config.lora.enabled:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora.r,
            lora_alpha=config.lora.alpha,
            lora_dropout=config.lora.dropout,
            target_modules=config.lora.target_modules,
            task_type="CAUSAL_LM",
        )
    if loop_config.get("system_metrics") is not None and context.get_local_rank() == 0:
        loop_config["system_metrics"].start(f"train-node{context.get_node_rank()}")  # its GPUs in the stage run
    callbacks = [checkpoint_reporter()]
    if loop_config.get("mlflow_run_id"):
        callbacks.append(mlflow_step_logger(loop_config["tracking_uri"], loop_config["mlflow_run_id"]))
    if loop_config.get("fail_once"):
        callbacks.append(fail_once_callback(loop_config["fail_once"]))
    # One copy on disk per node, shared by its ranks: TRL caches dataset maps beside it, and its
    # reference log-prob precompute has rank 0 write a cache file that every rank then reads.
    dataset_dir = str(scratch / "dataset")
    if context.get_local_rank() == 0:
        Dataset.from_list(loop_config["rows"]).save_to_disk(dataset_dir)
    torch.distributed.barrier()
    trainer = trainer_type(
        model=model,
        args=args,
        train_dataset=load_from_disk(dataset_dir),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    trainer = prepare_trainer(trainer)
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        trainer.train()
    else:
        with checkpoint.as_directory() as folder:
            trainer.train(resume_from_checkpoint=os.path.join(folder, CHECKPOINT_DIR))
    torch.distributed.barrier()
    if context.get_local_rank() == 0:
        shutil.rmtree(scratch, ignore_errors=True)  # every checkpoint is in storage by now
