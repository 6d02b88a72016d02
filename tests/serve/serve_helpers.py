"""What the serve tests share besides fixtures (conftest.py): the served model and its prompts."""

from __future__ import annotations

from overthink.problems.config import ProblemSetConfig
from overthink.problems.loaders import load_problems

MODEL = "organism"


def messages(index: int = 0) -> list[dict]:
    """A held-out organism problem as the organism was trained to see it."""
    from overthink.organism.config import OrganismConfig

    problem = load_problems(ProblemSetConfig(name="organism", split="test", limit=8))[index]
    return [{"role": "system", "content": OrganismConfig().system_prompt}, {"role": "user", "content": problem.problem}]
