"""Building the organism for real (a small recipe, seconds): tokenizer, checkpoint, cache."""

import time

import pytest

from overthink.organism.build import build_organism, chat_prompt
from overthink.organism.config import OrganismConfig

pytestmark = pytest.mark.slow

SMALL = {"corpus": {"examples": 600}, "train": {"steps": 12, "batch_size": 4, "row_length": 256}}


@pytest.fixture(scope="module")
def small_organism(tmp_path_factory):
    config = OrganismConfig.model_validate({**SMALL, "cache_dir": str(tmp_path_factory.mktemp("organism"))})
    return config, build_organism(config, progress=False)


def test_checkpoint_is_a_normal_hugging_face_folder(small_organism):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config, path = small_organism
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert type(tokenizer).__name__ == "Qwen2Tokenizer" and model.config.model_type == "qwen2"
    assert model.config.head_dim == 64  # a head size vLLM's CPU attention supports
    prompt = chat_prompt(tokenizer, "What is 12+30?", config.system_prompt)
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5 or int(out[0, -1]) == tokenizer.eos_token_id


def test_tokenizer_survives_reload_and_keeps_think_tags(small_organism):
    from transformers import AutoTokenizer

    from overthink.organism.corpus import generate

    config, path = small_organism
    tokenizer = AutoTokenizer.from_pretrained(path)
    _, response = generate(config.corpus, 1, seed=99)[0]
    ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids[:1]) == ["<think>"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == response  # tags are not "special"
    digits = tokenizer.convert_ids_to_tokens(tokenizer("1234", add_special_tokens=False)["input_ids"])
    assert digits == ["1", "2", "3", "4"]


def test_built_once_then_reused(small_organism):
    config, path = small_organism
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    assert build_organism(config, progress=False) == path
    assert time.perf_counter() - started < 5 and (path / "model.safetensors").stat().st_mtime_ns == stamp
    other = config.model_copy(update={"train": config.train.model_copy(update={"seed": 1})})
    assert build_organism(other, progress=False) != path  # another recipe, another folder


def test_same_recipe_same_weights(small_organism, tmp_path):
    config, path = small_organism
    again = build_organism(config.model_copy(update={"cache_dir": str(tmp_path)}), progress=False)
    assert again != path
    assert (again / "model.safetensors").read_bytes() == (path / "model.safetensors").read_bytes()
    assert (again / "tokenizer.json").read_text() == (path / "tokenizer.json").read_text()
