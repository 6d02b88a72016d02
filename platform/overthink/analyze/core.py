"""The analyzer: records in, analyzed rows out. Plain Python; the Ray adapter wraps it."""

from __future__ import annotations

from collections import Counter

from overthink.analyze.budget import NO_DEADLINE, Deadline, RowTimeout
from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.distinct import JUDGES
from overthink.analyze.extract import extract_answer, final_answer, is_choice_gold, looks_cut_off
from overthink.analyze.grade import Grader
from overthink.analyze.metrics import response_metrics
from overthink.analyze.segment import SEGMENTERS
from overthink.analyze.thinking import split_thinking
from overthink.analyze.tokens import TokenCounter, tokens_before

SKIP_FLAGS = ("empty_response", "non_text_response", "too_long", "response_list_not_single")


class Analyzer:
    """Holds the per-worker state (tokenizer, grade cache, segmenter, judge) and analyzes records."""

    def __init__(self, config: AnalyzeConfig):
        self.config = config
        self.stats: Counter = Counter()
        self.tokens = TokenCounter(config.tokenizer)
        self.grader = Grader(config.grade.timeout_s, config.grade.cache_size)
        self.judge = JUDGES.get(config.distinct.method)(config, self.stats)
        self.segmenter = SEGMENTERS.get(config.segment.method)(config, self.stats, self.grader)

    def analyze(self, records: list[dict]) -> list[dict]:
        for record in records:
            if len(record["response"]) > self.config.max_response_chars:
                record["flags"].append("too_long")
        live = [r for r in records if not any(f in SKIP_FLAGS for f in r["flags"])]
        starts = dict(zip((id(r) for r in live), self.tokens.starts([r["response"] for r in live])))
        prepare = getattr(self.segmenter, "prepare", None)
        if prepare is not None:  # a judge endpoint: the shard's requests go out together
            try:
                prepare([(r, r["response"], *self.thinking_span(r["response"])) for r in live])
            except Exception as err:  # each row then asks (or falls back) on its own
                self.stats[f"prepare_errors.{type(err).__name__}"] += 1
        out = []
        for record in records:
            if id(record) not in starts:
                out.append(empty_row(record))
                continue
            record["deadline"] = Deadline(self.config.row_timeout_s)
            try:
                out.append(self.analyze_one(record, starts[id(record)]))
            except RowTimeout as err:  # flagged, and the shard goes on
                row = empty_row(record)
                row["flags"].append("row_timeout")
                row["error"] = str(err)
                self.stats["row_timeouts"] += 1
                out.append(row)
            except Exception as err:  # one bad row must not sink a shard of thousands
                row = empty_row(record)
                row["error"] = f"{type(err).__name__}: {err}"[:500]
                self.stats["row_errors"] += 1
                out.append(row)
        return out

    def thinking_span(self, text: str) -> tuple[int, int]:
        parts = split_thinking(
            text, tuple(self.config.thinking.open_markers), tuple(self.config.thinking.close_markers)
        )
        return parts.thinking_start, parts.thinking_end

    def analyze_one(self, record: dict, starts: list[int]) -> dict:
        text, gold, grade = record["response"], record["gold"], self.config.grade
        parts = split_thinking(
            text, tuple(self.config.thinking.open_markers), tuple(self.config.thinking.close_markers)
        )
        solutions = self.segmenter(record, text, parts.thinking_start, parts.thinking_end)
        located = all(s.start >= 0 for s in solutions)
        texts = [text[s.start : s.end] for s in solutions] if located else [str(g) for g in record["given_solutions"]]
        if located:
            sol_tokens = [tokens_before(starts, s.end) - tokens_before(starts, s.start) for s in solutions]
            prefix = [tokens_before(starts, s.end) for s in solutions]
        else:  # given solutions that are not verbatim in the response: count each on its own
            sol_tokens = self.tokens.count(texts)
            prefix = [sum(sol_tokens[: m + 1]) for m in range(len(sol_tokens))]
        choice = grade.answer_format == "choice" or (
            grade.answer_format == "auto" and gold is not None and is_choice_gold(gold)
        )
        answers = [
            s.answer if s.answer is not None and not choice else extract_answer(t, choice)
            for s, t in zip(solutions, texts)
        ]
        deadline = record.get("deadline", NO_DEADLINE)
        if record["given_correct"] is not None and len(record["given_correct"]) == len(solutions):
            correct = list(record["given_correct"])
        else:
            correct = []
            for answer in answers:
                deadline.check("grading")
                correct.append(self.grader(gold, answer))
        distinct = self.judge(texts, record)
        deadline.check("judging distinctness")
        truncated = (
            (record["finish_reason"] == "length")
            or (parts.opened and not parts.closed)
            or (not parts.closed and looks_cut_off(text))
        )
        final = final_answer(
            text[parts.answer_start :] if parts.closed else "",
            text[parts.thinking_start : parts.thinking_end],
            truncated,
            choice,
            grade.fallback_last_number,
        )
        if truncated and final is None:
            record["flags"].append("truncated_no_final_answer")
        metrics = response_metrics(len(starts), sol_tokens, prefix, correct, distinct)
        graded = gold is not None
        return {
            **base_row(record),
            "solutions": [
                {
                    "text": t,
                    "start": s.start if located else None,
                    "end": s.end if located else None,
                    "tokens": n,
                    "answer": a,
                    "correct": c if graded else None,
                    "distinct": d,
                }
                for s, t, n, a, c, d in zip(solutions, texts, sol_tokens, answers, correct, distinct)
            ],
            "thinking_end": parts.thinking_end if parts.closed else None,
            "num_tokens": len(starts),
            "final_answer": final,
            "correct": self.grader(gold, final) if graded else None,
            "truncated": truncated,
            **metrics,
            **(
                {}
                if graded
                else {
                    "any_correct": None,
                    "first_correct_index": None,
                    "outcome_efficiency": None,
                    "additional_solutions": None,
                    "additional_tokens": None,
                }
            ),
            "flags": record["flags"],
            "error": None,
        }


def base_row(record: dict) -> dict:
    keys = (
        "source_file",
        "source_row",
        "problem_id",
        "dataset",
        "level",
        "problem",
        "response",
        "gold",
        "finish_reason",
    )
    return {**{key: record[key] for key in keys}, "prompt": record.get("prompt")}


def empty_row(record: dict) -> dict:
    """A row that could not be analyzed: identity kept, metrics null, reason in `flags`/`error`."""
    return {
        **base_row(record),
        "solutions": [],
        "thinking_end": None,
        "num_tokens": None,
        "final_answer": None,
        "correct": None,
        "truncated": None,
        "num_solutions": None,
        "first_correct_index": None,
        "any_correct": None,
        "outcome_efficiency": None,
        "process_efficiency": None,
        "additional_solutions": None,
        "additional_tokens": None,
        "flags": record["flags"],
        "error": None,
    }
