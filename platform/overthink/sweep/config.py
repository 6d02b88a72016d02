"""Config of the sweep stage: a base train config, the search space over its keys, the dev set
(an evaluate config) and how the winner is chosen and registered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from overthink.config import Section, Settings, wiring_of
from overthink.evaluate.config import EvaluateSettings
from overthink.runtime.config import Runtime
from overthink.sweep.space import validate_search_space
from overthink.train.config import TrainSettings


class PlateauConfig(Section):
    top: int = Field(3, ge=2, description="How many of the best trials to watch.")
    std: float = Field(
        1.0,
        gt=0,
        description="Stop when their objective's standard deviation (token-reduction points) falls below this.",
    )
    patience: int = Field(2, ge=0, description="Trials to wait after the plateau is reached.")


class SearchConfig(Section):
    """What to search over and how Tune searches it."""

    space: dict[str, Any] = Field(
        default_factory=dict,
        description="Train-config keys to search (dotted, e.g. loss, strategy, beta, simpo_gamma, learning_rate), each "
        "{grid: [...]}, {choice: [...]}, {uniform: [lo, hi]}, {loguniform: [lo, hi]}, {randint: [lo, hi]} or a fixed "
        "value.",
    )
    algorithm: Literal["grid", "random", "optuna"] = Field(
        "grid",
        description="grid: every grid point (× num_samples draws of the other distributions); random: num_samples "
        "draws; optuna: num_samples trials chosen by Optuna's TPE from the results so far (grid lists become choices).",
    )
    seed: int = Field(0, description="Seed of random draws and of Optuna's sampler.")
    num_samples: int = Field(
        1, ge=1, description="Tune's num_samples: repeats of the grid, or the number of random draws."
    )
    max_concurrent_trials: int = Field(
        1, ge=1, description="Trials running at once (each runs its own Ray Train workers)."
    )
    trial_cpus: float = Field(
        0.01,
        gt=0,
        description="CPUs the trial's driver reserves (it only waits on its Ray Train workers and vLLM engine).",
    )
    time_budget_s: float | None = Field(
        None, gt=0, description="Stop starting trials after this many seconds; null = none."
    )
    plateau: PlateauConfig | None = Field(
        None,
        description="Early stop: end the sweep once the best trials' objective stops moving (Tune's "
        "ExperimentPlateauStopper).",
    )
    tolerance: float = Field(
        0.02,
        ge=0,
        le=1,
        description="The champion's accuracy may fall at most this much (a fraction) below the base model's.",
    )

    @field_validator("space")
    @classmethod
    def _typed_space(cls, raw: dict) -> dict:
        """Every dimension checked against the train settings now, before any Ray work."""
        return validate_search_space(raw, TrainSettings)


class SweepSettings(Settings):
    """The trials' base train settings, the search over them, the dev set, and the champion's name."""

    train: TrainSettings = Field(default_factory=TrainSettings, description="Base train settings of every trial.")
    evaluate: EvaluateSettings = Field(
        default_factory=EvaluateSettings, description="The dev set and how to sample and analyze it."
    )
    search: SearchConfig = Field(default_factory=SearchConfig, description="Search space and Tune settings.")
    register_as: str | None = Field(
        "overthink",
        description="Registered model name in MLflow for the champion (alias `champion`); null = do not register.",
    )

    @model_validator(mode="after")
    def _some_space(self):
        if not self.search.space:
            raise ValueError("search.space: give at least one train key to search, e.g. {loss: {grid: [simpo, dpo]}}")
        return self


class SweepConfig(Runtime, SweepSettings):
    """The sweep stage: settings plus the pairs, the base model, its baseline and the output folder."""

    pairs: str | None = Field(None, description="pairs.parquet (holding every strategy the space names).")
    model: str | None = Field(
        None, description="Base model every trial starts from: a HF folder, hub id or `organism`."
    )
    output_dir: str | None = Field(
        None, description="Folder for base/, trials/<id>/{train,evaluate}, summary.md and the Pareto plot."
    )
    baseline: str | None = Field(
        None,
        description="The base model's `overthink evaluate` output on the dev set; null = evaluate the base model "
        "first.",
    )


wiring_of(SweepConfig, SweepSettings)
