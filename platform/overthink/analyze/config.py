"""Config of the analyze stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from overthink.analyze.distinct import JUDGES
from overthink.analyze.segment import SEGMENTERS
from overthink.config import Section, Settings, registered, wiring_of
from overthink.runtime.config import Runtime


class Columns(Section):
    problem: str = Field("problem", description="Column with the problem text.")
    response: str = Field("response", description="Column with the response (a string, or a one-item list).")
    prompt: str | None = Field(
        "prompt", description="Column with the exact prompt the model saw (used if present; pairs keep it)."
    )
    gold: str | None = Field("gold", description="Column with the gold answer; null = ungraded.")
    dataset: str | None = Field("dataset", description="Column naming each row's dataset (used if present).")
    level: str | None = Field("level", description="Column with a difficulty level (used if present).")
    problem_id: str | None = Field("problem_id", description="Column identifying the problem (used if present).")
    solutions: str | None = Field(
        None, description="Column with pre-split solutions (a list), for segment.method=presplit."
    )
    solution_clusters: str | None = Field(
        None, description="Column with per-solution strategy cluster ids, for distinct.method=clusters."
    )
    solution_correct: str | None = Field(
        None, description="Column with given per-solution correctness (bools or {'correct': bool}); overrides grading."
    )
    finish_reason: str | None = Field(
        "finish_reason", description="Column with the sampler's finish reason (used if present)."
    )


class InputConfig(Section):
    path: list[str] = Field(default_factory=list, description="Input files, folders or globs (JSONL or Parquet).")
    format: Literal["auto", "jsonl", "parquet"] = Field("auto", description="Input format; auto = by file extension.")
    columns: Columns = Field(default_factory=Columns, description="Column mapping.")
    dataset_name: str | None = Field(
        None, description="Dataset name for rows without a dataset column; null = file stem."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_path(cls, data):
        if isinstance(data, dict) and isinstance(data.get("path"), str):
            data = {**data, "path": [data["path"]]}
        return data


class ThinkingConfig(Section):
    open_markers: list[str] = Field(
        ["<think>", "<|begin_of_thought|>"], description="Tags that open the thinking part."
    )
    close_markers: list[str] = Field(
        ["</think>", "<|end_of_thought|>"], description="Tags that close the thinking part."
    )


class EndpointConfig(Section):
    base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint (e.g. a vLLM server).")
    model: str = Field("judge", description="Model name to request.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (may be unset).")
    timeout_s: float = Field(60.0, gt=0, description="Request timeout in seconds.")
    max_retries: int = Field(2, ge=0, description="Retries per request on connection errors.")
    max_tokens: int = Field(2048, ge=1, description="Completion token limit for a judgement.")


class SegmentConfig(Section):
    method: registered(SEGMENTERS) = Field(
        "rules", description=f"How to split responses into solutions: {', '.join(SEGMENTERS.names())}."
    )
    llm: EndpointConfig = Field(default_factory=EndpointConfig, description="Judge endpoint for method=llm.")
    concurrency: int = Field(16, ge=1, description="method=llm: judge requests in flight at once, per worker.")
    steps_per_request: int = Field(
        50, ge=2, description="method=llm: paragraphs per splitting request (longer thinking goes in windows)."
    )
    judge_steps: bool = Field(
        True,
        description="method=llm: second stage, asking of each paragraph inside a solution whether it states the "
        "answer (one short request per paragraph).",
    )
    cache_dir: str | None = Field(
        None,
        description="method=llm: folder caching finished splits by (thinking, question, judge); null = in memory. "
        "On a cluster, a folder every node shares.",
    )


class GradeConfig(Section):
    timeout_s: int = Field(5, ge=1, description="math-verify timeout per parse/verify call, in seconds.")
    answer_format: Literal["auto", "math", "choice"] = Field(
        "auto", description="math = math-verify; choice = a letter (GPQA); auto = choice when the gold is a letter."
    )
    fallback_last_number: bool = Field(
        True, description="When a finished response states no answer, take its last number as the final answer."
    )
    cache_size: int = Field(65536, ge=0, description="Cached (gold, prediction) grades per worker.")


class DistinctConfig(Section):
    method: registered(JUDGES) = Field(
        "lexical", description=f"Judge of whether a solution adds a new strategy: {', '.join(JUDGES.names())}."
    )
    threshold: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Similarity at or above which a solution repeats an earlier one; null = the judge's default.",
    )
    embedding_model: str | None = Field(None, description="Sentence-embedding model path; null = the bundled MiniLM.")
    llm: EndpointConfig = Field(default_factory=EndpointConfig, description="Endpoint for method=llm.")

    def resolved_threshold(self) -> float:
        return (
            self.threshold
            if self.threshold is not None
            else DEFAULT_THRESHOLDS.get(self.method, DEFAULT_THRESHOLDS["lexical"])
        )


DEFAULT_THRESHOLDS = {"lexical": 0.15, "embedding": 0.9}  # lexical: best fit to the paper authors' clusters


class ReportConfig(Section):
    bootstrap_samples: int = Field(1000, ge=0, description="Bootstrap resamples for 95% intervals (0 = none).")
    seed: int = Field(0, description="Seed of the bootstrap.")
    plots: bool = Field(True, description="Write PNG plots.")


class AnalyzeSettings(Settings):
    """How responses are split, graded, judged and summarized."""

    thinking: ThinkingConfig = Field(default_factory=ThinkingConfig, description="Thinking-part tags.")
    segment: SegmentConfig = Field(default_factory=SegmentConfig, description="Solution segmentation.")
    grade: GradeConfig = Field(default_factory=GradeConfig, description="Answer extraction and grading.")
    distinct: DistinctConfig = Field(default_factory=DistinctConfig, description="Distinctness judging.")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Tables, intervals and plots.")
    max_response_chars: int = Field(
        2_000_000, ge=1, description="Longer responses are flagged `too_long` and not analyzed."
    )
    row_timeout_s: float | None = Field(
        120.0,
        gt=0,
        description="Seconds one row may take to analyze (splitting, grading, judging); a row over it is flagged "
        "`row_timeout` with its error and the shard goes on. null = no bound.",
    )
    rows_per_shard: int = Field(
        500, ge=1, description="Input rows per shard (one Ray Data map call; the unit of resume)."
    )
    actors: int | None = Field(
        None, ge=1, description="Analysis actors; null = one per CPU of the cluster (at most the shard count)."
    )
    cpus_per_actor: float = Field(
        0.9,
        gt=0,
        description="CPUs each analysis actor reserves; fractional so Ray Data's own tasks still fit on small "
        "machines.",
    )
    force: bool = Field(False, description="Recompute even if the output folder holds a finished run of this config.")


class AnalyzeConfig(Runtime, AnalyzeSettings):
    """The analyze stage: settings plus what to read, with whose tokenizer, and where results go."""

    input: InputConfig = Field(default_factory=InputConfig, description="What to read.")
    output_dir: str | None = Field(None, description="Folder for analyzed.parquet and metrics.json.")
    tokenizer: str | None = Field(
        None,
        description="Tokenizer of the evaluated model (folder, hub id, `organism` or MLflow model URI); "
        "null = approximate word count.",
    )
    name: str = Field("model", description="Name of the evaluated model in tables.")

    @model_validator(mode="after")
    def _consistent(self):
        if self.segment.method == "presplit" and not self.input.columns.solutions:
            raise ValueError("segment.method=presplit needs input.columns.solutions")
        if self.distinct.method == "clusters" and not self.input.columns.solution_clusters:
            raise ValueError("distinct.method=clusters needs input.columns.solution_clusters")
        return self


wiring_of(AnalyzeConfig, AnalyzeSettings)
