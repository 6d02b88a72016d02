"""Split the thinking part of a response into solutions (rounds). Pluggable by name in
`SEGMENTERS`: `rules` (default; `rounds.py`), `presplit` (the input gives them) and `llm` (the
paper's LLM passes, in `llm_judges`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from overthink.analyze.answer_shape import plain_text_as_latex, split_top_level, strip_prose
from overthink.analyze.budget import NO_DEADLINE, Deadline
from overthink.analyze.extract import _NUMBER_WORDS, answer_phrase, extract_answer, last_boxed, looks_cut_off
from overthink.analyze.grade import normalize, prepare_gold
from overthink.analyze.question import Ask, read_question
from overthink.analyze.rounds import Reader, split_paragraphs
from overthink.analyze.statements import combined, number_value, sentence_results, sentences, settled
from overthink.registry import Registry

if TYPE_CHECKING:
    from overthink.analyze.config import AnalyzeConfig
    from overthink.analyze.grade import Grader


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


def final_statement(text: str, start: int, end: int, cut_off_too: bool = True) -> str | None:
    """The response's own final answer: stated after its thinking, else what the thinking's last
    paragraphs conclude with: a settled number, or any value when the thinking ends on a finished
    sentence (a cut-off thinking's last formula is not one). A thinking that opened and never
    closed, or stops mid-sentence, was cut off: its last value is what it happened to be
    computing, read only when `cut_off_too` (when nothing better, such as a gold, is known)."""
    if end < len(text):
        return extract_answer(text[end:], False)
    cut_off = start > 0 or looks_cut_off(text[start:end])
    if cut_off and not cut_off_too:
        return None
    concluded = extract_answer(text[start:end], False, False)
    if not concluded or not settled(concluded):
        return None
    return concluded if number_value(concluded) is not None or not looks_cut_off(text[start:end]) else None


@lru_cache(maxsize=65536)
def _number_key(value: str) -> str | None:
    number = number_value(value.replace("\\$", ""))
    return None if number is None else f"{number:.10g}"


def _list_key(value: str) -> frozenset[str] | None:
    """`1, -2` and `-2,1`: the same unordered list of numbers."""
    parts = split_top_level(value.strip("()[]{} "))
    keys = [_number_key(part) for part in parts]
    return frozenset(keys) if len(parts) > 1 and all(keys) and value.strip()[:1] not in "([" else None


def _formula_key(text: str) -> str:
    return re.sub(r"\s|\\[()\[\]]|\$|\\left|\\right|\\[,;!]", "", text.replace("\\dfrac", "\\frac"))


def _is_formula(value: str) -> bool:
    """More than a number or a name: a variable and an operation (`x^3 + 3x - 6`, `y = -2x`)."""
    key = _formula_key(value)
    return len(key) >= 5 and bool(re.search(r"(?<![A-Za-z\\])[a-z](?![A-Za-z])", key) and re.search(r"[-+=^/]", key))


def _letters(value: str) -> frozenset[str]:
    return frozenset(re.findall(r"(?<![A-Za-z\\])[A-Za-z](?![A-Za-z])", re.sub(r"\\[A-Za-z]+", " ", value)))


class Answers:
    """Tells whether a stated value is one the response stands by (its final answer, anything it
    boxes or calls the answer) or the gold answer: by text, by value, and for a gold that is not
    a plain number (an expression, a tuple) by the grader when the value could be it. Lookups
    are constant-time (keys, not a scan of every answer) and cached."""

    def __init__(
        self, stated: Iterable[str], final: str | None = None, gold: str | None = None, grader: Grader | None = None
    ):
        self.gold = prepare_gold(gold) if gold else None
        values = [a for a in (*stated, final) if a] + ([self.gold] if self.gold else [])
        # the final and gold answers when they are formulas: naming one in a check restates it
        self.formulas = {_formula_key(v) for v in (final, self.gold) if v and _is_formula(v)}
        self.keys = {normalize(v) for v in values}
        self.numbers = {key for key in map(_number_key, values) if key}
        self.words = frozenset(w for w in map(strip_prose, values) if re.fullmatch(r"[A-Za-z][A-Za-z -]*[A-Za-z]", w))
        self._lower_words = {w.lower() for w in self.words}
        self.lists = {key for key in map(_list_key, values) if key}
        self.grader = grader if self.gold and _number_key(self.gold) is None else None
        self.gold_letters = _letters(self.gold) if self.gold else frozenset()
        self._seen: dict[str, bool] = {}

    def __call__(self, value: str) -> bool:
        known = self._seen.get(value)
        if known is None:
            known = self._seen[value] = self._check(plain_text_as_latex(value))
        return known

    def written(self, value: str) -> bool:
        """The value is an answer as written (same text, or the same settled number), not only
        after algebra: `x^3 + (3x^2 - 3x^2) + 3x - 6` is a step to `x^3 + 3x - 6`."""
        if normalize(value) in self.keys or value.lower() in self._lower_words:
            return True
        key = _number_key(value)
        if key is not None:
            return settled(value) and key in self.numbers
        listed = _list_key(value)
        return listed is not None and listed in self.lists

    def named_in(self, paragraph: str) -> str | None:
        """A formula answer the paragraph writes out (`x^3 + 3x - 6`), if any."""
        if not self.formulas:
            return None
        text = _formula_key(paragraph)
        return next((formula for formula in self.formulas if formula in text), None)

    def part_of(self, value: str) -> bool:
        """The value is an answer or one item of an answer that lists several ("1" of "1, -2")."""
        key = _number_key(value)
        return self.written(value) or (key is not None and any(key in listed for listed in self.lists))

    def _check(self, value: str) -> bool:
        if self.written(value):
            return True
        if _number_key(value) is not None:
            return False
        if self.grader is None or _letters(value) != self.gold_letters or len(value) > 2 * len(self.gold) + 8:
            return False
        return combined(value) and self.grader(self.gold, value)  # `19x - 4x + 1 - 81` is a step to the gold


def stated_answers(paragraph_texts: list[str]) -> list[str]:
    """What the response boxes or calls the answer anywhere in its thinking."""
    found = []
    for paragraph in paragraph_texts:
        found.extend(v for v in (last_boxed(paragraph), answer_phrase(paragraph)) if v)
    return found


# The text sets one result against another: "that's different from", "which one is right?"
_CONTESTS = re.compile(
    r"\b(?:which (?:one|of (?:them|these|the two)) is (?:correct|right)|which is (?:correct|right)(?=\?)|"
    r"discrepanc\w*|contradict\w*|different from|(?:doesn't|does not|don't|do not) (?:match|agree)|"
    r"inconsisten\w*|conflict\w*|disagree\w*)\b",
    re.IGNORECASE,
)


_NAMED_RESULT = re.compile(
    r"\b(?:(?:it|that|this)['’]s|(?:answer|result) of)\s+(-?\d[\d,]*(?:\.\d+)?)(?![\d.]*\s*[-+*/×^])"
)


def contested_results(paragraph_texts: list[str], given: frozenset[str], ask: Ask) -> list[str]:
    """Results a paragraph sets against another ("according to the direct calculation, it's
    32,769. So, which one is right?"): the response stands by each for a while, right or wrong,
    so arriving at one ends a solution (a wrong answer stated explicitly is still an answer).
    Values of what the question does not ask for (another unknown, a part) are steps, and so is
    the end of an equation ("2^0 × 3^0 = 1, which contradicts gcd(a, b) = 210"): what is set
    against another result is said of it ("I got 534", "it's 32,769"), not computed."""
    found = []
    for paragraph in paragraph_texts:
        if _CONTESTS.search(paragraph):
            statements = [s for sentence in sentences(paragraph) for s in sentence_results(sentence)]
            values = [s.value for s in statements if s.subject is None and ask.asks_about(s.subject, s.named)]
            values += [m.group(1) for m in _NAMED_RESULT.finditer(paragraph)]
            found.extend(v for v in values if _number_key(v) and settled(v) and v.replace(",", "") not in given)
    return found


def given_numbers(problem: str) -> frozenset[str]:
    """Numbers the problem states, in digits or words: a paragraph that repeats them computes nothing."""
    words = re.findall(r"[a-z]+", problem.lower())
    return frozenset(re.findall(r"\d+(?:\.\d+)?", problem.replace(",", ""))) | {
        _NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS
    }


def split_rules(
    text: str,
    start: int,
    end: int,
    problem: str = "",
    gold: str | None = None,
    grader: Grader | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> list[Solution]:
    """Solutions of the thinking part text[start:end] (`rounds.py`), each from its first
    paragraph to its last; none when the thinking never states an answer."""
    spans = paragraphs(text, start, end)
    texts = [text[a:b] for a, b in spans]
    given, ask = given_numbers(problem), read_question(problem)
    stated = stated_answers(texts) + contested_results(texts, given, ask)
    answers = Answers(stated, final_statement(text, start, end, cut_off_too=not gold), gold, grader)
    reader = Reader(answers, ask, given)
    solutions, first = [], 0
    features = []
    for index, paragraph in enumerate(texts):
        deadline.check("splitting")
        features.append(reader(paragraph, texts[index - 1] if index else ""))
    for last, answer in split_paragraphs(features):
        solutions.append(Solution(spans[first][0] if first else start, spans[last][1], answer))
        first = last + 1
    if solutions:
        solutions[-1] = Solution(solutions[-1].start, end, solutions[-1].answer)
    return solutions


Segmenter = Callable[[dict, str, int, int], list[Solution]]
"""(record, response text, thinking start, thinking end) -> its solutions; may append to record["flags"].
A solution at (-1, -1) is not located in the text: the analyzer then uses the given solution texts."""

SEGMENTERS: Registry[Callable[[AnalyzeConfig, Counter, Grader | None], Segmenter]] = Registry("segmenter")
"""segment.method -> factory (analyze config, stats counter, the worker's grader) -> segmenter,
built once per worker."""


def rules_with(grader: Grader | None) -> Segmenter:
    """The rules splitter on records: the record's problem and gold (when it has them) decide
    what is an answer; `grader` compares stated values with a gold that is not a plain number."""

    def segment(record: dict, text: str, start: int, end: int) -> list[Solution]:
        problem, gold = str(record.get("problem") or ""), record.get("gold")
        deadline = record.get("deadline", NO_DEADLINE)
        return split_rules(text, start, end, problem, str(gold) if gold else None, grader, deadline)

    return segment


segment_rules = rules_with(None)
"""The rules splitter without a grader (a gold that is not a plain number then matches by text)."""


def presplit_with(rules: Segmenter) -> Segmenter:
    def segment(record: dict, text: str, start: int, end: int) -> list[Solution]:
        """The input's solutions, located in the response; rows without them are split by rules."""
        given = record["given_solutions"]
        if given is None:
            return rules(record, text, start, end)
        located = locate_presplit(text, [str(s) for s in given], start)
        if located is not None:
            return located
        record["flags"].append("presplit_not_verbatim")
        return [Solution(-1, -1, None) for _ in given]

    return segment


@SEGMENTERS.register("rules")
def rules_segmenter(config: AnalyzeConfig, stats: Counter, grader: Grader | None = None) -> Segmenter:
    return rules_with(grader)


@SEGMENTERS.register("presplit")
def presplit_segmenter(config: AnalyzeConfig, stats: Counter, grader: Grader | None = None) -> Segmenter:
    return presplit_with(rules_with(grader))


@SEGMENTERS.register("llm")
def llm_segmenter(config: AnalyzeConfig, stats: Counter, grader: Grader | None = None) -> Segmenter:
    # imported here: openai loads only when this method is chosen
    from overthink.analyze.llm_judges import EndpointClient
    from overthink.analyze.llm_split import LLMSplitter

    segment = config.segment
    return LLMSplitter(
        EndpointClient(segment.llm).complete_text,
        segment.llm.model,
        rules_with(grader),
        stats,
        concurrency=segment.concurrency,
        steps_per_request=segment.steps_per_request,
        judge_steps=segment.judge_steps,
        cache_dir=segment.cache_dir,
    )
