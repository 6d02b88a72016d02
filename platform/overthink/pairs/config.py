"""Config of the pairs stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from overthink.config import Settings, registered, wiring_of
from overthink.pairs.strategies import STRATEGIES
from overthink.runtime.config import Runtime
from overthink.sample.config import PromptConfig


class PairsSettings(Settings):
    """Which positives and negatives make the preference pairs."""

    strategies: list[registered(STRATEGIES)] = Field(
        default_factory=lambda: ["fcs_reflection"],
        description=f"Positive strategies ({', '.join(STRATEGIES.names())}): shortest, fcs, fcs_reflection, gds are "
        "the "
        "paper's; difficulty sets a length budget by problem difficulty.",
    )
    negative: Literal["longest_correct", "longest"] = Field(
        "longest_correct",
        description="Negative: the longest correct response (the paper drops wrong responses first) or the longest of "
        "all.",
    )
    short_incorrect_pairs: bool = Field(
        False,
        description="Also pair a problem's shortest response, when it is wrong, with the next-longer correct one "
        "(kind `short_incorrect`).",
    )
    difficulty_scale: float = Field(
        1.0,
        ge=0,
        description="difficulty: budget = FCS tokens + scale × (1 − sample accuracy) × (median correct tokens − FCS "
        "tokens).",
    )
    min_token_gap: int = Field(1, ge=0, description="Keep a pair only if chosen is at least this many tokens shorter.")
    prompt: PromptConfig = Field(
        default_factory=PromptConfig, description="Prompt construction for rows without `prompt`."
    )
    force: bool = Field(False, description="Recompute even if the output holds these pairs already.")

    @model_validator(mode="before")
    @classmethod
    def _strategies_from_string(cls, data):
        """`strategies: fcs,gds` (or `--strategies fcs,gds`) reads as a list."""
        if not isinstance(data, dict):
            return data
        strategies = data.get("strategies")
        if isinstance(strategies, str):
            strategies = [strategies]
        if isinstance(strategies, list):
            data = {
                **data,
                "strategies": [part.strip() for item in strategies for part in str(item).split(",") if part.strip()],
            }
        return data

    @model_validator(mode="after")
    def _some_strategy(self):
        if not self.strategies:
            raise ValueError("strategies: give at least one of " + ", ".join(STRATEGIES.names()))
        return self


class PairsConfig(Runtime, PairsSettings):
    """The pairs stage: settings plus the analyzed inputs, the prompt tokenizer and the output."""

    input: list[str] = Field(default_factory=list, description="analyzed.parquet files or analysis folders.")
    output_dir: str | None = Field(None, description="Folder for pairs.parquet.")
    tokenizer: str | None = Field(
        None,
        description="Tokenizer (folder, hub id or `organism`) whose chat template builds prompts for rows without a "
        "`prompt` column.",
    )

    @model_validator(mode="before")
    @classmethod
    def _input_from_string(cls, data):
        if isinstance(data, dict) and isinstance(data.get("input"), str):
            data = {**data, "input": [data["input"]]}
        return data


wiring_of(PairsConfig, PairsSettings)
