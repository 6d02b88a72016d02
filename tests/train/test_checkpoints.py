"""Checkpoints: each rank hands its own over and keeps none; export reads only the model files out
of a Ray Train checkpoint, wherever it is stored (at 32B the optimizer and ZeRO states are ~400 GB
that the driver's disk need not hold)."""

import json
from pathlib import Path

from overthink.train.stage import fetch_model_files


def test_only_model_and_tokenizer_files_leave_the_checkpoint(tmp_path):
    from ray.train import Checkpoint

    stored = tmp_path / "storage" / "checkpoint_000001"
    hf = stored / "checkpoint"
    (hf / "global_step4").mkdir(parents=True)
    for name in (
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "optimizer.pt",
        "scheduler.pt",
        "rng_state_0.pth",
        "trainer_state.json",
        "global_step4/zero_pp_rank_0_mp_rank_00_optim_states.pt",
    ):
        (hf / name).write_text(json.dumps(name))  # fmt: skip
    fetch_model_files(Checkpoint.from_directory(str(stored)), tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "chat_template.jinja", "config.json", "generation_config.json", "model.safetensors",
        "tokenizer.json", "tokenizer_config.json",
    ]  # fmt: skip


def test_every_rank_hands_its_newest_checkpoint_over_and_keeps_none(tmp_path, monkeypatch):
    """What each rank does at a save: its newest checkpoint is moved (not copied) into what Ray
    Train uploads and then deletes; older ones left by a failed attempt go too. transformers only
    rotates on global rank 0, so other ranks' ZeRO shards used to pile up on the node's disk."""
    from types import SimpleNamespace

    import ray.train

    from overthink.train.loop import checkpoint_reporter

    reported = []

    def report(metrics, checkpoint=None, **options):
        files = sorted(p.relative_to(checkpoint.path).as_posix() for p in Path(checkpoint.path).rglob("*"))
        reported.append((metrics, files, options))

    monkeypatch.setattr(ray.train, "report", report)
    rank = tmp_path / "rank-1"
    for step in (2, 4):
        (rank / f"checkpoint-{step}").mkdir(parents=True)
        (rank / f"checkpoint-{step}" / "zero_shard.pt").write_text(str(step))
    state = SimpleNamespace(log_history=[{"loss": 1.0}, {"loss": 0.5, "step": 4}], global_step=4)
    checkpoint_reporter().on_save(SimpleNamespace(output_dir=str(rank)), state, None)
    [(metrics, files, options)] = reported
    assert metrics == {"loss": 0.5, "step": 4} and options == {"delete_local_checkpoint_after_upload": True}
    assert files == ["checkpoint", "checkpoint/zero_shard.pt"]
    assert not list(rank.glob("checkpoint-*"))
