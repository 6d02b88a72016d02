"""Analyzed responses with known structure (a module fixture the pairs tests import): several
samples per problem, run through the real analyze stage so solution spans come from the analyzer."""

from __future__ import annotations

import json

import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.stage import run_analyze
from overthink.config import load_config

CHECKS = {
    "verify": "Hmm, let me verify this another way. {b} + {a} = {answer}, which matches. That gives {answer} again.",
    "again": "Let me check once more to be sure. Recomputing {a} + {b} = {answer}. Yes, it is {answer}.",
    "estimate": "Alternatively, I can estimate: {answer} - {b} = {a}, which matches. So the answer is {answer}.",
}


def response(a: int, b: int, answer: int, first: int | None = None, checks: tuple[str, ...] = ()) -> str:
    first = answer if first is None else first
    paragraphs = [f"We need {a} + {b}. Adding gives {first}.\n\nSo the answer is {first}."]
    paragraphs += [CHECKS[name].format(a=a, b=b, answer=answer) for name in checks]
    return (
        "<think>\nOkay, let's solve this carefully.\n\n"
        + "\n\n".join(paragraphs)
        + f"\n</think>\n\nThe result of ${a} + {b}$ is $\\boxed{{{answer}}}$."
    )


def record(problem: str, a: int, b: int, text: str) -> dict:
    question = f"Compute {a} + {b}."
    return {
        "problem_id": problem,
        "dataset": "pairs-test",
        "level": "1",
        "problem": question,
        "gold": str(a + b),
        "prompt": f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n",
        "response": text,
    }


def records() -> list[dict]:
    """easy: 4 correct samples of 1-4 solutions. hard: shortest sample wrong, 2 of 4 right.
    none: every sample wrong. untidy: a first wrong solution, then corrections."""
    return [
        record("easy", 12, 30, response(12, 30, 42, checks=("verify", "again", "estimate"))),
        record("easy", 12, 30, response(12, 30, 42, checks=("verify", "again"))),
        record("easy", 12, 30, response(12, 30, 42, checks=("verify",))),
        record("easy", 12, 30, response(12, 30, 42, checks=("verify", "estimate", "again"))),
        record("hard", 25, 17, response(25, 17, 41)),
        record("hard", 25, 17, response(25, 17, 42, checks=("verify", "again", "estimate"))),
        record("hard", 25, 17, response(25, 17, 42, checks=("verify", "again", "estimate", "verify"))),
        record("hard", 25, 17, response(25, 17, 43, checks=("verify",))),
        record("none", 5, 6, response(5, 6, 12)),
        record("none", 5, 6, response(5, 6, 13, checks=("again",))),
        record("untidy", 40, 9, response(40, 9, 49, first=48, checks=("again", "verify", "again"))),
        record("untidy", 40, 9, response(40, 9, 49, first=48, checks=("again", "estimate"))),
    ]


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs-input")
    source = folder / "responses.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records()))
    config = load_config(
        AnalyzeConfig, None, [f"input.path={source}", f"output_dir={folder / 'analysis'}", "mlflow.enabled=false"]
    )
    return run_analyze(config, use_ray=False).output_dir / "analyzed.parquet"
