"""The analyzer: records in, analyzed rows out. Plain Python; the Ray adapter wraps it."""

from __future__ import annotations

from collections import Counter

from overthink.analyze.config import DEFAULT_THRESHOLDS, AnalyzeConfig
from overthink.analyze.distinct import EmbeddingJudge, LexicalJudge, flags_from_clusters
from overthink.analyze.extract import extract_answer, final_answer, is_choice_gold, looks_cut_off
from overthink.analyze.grade import Grader, same_answer
from overthink.analyze.metrics import response_metrics
from overthink.analyze.segment import Solution, locate_presplit, paragraphs, split_rules, strong_answer
from overthink.analyze.thinking import split_thinking
from overthink.analyze.tokens import TokenCounter, tokens_before

SKIP_FLAGS = ("empty_response", "non_text_response", "too_long", "response_list_not_single")


def make_judge(config: AnalyzeConfig, stats: Counter):
    distinct = config.distinct
    threshold = distinct.resolved_threshold()
    if distinct.method == "embedding":
        return EmbeddingJudge(threshold, distinct.embedding_model)
    if distinct.method == "llm":
        from overthink.analyze.llm_judges import LLMJudge

        return LLMJudge(distinct.llm, LexicalJudge(DEFAULT_THRESHOLDS["lexical"]), stats)
    return LexicalJudge(threshold)  # also the fallback for `clusters` rows without clusters


