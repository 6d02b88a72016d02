"""What each Ray Train worker runs: one TRL trainer for the chosen loss, reporting checkpoints to
Ray Train and (on rank 0) every logged metric to the driver's MLflow run."""

from __future__ import annotations

import os
from pathlib import Path

# Set before TRL is imported anywhere in the worker.
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

FAIL_ONCE_ENV = "OVERTHINK_TRAIN_FAIL_ONCE"  # fault injection: "<step>:<marker file>" fails the worker group once


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
    from ray.train.huggingface.transformers import RayTrainReportCallback, prepare_trainer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from overthink.runtime.models import require_on_this_node
    from overthink.train.config import TrainConfig

    config = TrainConfig.model_validate(loop_config["config"])
    require_on_this_node(config.model)
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", loop_config["torch_extensions_dir"])
    if not config.workers.use_gpu:
        torch.set_num_threads(max(1, int(config.workers.cpus_per_worker)))  # Ray sets OMP_NUM_THREADS=1
    if loop_config["deepspeed"] is not None:
        import deepspeed

        deepspeed.init_distributed(dist_backend="nccl" if config.workers.use_gpu else "gloo")
    config_class, trainer_type = trainer_class(loop_config["trl_class"])
    # Each rank saves into its own folder: RayTrainReportCallback copies the newest checkpoint on
    # every rank, and a folder shared on one node is copied while another rank still writes it.
    # Ray Train merges the ranks' files (model, optimizer and ZeRO shards, RNG states) in storage.
    rank = ray.train.get_context().get_world_rank()
    trl_args = {
        **loop_config["trl_args"],
        "output_dir": os.path.join(loop_config["trl_args"]["output_dir"], f"rank-{rank}"),
    }
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
    callbacks = [RayTrainReportCallback()]
    if loop_config.get("mlflow_run_id"):
        callbacks.append(mlflow_step_logger(loop_config["tracking_uri"], loop_config["mlflow_run_id"]))
    if loop_config.get("fail_once"):
        callbacks.append(fail_once_callback(loop_config["fail_once"]))
    # One copy on disk per node, shared by its ranks: TRL caches dataset maps beside it, and its
    # reference log-prob precompute has rank 0 write a cache file that every rank then reads.
    dataset_dir = os.path.join(loop_config["trl_args"]["output_dir"], "dataset")
    if ray.train.get_context().get_local_rank() == 0:
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
        return
    with checkpoint.as_directory() as folder:
        trainer.train(resume_from_checkpoint=os.path.join(folder, RayTrainReportCallback.CHECKPOINT_NAME))
