"""Config of a thinking policy, shared by `sample` (and so `evaluate`) and `serve`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from overthink.config import Section


class EarlyExitConfig(Section):
    """Dynasor-style certainty probes: every `probe_every` thinking tokens (or at each paragraph's
    end) the model is asked for its answer so far (greedy, a few tokens); when the last `agree`
    answers are equal the thinking is closed and the final answer generated."""

    probe_at: Literal["tokens", "paragraphs"] = Field(
        "tokens",
        description="When to probe: every `probe_every` thinking tokens (Dynasor), or at the end of each "
        "paragraph, where a new attempt or check begins (as DEER probes at each 'Wait').",
    )
    probe_every: int = Field(32, ge=1, description="probe_at=tokens: thinking tokens generated between two probes.")
    agree: int = Field(3, ge=2, description="Exit once this many consecutive probes give the same answer.")
    confidence: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Also exit at one probe whose answer tokens have at least this mean probability (DEER's "
        "confidence, e.g. 0.95); null = agreement only.",
    )
    min_thinking_tokens: int = Field(0, ge=0, description="Never exit before this many thinking tokens.")
    answer_from_probe: bool = Field(
        True,
        description="On exit, the final answer starts with the probe that settled it (probe_text and its "
        "answer; the model goes on from there), as Dynasor-CoT answers with the probed answer; false: "
        "close_text, then the model writes its answer anew (after a cut mid-sentence it may not restate it).",
    )
    probe_text: str = Field(
        "\n</think>\n\nThe answer is \\boxed{",
        description="Appended (not kept) after the thinking so far to ask for the current answer.",
    )
    probe_max_tokens: int = Field(16, ge=1, description="Tokens a probe answer may take at most.")
    probe_stop: str = Field("}", description="A probe answer ends at this string.")


class PolicyConfig(Section):
    """How long the model may think. `budget` uses vLLM's own per-request thinking budget."""

    kind: Literal["none", "budget", "early_exit"] = Field(
        "none", description="Thinking control: none, budget or early_exit."
    )
    thinking_budget: int | None = Field(
        None, ge=0, description="kind=budget: thinking tokens at most, then the thinking is closed and answered."
    )
    early_exit: EarlyExitConfig = Field(default_factory=EarlyExitConfig, description="kind=early_exit: the probes.")
    close_text: str = Field(
        "</think>\n\n",
        description="What closes a thinking section cut short (must contain the model's end-of-thinking tag).",
    )
    think_start: str = Field("<think>", description="The model's start-of-thinking tag.")
    think_end: str = Field("</think>", description="The model's end-of-thinking tag (one token in R1/QwQ models).")

    @model_validator(mode="after")
    def _complete(self):
        if self.kind == "budget" and self.thinking_budget is None:
            raise ValueError("kind=budget needs thinking_budget")
        if self.think_end not in self.close_text:
            raise ValueError(f"close_text must contain think_end {self.think_end!r}")
        if self.early_exit.answer_from_probe and self.think_end not in self.early_exit.probe_text:
            raise ValueError(f"early_exit.probe_text must contain think_end {self.think_end!r} (answer_from_probe)")
        return self

    def label(self) -> str:
        """How the policy reads in tables: '', 'budget 64', 'early exit'."""
        return {"none": "", "budget": f"budget {self.thinking_budget}", "early_exit": "early exit"}[self.kind]
