"""Split the thinking part of a response into solutions (rounds). Pluggable by name:
`rules` (default), `presplit` (the input gives them) and `llm` (in `llm_judges`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from overthink.analyze.extract import answer_phrase, clean_value, conclusion_value, last_boxed, sentences

# A paragraph that opens like these starts a new round once an answer has been reached.
_RESTART = re.compile(
    r"^\W*(?:wait|hmm+|hold on|alternatively|but wait|but let me|let me (?:double[- ]?check|check|verify|re-?check|"
    r"confirm|think again|try|see|make sure|consider|recalculate|re-?examine|approach)|let's (?:double[- ]?check|check|verify|"
    r"confirm|try|see|make sure|consider)|to (?:double[- ]?check|verify|confirm|be sure|be thorough)|just to|another (?:way|approach|method)|"
    r"double[- ]?check|verif|i (?:should|could|can|will|might|want to) (?:double[- ]?check|check|verify|confirm|also|try)|"
    r"actually|on second thought|however|maybe i should|is there another|what if|i (?:wonder|need to check))",
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
