"""Split the thinking part of a response into solutions (rounds). Pluggable by name in
`SEGMENTERS`: `rules` (default), `presplit` (the input gives them) and `llm` (in `llm_judges`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from overthink.analyze.extract import (
    answer_phrase,
    clean_value,
    conclusion_value,
    extract_answer,
    last_boxed,
    sentences,
)
from overthink.analyze.grade import same_answer
from overthink.registry import Registry

if TYPE_CHECKING:
    from overthink.analyze.config import AnalyzeConfig

# A paragraph that opens like these starts a new round once an answer has been reached.
_RESTART = re.compile(
    r"^\W*(?:wait|hmm+|hold on|alternatively|but wait|but let me|let me (?:double[- ]?check|check|verify|"
    r"re-?check|confirm|think again|try|see|make sure|consider|recalculate|re-?examine|approach)|"
    r"let's (?:double[- ]?check|check|verify|confirm|try|see|make sure|consider)|to (?:double[- ]?check|"
    r"verify|confirm|be sure|be thorough)|just to|another (?:way|approach|method)|double[- ]?check|verif|"
    r"i (?:should|could|can|will|might|want to) (?:double[- ]?check|check|verify|confirm|also|try)|"
    r"actually|on second thought|however|maybe i should|is there another|what if|i (?:wonder|"
    r"need to check))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Solution:
    """One round: its span in the response (start, end) and the answer it reaches."""

    start: int
    end: int
    answer: str | None


def paragraphs(text: str, offset: int, end: int) -> list[tuple[int, int]]:
    """(start, end) spans of the paragraphs of text[offset:end], separators attached to the left."""
    spans, cursor = [], offset
    for match in re.finditer(r"\n\s*\n", text[offset:end]):
        stop = offset + match.end()
        if text[cursor:stop].strip():
            spans.append((cursor, stop))
            cursor = stop
    if cursor < end:
        if text[cursor:end].strip() or not spans:
            spans.append((cursor, end))
        else:
            spans[-1] = (spans[-1][0], end)
    return spans


def strong_answer(paragraph: str) -> str | None:
    """An answer stated beyond doubt: a box or an "answer is" phrase."""
    return last_boxed(paragraph) or answer_phrase(paragraph)


def paragraph_answer(paragraph: str, is_anchor: Callable[[str], bool]) -> str | None:
    """The answer a paragraph reaches: a box, an "answer is" phrase, or a concluding sentence
    ("So the total is 18.") whose value is one the response states as an answer somewhere
    (`is_anchor`): intermediate results ("that means 13 eggs are left") end no round."""
    strong = strong_answer(paragraph)
    if strong:
        return strong
    for sentence in reversed(sentences(paragraph)):
        value = conclusion_value(sentence, require_marker=False)
        if value and is_anchor(value):
            return value
    return None


_WORK = re.compile(r"\d|[=+×÷*/^√]|\\(?:frac|sqrt|cdot|times)")


def mentions(paragraph: str, answer: str) -> bool:
    value = clean_value(answer)
    return bool(value) and re.search(r"(?<![\w.])" + re.escape(value) + r"(?![\w])", paragraph) is not None


def split_rules(text: str, start: int, end: int, is_anchor: Callable[[str], bool]) -> list[Solution]:
    """A round ends at the paragraph that reaches an answer. Paragraphs after it that restate
    that answer or only comment ("Yes, that seems right.") stay in the round; one that restarts
    ("Wait, let me double-check") or does other work (numbers, equations) opens the next round.
    Text after the last answer merges into the last round."""
    spans = paragraphs(text, start, end)
    solutions: list[Solution] = []
    round_start, reached = start, None
    for para_start, para_end in spans:
        paragraph = text[para_start:para_end]
        answer = paragraph_answer(paragraph, is_anchor)
        if reached is not None:
            restarts = bool(_RESTART.match(paragraph))
            repeats = answer is not None or mentions(paragraph, reached)
            if restarts or (not repeats and _WORK.search(paragraph)):
                solutions.append(Solution(round_start, para_start, reached))
                round_start, reached = para_start, None
        if answer is not None:
            reached = answer
    if reached is not None or not solutions:
        solutions.append(Solution(round_start, end, reached))
    else:  # trailing text that reaches no answer merges into the last round
        last = solutions[-1]
        solutions[-1] = Solution(last.start, end, last.answer)
    return solutions


def locate_presplit(text: str, pieces: list[str], start: int) -> list[Solution] | None:
    """Find given solution texts in order in the response; None if they are not verbatim."""
    spans, cursor = [], start
    for piece in pieces:
        probe = piece.strip()[:200]
        at = text.find(probe, cursor) if probe else -1
        if at == -1:
            return None
        spans.append(at)
        cursor = at + len(probe)
    bounds = spans[1:] + [None]
    solutions = []
    for i, (at, piece) in enumerate(zip(spans, pieces)):
        stop = bounds[i] if bounds[i] is not None else at + len(piece.strip())
        solutions.append(Solution(start if i == 0 else at, stop, None))
    return solutions


def anchor_test(text: str, start: int, end: int) -> Callable[[str], bool]:
    """Answers this response states outright (boxes, "answer is", its final answer): a
    concluding sentence reaching one of these ends a round."""
    anchors = {a for a in (strong_answer(p) for p in text[start:end].split("\n\n")) if a}
    final = extract_answer(text[end:], False) or extract_answer(text[start:end], False, False)
    if final:
        anchors.add(final)
    return lambda value: any(same_answer(anchor, value) for anchor in anchors)


Segmenter = Callable[[dict, str, int, int], list[Solution]]
"""(record, response text, thinking start, thinking end) -> its solutions; may append to record["flags"].
A solution at (-1, -1) is not located in the text: the analyzer then uses the given solution texts."""

SEGMENTERS: Registry[Callable[[AnalyzeConfig, Counter], Segmenter]] = Registry("segmenter")
"""segment.method -> factory (analyze config, stats counter) -> segmenter, built once per worker."""


def segment_rules(record: dict, text: str, start: int, end: int) -> list[Solution]:
    return split_rules(text, start, end, anchor_test(text, start, end))


def segment_presplit(record: dict, text: str, start: int, end: int) -> list[Solution]:
    """The input's solutions, located in the response; rows without them are split by rules."""
    given = record["given_solutions"]
    if given is None:
        return segment_rules(record, text, start, end)
    located = locate_presplit(text, [str(s) for s in given], start)
    if located is not None:
        return located
    record["flags"].append("presplit_not_verbatim")
    return [Solution(-1, -1, None) for _ in given]


@SEGMENTERS.register("rules")
def rules_segmenter(config: AnalyzeConfig, stats: Counter) -> Segmenter:
    return segment_rules


@SEGMENTERS.register("presplit")
def presplit_segmenter(config: AnalyzeConfig, stats: Counter) -> Segmenter:
    return segment_presplit


@SEGMENTERS.register("llm")
def llm_segmenter(config: AnalyzeConfig, stats: Counter) -> Segmenter:
    from overthink.analyze.llm_judges import LLMSplitter  # openai loads only when this method is chosen

    return LLMSplitter(config.segment.llm, segment_rules, stats)
