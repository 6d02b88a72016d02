"""The pre-flight memory plan: parameter counts from config.json, the terms of a step, refusal of
a plan that cannot fit with the single changes that would, and the real-run configs fitting."""

import pytest

from locations import REPO
from overthink.config import load_config
from overthink.errors import ConfigError
from overthink.pipeline.config import PipelineConfig
from overthink.train.config import TrainConfig
from overthink.train.memory import ModelShape, fitting_options, plan_step
from overthink.train.stage import check_memory_plan

# Public config.json values (Qwen/QwQ-32B-Preview, deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B).
QWQ_32B = {
    "hidden_size": 5120,
    "num_hidden_layers": 64,
    "intermediate_size": 27648,
    "vocab_size": 152064,
    "num_attention_heads": 40,
    "num_key_value_heads": 8,
    "tie_word_embeddings": False,
}
R1_1P5B = {
    "hidden_size": 1536,
    "num_hidden_layers": 28,
    "intermediate_size": 8960,
    "vocab_size": 151936,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "tie_word_embeddings": False,
}


def real_run_train(name: str) -> TrainConfig:
    pipeline = load_config(PipelineConfig, REPO / "configs" / "pipeline" / name, [])
    return TrainConfig.model_validate(pipeline.train.model_dump())


def test_parameter_count_matches_the_real_models(organism_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(organism_path)
    assert ModelShape.from_folder(organism_path).parameters == sum(p.numel() for p in model.parameters())
    assert ModelShape.from_config(QWQ_32B).parameters == 32_763_876_352  # QwQ-32B: 32.76B
    assert round(ModelShape.from_config(R1_1P5B).parameters / 1e9, 2) == 1.78


def test_qwq_32b_with_plain_zero3_at_16k_is_refused_with_what_would_fit():
    shape = ModelShape.from_config(QWQ_32B)
    old = real_run_train("qwq32b_paper.yaml").model_copy(update={"deepspeed": "zero3"})
    plan = plan_step(old, shape, 80)
    assert not plan.fits and 90 < plan.total_gb < 110, plan.table("old")
    terms = dict(plan.terms)
    assert round(terms["checkpointed layer inputs"]) == 21 and round(terms["one layer recomputed"]) == 10
    options = dict(fitting_options(old, shape, 80))
    assert "deepspeed=zero3_offload_optimizer" in options and "max_length=8192" in options
    assert "per_device_batch_size=1" not in options  # already 1


def test_the_real_run_configs_fit_an_80_gb_gpu():
    qwq = plan_step(real_run_train("qwq32b_paper.yaml"), ModelShape.from_config(QWQ_32B), 80)
    assert qwq.fits, qwq.table("qwq32b")
    small = plan_step(real_run_train("r1_distill_1p5b.yaml"), ModelShape.from_config(R1_1P5B), 80)
    assert small.fits and 35 < small.total_gb < 48, small.table("1.5B")  # not "24 GB": logits dominate


def test_the_train_stage_prints_the_plan_and_refuses_before_any_worker(tmp_path, capsys):
    import json

    model = tmp_path / "qwq"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(QWQ_32B))
    config = load_config(
        TrainConfig,
        None,
        [f"model={model}", "placement.device=gpu", "placement.count=16", "bf16=true", "deepspeed=zero3"]
        + ["max_length=16384", "per_device_batch_size=1", "gradient_checkpointing=true"],
    )
    with pytest.raises(
        ConfigError, match=r"needs ~\d+ GB per GPU, more than gpu_memory_gb=80.*zero3_offload_optimizer"
    ):
        check_memory_plan(config)
    assert "total per GPU" in capsys.readouterr().out
    check_memory_plan(config.model_copy(update={"gpu_memory_gb": 141.0}))  # an H200 holds it
