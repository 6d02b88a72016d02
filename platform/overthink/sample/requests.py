"""Pure core of sampling: problems -> chat prompts -> one request per (problem, sample) with its
own seed; responses -> rows of the samples dataset (which `overthink analyze` reads as is)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pyarrow as pa

from overthink.problems.gpqa import LETTERS, reshuffle, with_choices
from overthink.problems.schema import Problem
from overthink.sample.config import PromptConfig

SAMPLES = pa.schema(
    [
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
        ("engine_replica", pa.string()),  # the engine actor that generated the row
        ("engine_node", pa.string()),  # and the Ray node it ran on
        ("thinking_stopped_at", pa.int32()),  # generated tokens when a thinking policy closed the thinking
        ("probe_tokens", pa.int32()),  # tokens the policy's probes generated (compute, not output)
    ]
)


def sample_seed(base: int, problem_id: str, sample_index: int) -> int:
    """A stable 31-bit seed per (base seed, problem, sample): distinct, and independent of order."""
    digest = hashlib.sha256(f"{base}:{problem_id}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def user_message(problem: Problem, prompt: PromptConfig) -> str:
    return question_message(
        with_choices(problem.problem, problem.choices) if problem.choices else problem.problem, prompt
    )


def question_message(text: str, prompt: PromptConfig) -> str:
    return f"{text}\n\n{prompt.answer_instruction}".strip()


def chat_prompt(tokenizer, problem: Problem, prompt: PromptConfig) -> str:
    return chat_prompt_of(tokenizer, user_message(problem, prompt), prompt)


def chat_prompt_of(tokenizer, user: str, prompt: PromptConfig) -> str:
    """The model's chat prompt for one user message (the question as the user sees it)."""
    messages = [{"role": "user", "content": user}]
    if prompt.system_prompt:
        messages.insert(0, {"role": "system", "content": prompt.system_prompt})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def expand(
    problems: list[Problem],
    make_prompt: Callable[[Problem], str],
    n: int,
    base_seed: int,
    done: set[tuple[str, int]] = frozenset(),
) -> list[dict]:
    """One request per (problem, sample index) not yet `done`. Multiple-choice problems get
    their options in a fresh order per sample (seeded by the sample), and the gold letter follows."""
    requests, prompts = [], {}
    for problem in problems:
        for index in range(n):
            if (problem.problem_id, index) in done:
                continue
            seed = sample_seed(base_seed, problem.problem_id, index)
            lettered = problem.choices and len(problem.gold) == 1 and problem.gold in LETTERS[: len(problem.choices)]
            shown = reshuffle(problem, seed) if lettered else problem
            key = (shown.problem_id, tuple(shown.choices or ()))
            if key not in prompts:
                prompts[key] = make_prompt(shown)
            requests.append(
                {
                    "problem_id": problem.problem_id,
                    "dataset": problem.dataset,
                    "level": problem.level,
                    "problem": user_message_text(shown),
                    "gold": shown.gold,
                    "sample_index": index,
                    "seed": seed,
                    "prompt": prompts[key],
                }
            )
    return requests


def user_message_text(problem: Problem) -> str:
    """The problem as shown to the model (with its lettered options), recorded with each sample."""
    return with_choices(problem.problem, problem.choices) if problem.choices else problem.problem


ENGINE_COLUMNS = ["engine_startup_s", "engine_ready_at"]


def add_generations(
    batch: pa.Table, generations, model_name: str, replica: str, node: str, startup_s: float, ready_at: float
) -> pa.Table:
    """The request rows with their responses: the samples schema plus the engine's start-up time
    and when it became ready (dropped before writing)."""
    rows = batch.to_pylist()
    for row, generation in zip(rows, generations):
        row.update(
            model=model_name,
            engine_replica=replica,
            engine_node=node,
            response=generation.text,
            num_generated_tokens=generation.num_tokens,
            finish_reason=generation.finish_reason,
            thinking_stopped_at=generation.stopped_at,
            probe_tokens=generation.probe_tokens,
        )
    table = pa.Table.from_pylist(rows, schema=SAMPLES)
    table = table.append_column("engine_startup_s", pa.array([startup_s] * len(rows), pa.float64()))
    return table.append_column("engine_ready_at", pa.array([ready_at] * len(rows), pa.float64()))
