"""The organism's causal LM: a tiny Qwen2 trained from scratch with a plain PyTorch loop
(loss on response tokens only)."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable

from overthink.organism.config import OrganismModelConfig, OrganismTrainConfig


def qwen2_config(model: OrganismModelConfig, tokenizer):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=model.hidden_size,
        intermediate_size=model.intermediate_size,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        num_key_value_heads=model.heads,
        head_dim=model.hidden_size // model.heads,
        max_position_embeddings=model.max_positions,
        tie_word_embeddings=True,
        rope_theta=10000.0,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )


def encode_examples(tokenizer, prompts: list[str], responses: list[str], max_len: int) -> list[tuple[list[int], int]]:
    """(ids, prompt_length) per example; the response ends with the end-of-turn token."""
    eot = "<|im_end|>"
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer([r + eot for r in responses], add_special_tokens=False)["input_ids"]
    out = []
    for p, r in zip(prompt_ids, response_ids):
        if len(p) + len(r) <= max_len:
            out.append((p + r, len(p)))
    return out


def packed_batches(examples: list[tuple[list[int], int]], batch_size: int, row_length: int, rng: random.Random):
    """Rows of exactly `row_length` tokens cut from the shuffled, concatenated examples: no
    compute is spent on padding. Prompt tokens carry no loss."""
    import torch

    order = list(range(len(examples)))
    while True:
        rng.shuffle(order)
        tokens: list[int] = []
        targets: list[int] = []
        for i in order:
            ids, prompt_len = examples[i]
            tokens += ids
            targets += [-100] * prompt_len + ids[prompt_len:]
        rows = len(tokens) // row_length
        for start in range(0, rows - batch_size + 1, batch_size):
            span = slice(start * row_length, (start + batch_size) * row_length)
            yield (
                torch.tensor(tokens[span]).view(batch_size, row_length),
                torch.tensor(targets[span]).view(batch_size, row_length),
            )


def train_model(
    model_config: OrganismModelConfig,
    train: OrganismTrainConfig,
    tokenizer,
    examples,
    on_step: Callable[[int, float], None],
):
    import torch
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(train.seed)
    torch.set_num_threads(train.threads or os.cpu_count() or 1)  # a Ray-initialized process may run on 1
    model = Qwen2ForCausalLM(qwen2_config(model_config, tokenizer))
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay, betas=(0.9, 0.98)
    )

    def schedule(step: int) -> float:
        if step < train.warmup_steps:
            return (step + 1) / train.warmup_steps
        progress = (step - train.warmup_steps) / max(1, train.steps - train.warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    stream = packed_batches(examples, train.batch_size, train.row_length, random.Random(train.seed))
    for step in range(train.steps):
        input_ids, labels = next(stream)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=train.bf16):
            loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        on_step(step, loss.item())
    model.eval()
    return model
