"""Split the thinking part of a response into solutions (rounds). Pluggable by name in
`SEGMENTERS`: `rules` (default), `presplit` (the input gives them) and `llm` (in `llm_judges`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from overthink.analyze.extract import (
    _NUMBER_WORDS,
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

# What makes a paragraph a new attempt is what its opening sentence is about, matched anywhere in
# that sentence (concepts, not opening phrases): going over the work again (re- verbs, "once
# more", "from the top"), checking it (verify, sanity, make sure, estimate), noticing something is
# off (disagree, mistake, "can't be right"), taking another route (alternatively, instead, the
# other way/end, a "With fractions:" header), or catching oneself ("Wait", "Hmm"). After a firm
# answer any of them opens a round. After a plain value only going over it, checking it or
# noticing an error does: long chains of thought try another route, plug values in or say "Wait"
# on their way to a first answer all the time, while a wrong plain result is what gets redone.
_RECHECK = re.compile(
    r"\b(?:re-?(?:do|doing|did|done|comput|check|count|calculat|work|visit|consider|deriv|run|trac|read|"
    r"examin|evaluat|solv|try|tries|verif|add|assess|think|tally|sum|start|attempt|confirm)\w*|"
    r"(?:start\w*|do\w*|go\w*|work\w*|all) (?:over|again)|once more|one more time|anew|afresh|"
    r"second (?:look|pass|time|opinion)|sanity|double[- ]?check\w*|"
    r"verif\w*|confirm\w*|cross[- ]?check\w*|make sure|be (?:sure|safe|thorough|certain)|"
    r"as a (?:check|test)|estimat\w*|ballpark|"
    r"from (?:scratch|the top|the start|the beginning)|"
    # noticing that something is wrong: what sends a plain (wrong) result back to be redone
    r"disagree\w*|(?:don't|do not|doesn't|does not) (?:agree|match)|mismatch\w*|inconsistent|contradict\w*|"
    r"mistake|error|slip|wrong|(?:is|are|was|were) off|(?:can't|cannot|couldn't) be (?:right|correct))\b",
    re.IGNORECASE,
)
_OTHER_ROUTE = re.compile(
    r"\b(?:alternativ\w*|another (?:way|approach|method|route|look|angle)|instead|other (?:way|end|"
    r"direction|route|method|approach|order)|backwards?|from the other|on second thought)\b",
    re.IGNORECASE,
)
_INTERJECTION = re.compile(r"^\W*(?:but\s+)?(?:wait|hmm+|hold on|hang on|oops|actually|however)\b", re.IGNORECASE)
# "With fractions:", "Thinking of it in parts:": a short wordy header naming how the work goes on
_METHOD_HEADER = re.compile(r"^[^\d=]{3,80}:\s*$")
_FIRST_SENTENCE = re.compile(r"^.*?(?:[.!?:](?=\s)|\n|$)", re.DOTALL)


# A correction names what went wrong ("miscalculated", "a botched borrow", "not 62", "I dropped a ten").
_CORRECTION = re.compile(
    r"\b(?:mis(?:calculat|count|read|plac|comput|add|multipl|took|tak)\w*|botch\w*|dropped|forgot\w*|"
    r"overlook\w*|(?:should|must) (?:be|have been|become)|not \$?-?\d[\d.,/]*\b(?!\s*(?:%|percent)))",
    re.IGNORECASE,
)


def corrects_itself(paragraph: str) -> bool:
    """Catches a slip: opens by catching itself ("Hmm,", "Wait —") and says what went wrong."""
    return bool(
        _INTERJECTION.match(paragraph.strip()) and (_CORRECTION.search(paragraph) or _RECHECK.search(paragraph))
    )


def opens_new_attempt(paragraph: str, after_answer: bool) -> bool:
    """The paragraph's first sentence announces another go at the problem (`after_answer`: the
    round so far reached a firm answer, not just a plain value)."""
    first = _FIRST_SENTENCE.match(paragraph.strip())
    if not first:
        return False
    sentence = first.group(0)
    if _RECHECK.search(sentence):
        return True
    return after_answer and bool(
        _OTHER_ROUTE.search(sentence) or _INTERJECTION.match(sentence) or _METHOD_HEADER.match(sentence)
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


@dataclass(frozen=True)
class Result:
    """A value a paragraph arrives at. `firm` results (a box, an "answer is", a value the response
    states as its answer somewhere) end a round at any new work; the others (any sentence that
    ends on a value: "Which makes the total 42.", "That leaves 3/4 of the tank.") may be a step
    on the way, and end a round only where the next paragraph opens a new attempt."""

    value: str
    firm: bool


def paragraph_result(paragraph: str, is_anchor: Callable[[str], bool]) -> Result | None:
    strong = strong_answer(paragraph)
    if strong:
        return Result(strong, True)
    weak = None
    said = sentences(paragraph)
    last = said[-1] if said else None
    for sentence in reversed(said):
        concluded = conclusion_value(sentence, require_marker=False)
        if concluded and is_anchor(concluded):
            return Result(concluded, True)
        judged = _JUDGEMENT.search(sentence)  # "option C is much larger"; not the list of options
        for choice in _CHOICE_MENTION.finditer(sentence) if judged else ():
            letter = choice.group(1) or choice.group(2)
            if is_anchor(letter):
                return Result(letter, True)
        if weak is None and sentence is last:  # a result closes its paragraph
            value = ending_value(sentence)  # steps on the way state formulas; results state values
            weak = Result(value, is_anchor(value)) if value else None
    return weak


# A sentence that arrives at a value says so: it concludes ("so", "therefore", "which", "that")
# or its verb is one of arriving (makes, leaves, gives, comes to, ends up with, totals, gets).
_ARRIVAL = re.compile(
    r"\b(?:so|thus|therefore|hence|which|finally|altogether|in total|in all|overall|"
    r"make|makes|made|making|leave|leaves|leaving|left|give|gives|gave|giving|come|comes|came|coming|end|"
    r"ends|ended|ending|total|totals|totaling|totalling|get|gets|got|getting|yield|yields|result|results|"
    r"works out|amounts? to|adds up|sums? to|equals?|=)\b",
    re.IGNORECASE,
)
_PLAIN_VALUE = re.compile(
    r"[-+]?\$?(?:\d[\d,]*(?:\.\d+)?(?:/\d+)?|\\d?frac\{\d+\}\{\d+\})(?:\\sqrt\{\d+\}|\\pi|π)?(?:_\{?\d+\}?)?%?"
)
_AROUND = re.compile(r"\b(?:at|per|of|from|by|in|on|than|over|under|about|near|around|between|within)\s*$", re.I)
_CHOICE_MENTION = re.compile(r"\b(?:option|choice)\s*\(?([A-J])\b\)?|(?:^|\s)\(?([A-J])\)\s")
_JUDGEMENT = re.compile(r"\b(?:is|are|should|would|must|seems?|fits?|works?|correct|right|best)\b", re.I)
_ENDING_VALUE = re.compile(
    r"(?<![\w.^])(?<!\^[-+])(?P<value>[-+]?\$?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?%?|\$[^$]+\$|\\\((?:(?!\\\)).)+\\\)|"
    + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
    + r")(?P<tail>(?:\s+[A-Za-z][A-Za-z'-]*){0,4})\s*[.!]?\s*$",
    re.IGNORECASE,
)


def ending_value(sentence: str) -> str | None:
    """A declarative sentence that ends on a value, give or take a few words of unit ("We end up
    with 17 apples.", "...which is nine."); not a question, a supposition or an instruction."""
    text = sentence.strip()
    if text.endswith("?") or re.match(r"(?:if|suppose|let|assume|when|for)\b", text, re.IGNORECASE):
        return None
    found = _ENDING_VALUE.search(text)
    if not found or len(text.split()) < 3 or re.search(r"\d", found.group("tail")):
        return None
    if _ARRIVAL.search(text) is None and _AROUND.search(text[: found.start()]):
        return None  # a value placed ("at 3.6 units per unit time", "near 45"), not arrived at
    before = text[: found.start()].split()[-1:]
    if before and re.fullmatch(r"(?:plus|minus|times|by|over|and|or|[-+*/×÷^<>(]|\\\w+)", before[0], re.I):
        return None  # an operand ("3 plus 4."), not a result
    value = found.group("value")
    value = _NUMBER_WORDS.get(value.lower(), None) or clean_value(value)
    if not _PLAIN_VALUE.fullmatch(value.replace(" ", "")):
        return None  # a formula or a name: a step on the way, not a value arrived at
    return value


_WORK = re.compile(r"\d|[=+×÷*/^√]|\\(?:frac|sqrt|cdot|times)|\b(?:plus|minus|times|divided|twice|half)\b")


def mentions(paragraph: str, answer: str) -> bool:
    value = clean_value(answer)
    return bool(value) and re.search(r"(?<![\w.])" + re.escape(value) + r"(?![\w])", paragraph) is not None


@dataclass
class _Round:
    start: int
    result: Result | None = None
    work: bool = False  # computes something beyond restating its result


def split_rules(
    text: str, start: int, end: int, is_anchor: Callable[[str], bool], problem: str = "", final: str | None = None
) -> list[Solution]:
    """A round ends at a paragraph that reaches a result, where the next paragraph opens a new
    attempt (or, after a firm result, does other work). Paragraphs after a result that restate it
    or only comment ("Yes, that seems right.") stay in its round. A round that reaches no result
    of its own, or only restates the previous one without working, is part of the round before:
    a solution is an attempt that arrives somewhere. Text after the last result merges into the
    last round. A value the problem itself gives ("The sphere has a radius of 11.") is restated,
    not arrived at, and a value of another sort than the final answer (`final`) is a step to it.
    """
    givens = set(re.findall(r"\d+(?:\.\d+)?", problem))
    final_kind = value_kind(final) if final else None
    rounds: list[_Round] = [_Round(start)]
    for para_start, para_end in paragraphs(text, start, end):
        paragraph = text[para_start:para_end]
        result = paragraph_result(paragraph, is_anchor)
        if result is not None and not result.firm:
            if result.value.lstrip("-$") in givens or final_kind not in (None, value_kind(result.value)):
                result = None
        current = rounds[-1]
        reached = current.result
        if reached is not None:
            repeats = (result is not None and same_answer(result.value, reached.value)) or mentions(
                paragraph, reached.value
            )
            works = bool(_WORK.search(paragraph)) and not (result and _only_states(paragraph, result.value))
            # after a firm answer, work that arrives at a result again is another solution, even
            # (above all) when it arrives at the same answer; work that arrives nowhere yet and
            # does not build on the answer starts one too
            rederives = works and result is not None
            fresh_work = works and not repeats
            if (
                opens_new_attempt(paragraph, reached.firm)
                or (reached.firm and (rederives or fresh_work))
                or corrects_itself(paragraph)
            ):
                current = _Round(para_start)
                rounds.append(current)
        if _WORK.search(paragraph) and not (result and _only_states(paragraph, result.value)):
            current.work = True
        if result is not None:
            current.result = result if result.firm or not (current.result and current.result.firm) else current.result
    merged: list[_Round] = []
    for round_ in rounds:
        empty = round_.result is None or not round_.work
        if merged and empty:
            if merged[-1].result is None:
                merged[-1].result = round_.result
            continue
        previous = merged[-1] if merged else None
        if previous is not None and previous.result is not None and not previous.result.firm:
            if not _arrives_again(round_, previous, is_anchor):
                previous.result = round_.result  # a plain value was a step: the attempt goes on
                continue
        merged.append(round_)
    bounds = [r.start for r in merged[1:]] + [end]
    return [Solution(r.start, stop, r.result.value if r.result else None) for r, stop in zip(merged, bounds)]


def _arrives_again(attempt: _Round, before: _Round, is_anchor: Callable[[str], bool]) -> bool:
    """A new attempt after a plain result arrives at that value again (a check) or at one the
    response stands by (a correction); arriving elsewhere means the plain value was a step."""
    if attempt.result is None:
        return False
    value = attempt.result.value
    return same_answer(value, before.result.value) or attempt.result.firm or is_anchor(value)


def _only_states(paragraph: str, value: str) -> bool:
    """The paragraph's only numbers are its result: a restatement, not work."""
    rest = paragraph.replace(value, " ")
    return not re.search(r"\d|[=+×÷*/^√]", re.sub(r"\\boxed\{[^{}]*\}", " ", rest))


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
    final = final_statement(text, start, end)
    if final:
        anchors.add(final)
    return lambda value: any(same_answer(anchor, value) for anchor in anchors)


def final_statement(text: str, start: int, end: int) -> str | None:
    return extract_answer(text[end:], False) or extract_answer(text[start:end], False, False)


def value_kind(value: str) -> str:
    """What sort of value: an integer, a decimal, a fraction, a radical, a multiple of pi, other.
    A value on the way to an answer of another sort (8 lines on the way to 2/21) is a step."""
    plain = value.replace(" ", "").replace(",", "").lstrip("-+$")
    for kind, pattern in _KINDS:
        if re.search(pattern, plain):
            return kind
    return "other"


_KINDS = (
    ("radical", r"sqrt|√"),
    ("pi", r"pi|π"),
    ("fraction", r"frac|/"),
    ("decimal", r"^\d*\.\d+%?$"),
    ("integer", r"^\d+%?$"),
)


Segmenter = Callable[[dict, str, int, int], list[Solution]]
"""(record, response text, thinking start, thinking end) -> its solutions; may append to record["flags"].
A solution at (-1, -1) is not located in the text: the analyzer then uses the given solution texts."""

SEGMENTERS: Registry[Callable[[AnalyzeConfig, Counter], Segmenter]] = Registry("segmenter")
"""segment.method -> factory (analyze config, stats counter) -> segmenter, built once per worker."""


def segment_rules(record: dict, text: str, start: int, end: int) -> list[Solution]:
    problem = str(record.get("problem") or "")
    return split_rules(text, start, end, anchor_test(text, start, end), problem, final_statement(text, start, end))


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
