"""`overthink organism build`: corpus -> tokenizer -> tiny Qwen2 -> a Hugging Face checkpoint
folder that transformers and vLLM load. Content-addressed: built once per config, then reused."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from overthink.organism.config import OrganismConfig
from overthink.runtime.models import cache_root

DONE = "organism.json"


def native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (Linux reports it in /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolved(config: OrganismConfig) -> OrganismConfig:
    """The recipe as it will be trained: `train.bf16: null` decided for this CPU."""
    if config.train.bf16 is not None:
        return config
    return config.model_copy(update={"train": config.train.model_copy(update={"bf16": native_bf16()})})


def organism_dir(config: OrganismConfig) -> Path:
    recipe = resolved(config).model_copy(update={"cache_dir": "", "force": False})
    root = Path(config.cache_dir).expanduser() if config.cache_dir else cache_root() / "organism"
    return root / recipe.fingerprint()


def chat_prompt(tokenizer, problem: str, system_prompt: str) -> str:
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": problem}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def build_organism(config: OrganismConfig, progress: bool = True) -> Path:
    """Return the folder of the organism for `config`, building it if it is not cached."""
    from tqdm.auto import tqdm

    config = resolved(config)
    target = organism_dir(config)
    if (target / DONE).exists() and not config.force:
        return target
    from overthink.organism.corpus import generate
    from overthink.organism.model import encode_examples, train_model
    from overthink.organism.tokenizer import train_tokenizer

    started = time.perf_counter()
    data = generate(config.corpus, config.corpus.examples, config.corpus.seed, prefix="train")
    tokenizer = train_tokenizer([p.problem for p, _ in data] + [r for _, r in data], config.model.vocab_size)
    prompts = [chat_prompt(tokenizer, p.problem, config.system_prompt) for p, _ in data]
    examples = encode_examples(tokenizer, prompts, [r for _, r in data], config.model.max_positions)
    losses: list[float] = []
    with tqdm(total=config.train.steps, desc="organism", unit="step", disable=not progress, dynamic_ncols=True) as bar:

        def on_step(step: int, loss: float) -> None:
            losses.append(loss)
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")

        model = train_model(config.model, config.train, tokenizer, examples, on_step)
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    summary = {
        "config": config.model_dump(mode="json"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_examples": len(examples),
        "final_loss": sum(losses[-20:]) / min(20, len(losses)),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (staging / DONE).write_text(json.dumps(summary, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return target


def cli(config: OrganismConfig, action: str) -> str:
    """`overthink organism build`: the organism's folder (built now, or found in the cache)."""
    return f"organism: {build_organism(config).resolve()}\n"