class Analyzer:
    """Holds the per-worker state (tokenizer, grade cache, judges) and analyzes records."""

    def __init__(self, config: AnalyzeConfig):
        self.config = config
        self.stats: Counter = Counter()
        self.tokens = TokenCounter(config.tokenizer)
        self.grader = Grader(config.grade.timeout_s, config.grade.cache_size)
        self.judge = make_judge(config, self.stats)
        self.splitter = None
        if config.segment.method == "llm":
            from overthink.analyze.llm_judges import LLMSplitter

            self.splitter = LLMSplitter(config.segment.llm, self.stats)

    def analyze(self, records: list[dict]) -> list[dict]:
        for record in records:
            if len(record["response"]) > self.config.max_response_chars:
                record["flags"].append("too_long")
        live = [r for r in records if not any(f in SKIP_FLAGS for f in r["flags"])]
        starts = dict(zip((id(r) for r in live), self.tokens.starts([r["response"] for r in live])))
        out = []
        for record in records:
            if id(record) not in starts:
                out.append(empty_row(record))
                continue
            try:
                out.append(self.analyze_one(record, starts[id(record)]))
            except Exception as err:  # one bad row must not sink a shard of thousands
                row = empty_row(record)
                row["error"] = f"{type(err).__name__}: {err}"[:500]
                self.stats["row_errors"] += 1
                out.append(row)
        return out

    def segment(self, record: dict, text: str, start: int, end: int) -> list[Solution]:
        method = self.config.segment.method
        if method == "presplit" and record["given_solutions"] is not None:
            located = locate_presplit(text, [str(s) for s in record["given_solutions"]], start)
            if located is not None:
                return located
            record["flags"].append("presplit_not_verbatim")
            return [Solution(-1, -1, None) for _ in record["given_solutions"]]
        if method == "llm":
            spans = paragraphs(text, start, end)
            ranges = self.splitter(record["problem"], [text[a:b] for a, b in spans]) if len(spans) > 1 else None
            if ranges is not None:
                return [Solution(spans[a - 1][0], spans[b - 1][1], None) for a, b in ranges]
            if len(spans) > 1:
                record["flags"].append("llm_split_fallback")
        return split_rules(text, start, end, self.anchor_test(record, text, start, end))

    def anchor_test(self, record: dict, text: str, start: int, end: int):
        """Answers this response states outright (boxes, "answer is", its final answer): a
        concluding sentence reaching one of these ends a round."""
        anchors = {a for a in (strong_answer(p) for p in text[start:end].split("\n\n")) if a}
        final = extract_answer(text[end:], False) or extract_answer(text[start:end], False, False)
        if final:
            anchors.add(final)
        return lambda value: any(same_answer(anchor, value) for anchor in anchors)

    def analyze_one(self, record: dict, starts: list[int]) -> dict:
        text, gold, grade = record["response"], record["gold"], self.config.grade
        parts = split_thinking(text, tuple(self.config.thinking.open_markers), tuple(self.config.thinking.close_markers))
        solutions = self.segment(record, text, parts.thinking_start, parts.thinking_end)
        located = all(s.start >= 0 for s in solutions)
        texts = [text[s.start:s.end] for s in solutions] if located else [str(g) for g in record["given_solutions"]]
        if located:
            sol_tokens = [tokens_before(starts, s.end) - tokens_before(starts, s.start) for s in solutions]
            prefix = [tokens_before(starts, s.end) for s in solutions]
        else:  # given solutions that are not verbatim in the response: count each on its own
            sol_tokens = self.tokens.count(texts)
            prefix = [sum(sol_tokens[: m + 1]) for m in range(len(sol_tokens))]
        choice = grade.answer_format == "choice" or (grade.answer_format == "auto" and gold is not None and is_choice_gold(gold))
        answers = [s.answer if s.answer is not None and not choice else extract_answer(t, choice) for s, t in zip(solutions, texts)]
        if record["given_correct"] is not None and len(record["given_correct"]) == len(solutions):
            correct = list(record["given_correct"])
        else:
            correct = [self.grader(gold, a) for a in answers]
        distinct = self.distinct_flags(record, texts)
        truncated = (record["finish_reason"] == "length") or (parts.opened and not parts.closed) or (
            not parts.closed and looks_cut_off(text))
        final = final_answer(text[parts.answer_start:] if parts.closed else "", text[parts.thinking_start:parts.thinking_end],
                             truncated, choice, grade.fallback_last_number)
        if truncated and final is None:
            record["flags"].append("truncated_no_final_answer")
        metrics = response_metrics(len(starts), sol_tokens, prefix, correct, distinct)
        graded = gold is not None
        return {
            **base_row(record),
            "solutions": [
                {"text": t, "start": s.start if located else None, "end": s.end if located else None, "tokens": n,
                 "answer": a, "correct": c if graded else None, "distinct": d}
                for s, t, n, a, c, d in zip(solutions, texts, sol_tokens, answers, correct, distinct)
            ],
            "thinking_end": parts.thinking_end if parts.closed else None,
            "num_tokens": len(starts),
            "final_answer": final,
            "correct": self.grader(gold, final) if graded else None,
            "truncated": truncated,
            **metrics,
            **({} if graded else {"any_correct": None, "first_correct_index": None, "outcome_efficiency": None,
                                  "additional_solutions": None, "additional_tokens": None}),
            "flags": record["flags"],
            "error": None,
        }

    def distinct_flags(self, record: dict, texts: list[str]) -> list[bool]:
        clusters = record["given_clusters"]
        if self.config.distinct.method == "clusters" and clusters is not None and len(clusters) == len(texts):
            return flags_from_clusters(clusters)
        if self.config.distinct.method == "clusters":
            record["flags"].append("clusters_mismatch")
        flags = self.judge(texts, record["problem"])
        if getattr(self.judge, "fell_back", False):
            record["flags"].append("llm_cluster_fallback")
        return flags


def base_row(record: dict) -> dict:
    keys = ("source_file", "source_row", "problem_id", "dataset", "level", "problem", "response", "gold", "finish_reason")
    return {**{key: record[key] for key in keys}, "prompt": record.get("prompt")}


def empty_row(record: dict) -> dict:
    """A row that could not be analyzed: identity kept, metrics null, reason in `flags`/`error`."""
    return {**base_row(record), "solutions": [], "thinking_end": None, "num_tokens": None, "final_answer": None, "correct": None,
            "truncated": None, "num_solutions": None, "first_correct_index": None, "any_correct": None,
            "outcome_efficiency": None, "process_efficiency": None, "additional_solutions": None,
            "additional_tokens": None, "flags": record["flags"], "error": None}
