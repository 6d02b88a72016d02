"""Pure core of sampling: problems -> chat prompts -> one request per (problem, sample) with its
own seed; responses -> rows of the samples dataset (which `overthink analyze` reads as is)."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from overthink.problems.schema import Problem
from overthink.sample.config import PromptConfig

SAMPLES = pa.schema([
    ("problem_id", pa.string()),
    ("dataset", pa.string()),
    ("level", pa.string()),
    ("problem", pa.string()),
    ("gold", pa.string()),
    ("sample_index", pa.int32()),
    ("seed", pa.int64()),
    ("model", pa.string()),
    ("prompt", pa.string()),
    ("response", pa.string()),
    ("num_generated_tokens", pa.int32()),
    ("finish_reason", pa.string()),
])


def sample_seed(base: int, problem_id: str, sample_index: int) -> int:
    """A stable 31-bit seed per (base seed, problem, sample): distinct, and independent of order."""
    digest = hashlib.sha256(f"{base}:{problem_id}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def user_message(problem: Problem, prompt: PromptConfig) -> str:
    text = problem.problem
    if problem.choices:
        letters = "ABCDEFGHIJ"
        if not any(f"({letters[i]})" in text for i in range(len(problem.choices))):
            text += "\n\n" + "\n".join(f"({letters[i]}) {choice}" for i, choice in enumerate(problem.choices))
    return f"{text}\n\n{prompt.answer_instruction}".strip()


def chat_prompt(tokenizer, problem: Problem, prompt: PromptConfig) -> str:
    messages = [{"role": "user", "content": user_message(problem, prompt)}]
    if prompt.system_prompt:
        messages.insert(0, {"role": "system", "content": prompt.system_prompt})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def expand(problems: list[Problem], prompts: list[str], n: int, base_seed: int, done: set[tuple[str, int]] = frozenset()) -> list[dict]:
    """One request per (problem, sample index) not yet `done`."""
    requests = []
    for problem, prompt in zip(problems, prompts):
        for index in range(n):
            if (problem.problem_id, index) in done:
                continue
            requests.append({
                "problem_id": problem.problem_id, "dataset": problem.dataset, "level": problem.level,
                "problem": problem.problem, "gold": problem.gold, "sample_index": index,
                "seed": sample_seed(base_seed, problem.problem_id, index), "prompt": prompt,
            })
    return requests


ENGINE_COLUMNS = ["engine_startup_s", "engine_ready_at"]


def add_generations(batch: pa.Table, generations, model_name: str, startup_s: float, ready_at: float) -> pa.Table:
    """The request rows with their responses: the samples schema plus the engine's start-up time
    and when it became ready (dropped before writing)."""
    rows = batch.to_pylist()
    for row, generation in zip(rows, generations):
        row.update(model=model_name, response=generation.text, num_generated_tokens=generation.num_tokens,
                   finish_reason=generation.finish_reason)
    table = pa.Table.from_pylist(rows, schema=SAMPLES)
    table = table.append_column("engine_startup_s", pa.array([startup_s] * len(rows), pa.float64()))
    return table.append_column("engine_ready_at", pa.array([ready_at] * len(rows), pa.float64()))
