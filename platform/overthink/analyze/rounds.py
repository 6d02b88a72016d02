"""The `rules` splitter: the thinking part cut into solutions the way the paper's official
pipeline and careful readers cut it (arXiv 2412.21187; galaxyChen/overthinking's splitting
prompts, written out in ../shared/fixtures/real_splits/INSTRUCTIONS.md).

1. A paragraph that explicitly states an answer to the question ends a solution: a box, "the
   answer is", or a sentence that arrives at a value the response stands by (`Answers`: the gold
   answer when the analyzer has one, the final answer, anything boxed or called the answer),
   and a concluding sentence that gives the very symbol the question asks for a value, right or
   wrong ("Therefore, x = 124."). A check that writes the answer out and says its test passed
   ("8 * 12 = 96 cm, which matches") reaches it too.
   What the question asks decides what is an answer (`question.py`): the value of another
   unknown ("D = -5" when the question asks for CD) or one candidate of several before the text
   picks "the largest" is a step on the way.
2. After an answer, paragraphs that only conclude or comment stay in its solution; a check, a
   second method or a correction starts the next one, and it is a solution when it reaches an
   answer again (however short, and whether or not the answer changed). A bare restatement
   after a digression that reached nothing ("So, I think the answer is indeed 1.") reaches
   nothing new: it stays with the solution before.
3. Text before the first answer belongs to the first solution; text after the last answer (an
   unfinished check, a summary) to the last. A response that never states an answer has none.

Linear in the number of paragraphs: each paragraph is read once, and answers are compared
through a cache."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol

from overthink.analyze.question import Ask, carries_selectors
from overthink.analyze.statements import (
    CONNECTIVES,
    Statement,
    number_value,
    paragraph_statements,
    sentences,
    settled,
)

# The first sentence turns back to the work: it asks, doubts, checks or takes another way.
# Discourse markers, not problem words: what every long chain of thought says when it looks again.
_OPENER = re.compile(
    r"^\W*(?:but|wait|hmm+|however|alternatively|actually|hold on|hang on|oops|let me|let's|let us|"
    r"i (?:should|could|can|will|'ll|need|want|might|must|wonder)|maybe|perhaps|to (?:be|make|double|verify|"
    r"check|confirm)|just to|another|one more|on second|now,? let|is there|double[- ]?check|verif|check)",
    re.IGNORECASE,
)


# A sentence that concludes; one that denies what it says ("x = -4 is not a valid solution"); one
# that draws a conclusion after turning back ("But ..., it's safe to conclude that QM = 30.")
_CONCLUDING = re.compile(rf"^\W*(?:{CONNECTIVES})\b", re.IGNORECASE)
_DENIES = re.compile(r"\b(?:not|no|cannot|invalid|extraneous|reject\w*)\b|n't\b", re.IGNORECASE)
_CONCLUDES_THAT = re.compile(r"\bconclud(?:e|es|ing)\s+that\b", re.IGNORECASE)
# An operation still to do between two terms ("20π - 13π"): a value said of it is computed, not restated
_OPERATION = re.compile(r"[\w)}]\s*(?:[-+*×·]|\\times|\\cdot)\s*[\w(\\]")
_DISPLAY = re.compile(r"\\\[.*\\\]|\$\$.*\$\$", re.DOTALL)  # a paragraph that is one displayed formula
# A test passed: "which matches", "that checks out", "it satisfies the equation", "makes sense"
_CONFIRMS = re.compile(
    r"\b(?:match(?:es|ed)?|checks? out|satisf(?:y|ies|ied)|makes sense|consistent|confirm(?:s|ed)|"
    r"(?:is|it's|that's) (?:correct|right))\b",
    re.IGNORECASE,
)


def _passes(sentence: str) -> bool:
    """The sentence says a test passed; not asked ("is that correct?"), announced ("let's check
    if this makes sense") or denied ("that doesn't match")."""
    found = _CONFIRMS.search(sentence)
    if not found or sentence.rstrip().endswith("?") or _DENIES.search(sentence):
        return False
    return not re.search(r"\b(?:if|whether)\b", sentence[: found.start()], re.IGNORECASE)


class AnswerTest(Protocol):
    def __call__(self, value: str) -> bool:
        """The value is an answer the response stands by, or the gold."""

    def written(self, value: str) -> bool:
        """The value is one of them as written, not only after algebra."""

    def part_of(self, value: str) -> bool:
        """The value is one of them, or one item of one that lists several."""

    def named_in(self, paragraph: str) -> str | None:
        """One that is a formula, written out in the paragraph."""

    @property
    def words(self) -> frozenset[str]:
        """Those that are words ("Evelyn", "even"), not values."""


@dataclass(frozen=True)
class Features:
    """What the splitter reads off one paragraph."""

    answer: str | None  # the answer it arrives at, if any
    work: bool  # it computes: an operation, or a number that is neither given nor an answer
    opener: bool  # it turns back to the work (a question, a check, another way)
    drops: bool = False  # it sets aside the way it considers ("more complicated", "overkill")
    mentions: str | None = None  # when it passes: an answer it writes out ("If each side is 12 cm, ...")
    passes: bool = False  # it says a test passed ("which matches", "Yes, it checks out.")


# A way considered and set aside: harder, unneeded, not applicable, or a better one kept.
_DROPS = re.compile(
    r"\b(?:more|too|overly|unnecessarily|less)\s+(?:complicated|complex|involved|tedious|cumbersome|messy|"
    r"time[- ]consuming|work)\b|\b(?:more|less)\s+(?:efficient|straightforward)\b|\boverkill\b|\bunnecessar(?:y|ily)\b|"
    r"\bnot\s+(?:be\s+)?(?:simpler|easier|necessary|needed|helpful|accurate|applicable|straightforward|practical)\b|"
    r"\bmost\s+(?:appropriate|efficient|straightforward)\b|\bprone to error|"
    r"\b(?:doesn't|does not|don't|do not|won't|wouldn't)\s+(?:\w+\s+)?(?:apply|applies|help|work here)\b",
    re.IGNORECASE,
)


# A sentence that reports an earlier result ("in my earlier calculation, I said that...", "I got
# 26,000", "according to the direct calculation, it's 32,769") recalls it; it reaches nothing.
_RECALLS = re.compile(
    r"\b(?:earlier|previous(?:ly)?|as before|according to|(?:I|we) (?:said|had|got|found|obtained|wrote|thought)|"
    r"(?:I|we) (?:already|just) (?:know|knew|have|had|found|got|computed|showed))\b",
    re.IGNORECASE,
)
_COMPUTES = re.compile(r"=|\\times|\\cdot|\\div|[×÷]|\b(?:times|plus|minus|divided by)\b|\d\s*[-+*]\s*\(?\d")


# "According to the algebraic approach, we have z + z^4 + z^2 + z^3 = -1": a method's result reported
_REPORTS = re.compile(r"^\W*(?:but\s+|and\s+|so\s+)?according to\b", re.IGNORECASE)


def recalls(sentence: str) -> bool:
    # "x = 2" names a value; only an operation ("3 × 4 = 12") computes one again
    named = re.sub(r"(?<![\w\\])[A-Za-z]\s*=\s*-?\d+(?:\.\d+)?(?![\d.]*\s*[-+*/×^])", " ", sentence)
    return bool(_REPORTS.match(sentence)) or (bool(_RECALLS.search(sentence)) and not _COMPUTES.search(named))


def opens_again(sentence: str) -> bool:
    return bool(_OPENER.match(sentence)) or sentence.rstrip().endswith("?")


_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
# a fraction, a number with a root or π attached ("16\\sqrt{3}", "7π": one value), or a number
_ATOM = re.compile(
    rf"-?\\[dt]?frac\{{[^{{}}]*\}}\{{[^{{}}]*\}}|(?<![\w)}}])-?{_NUM}\s*(?:\\sqrt\{{\d+\}}|√\d+|\\pi\b|π)|"
    rf"(?<![\w)}}])-?{_NUM}(?:\s*/\s*\d+)?|{_NUM}"
)
_ASSIGNED = re.compile(r"[^\s=]{1,40}\s*=\s*\u25a1(?![\w(])")  # "x = <answer>": a restatement
_STEP = re.compile(
    r"[\d\u25a1]\s+(?:times|plus|minus|divided by|over|multiplied by)\s+[\d\u25a1]|"
    r"[\w)\]}\u25a1]\s*(?:[=+×÷*/^<>]|\\(?:times|cdot|div|pm|le|ge|neq))\s*[\w(\\{\u25a1-]"
    r"|[\d)\u25a1]\s*-\s*[\d(\\\u25a1]"
)


def without_boxes(text: str) -> str:
    """The text with every `\\boxed{...}` (braces balanced) taken out: a box states, it does not compute."""
    out, cursor = [], 0
    for match in re.finditer(r"\\boxed\s*\{", text):
        if match.start() < cursor:
            continue
        depth, stop = 0, None
        for index in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                stop = index + 1
                break
        if stop is None:
            break
        out.append(text[cursor : match.start()])
        cursor = stop
    return "".join(out) + text[cursor:]


def _after_colon(statement: Statement, sentence: str) -> bool:
    """ "Let me check: 7 times 6 is 42": the announcement ends at the colon, the check follows."""
    return statement.value in sentence.partition(": ")[2]


class Reader:
    """Reads a paragraph's features. `is_answer(value)` tells a value the response stands by (or
    the gold) from any other; the question's `Ask` rules out other unknowns' values and
    candidates not yet chosen; numbers the question gives are restated, not computed."""

    def __init__(self, is_answer: AnswerTest, ask: Ask, given: frozenset[str]):
        self.is_answer = is_answer
        self.ask = ask
        self.given = given

    def __call__(self, paragraph: str, before: str = "") -> Features:
        """`before`: the paragraph before; a display completes its last sentence when that ends on
        a colon ("In interval notation, that would be:" then "\\[ (2, 12) \\cup (12, 102) \\]")."""
        said = sentences(paragraph)
        opener = bool(said) and opens_again(said[0])
        answer = self.answer(paragraph, said, opener)
        lead = before.rstrip()
        if answer is None and lead.endswith(":") and _DISPLAY.fullmatch(paragraph.strip()):
            completed = f"{sentences(lead)[-1].rstrip(':')} {paragraph.strip()}"
            answer = self.answer(completed, [completed], False)
        drops = bool(_DROPS.search(paragraph))
        passes = answer is None and any(_passes(sentence) for sentence in said)
        return Features(
            answer, self.works(paragraph), opener, drops, self.mentioned(paragraph) if passes else None, passes
        )

    def mentioned(self, paragraph: str) -> str | None:
        """An answer the paragraph writes out, in any role (a supposition, a step)."""
        return next((atom for atom in _ATOM.findall(without_boxes(paragraph)) if self.is_answer.written(atom)), None)

    def answer(self, paragraph: str, said: list[str], opener: bool) -> str | None:
        turns_again = len(said) > 1 and opens_again(said[-1])  # "... is -5. But let me double-check."
        for statement in paragraph_statements(said, self.is_answer.words):
            if turns_again and statement.sentence < len(said) - 1:
                return None  # restated on the way to a check still to come
            if (
                opener
                and statement.sentence == 0
                and not self.works(said[0])
                and not _after_colon(statement, said[0])
                and not _CONCLUDES_THAT.search(said[0])
            ):
                continue  # named in the announcement ("a way to see that CD = -5"), not arrived at
            if statement.strong:
                return statement.value
            if recalls(said[statement.sentence]):
                continue  # an earlier result reported, not arrived at again
            if self.concludes_asked(statement, said[statement.sentence], paragraph):
                return statement.value
            if self.accepts(statement, paragraph):
                return statement.value
        return None if opener and len(said) == 1 else self.is_answer.named_in(paragraph)

    def concludes_asked(self, statement: Statement, sentence: str, paragraph: str) -> bool:
        """ "Therefore, x = 124." when the question asks for $x$: an answer stated explicitly,
        right or wrong, even if the response never boxes it (a cut-off thinking never does)."""
        target = self.ask.target
        if target is None or len(target) != 1 or not statement.subject or not _CONCLUDING.match(sentence):
            return False
        if _DENIES.search(sentence):  # "Therefore, x = -4 is not a valid solution."
            return False
        subject = re.sub(r"\^\{?\\circ\}?|°", "", statement.subject).replace(" ", "")
        if subject != target or number_value(statement.value) is None or not settled(statement.value):
            return False
        return not self.ask.selectors or carries_selectors(self.ask, paragraph)

    def accepts(self, statement: Statement, paragraph: str) -> bool:
        if not self.is_answer(statement.value):
            return False
        subject = (statement.subject or "").replace(" ", "")
        if subject and not _OPERATION.search(subject) and self.is_answer.written(subject):
            return False  # the answer written another way ("448/15625 = 0.028672"): a restatement
        if not self.ask.asks_about(subject, statement.named):
            return False  # another unknown's value, or a part the question does not ask for: a step
        return not self.ask.selectors or carries_selectors(self.ask, paragraph)  # else one candidate of several

    def works(self, text: str) -> bool:
        """An operation on something other than the answer, or a number neither given nor an answer."""
        text = without_boxes(text)
        fresh = False

        def mark(match: re.Match) -> str:
            nonlocal fresh
            atom = match.group(0)
            if self.is_answer.part_of(atom):
                return "\u25a1"
            if any(number not in self.given for number in re.findall(r"\d+(?:\.\d+)?", atom.replace(",", ""))):
                fresh = True
            return "0"

        text = _ATOM.sub(mark, text)
        return fresh or bool(_STEP.search(_ASSIGNED.sub(" ", text)))


def split_paragraphs(features: list[Features]) -> list[tuple[int, str]]:
    """(index of the last paragraph, answer) of each solution. Solutions tile the paragraphs
    from the first to the last; none when no paragraph states an answer. After an answer, a
    new attempt begins only where the text turns back (work that goes on without turning back
    elaborates the same solution), and it is a solution when it reaches an answer again, unless
    it did nothing of its own: the way it last took was set aside unfinished, or it is one
    paragraph that raises a doubt and settles it in words, answered by a bare restatement. An
    answer restated after such an attempt concludes the solution before (official rule 4). In an
    attempt, a paragraph that says its test passed and writes an answer out reaches that answer."""
    ends: list[list] = []  # [last paragraph, answer] of each closed or current solution
    pending = None  # first paragraph of an attempt after the current solution's answer
    dropped = False  # the attempt's latest way (since its latest turn) was set aside
    for index, paragraph in enumerate(features):
        if not ends:
            if paragraph.answer is not None:
                ends.append([index, paragraph.answer])
            continue
        if paragraph.opener:
            pending = index if pending is None else pending
            dropped = False
        if pending is not None and paragraph.answer is None and paragraph.passes:
            # a check that puts the answer to a test and says it passes reaches it again (official
            # rule 2): "If each side is 12 cm, the perimeter is 8 * 12 = 96 cm, which matches."
            if paragraph.mentions is not None:
                paragraph = replace(paragraph, answer=paragraph.mentions)
        if pending is None:
            if paragraph.answer is not None:
                ends[-1][0] = index  # a restatement or an elaboration: the solution goes on to here
            continue
        if paragraph.answer is not None:
            # one paragraph that raises a doubt and settles it in words, then a bare restatement
            idle = index - pending == 1 and not features[pending].work and not paragraph.work
            if dropped or idle:
                ends[-1][0] = index  # an attempt with no work of its own: the restatement concludes
            else:
                ends[-1][0] = pending - 1
                ends.append([index, paragraph.answer])
            pending, dropped = None, False
        dropped = dropped or paragraph.drops
    if ends:
        ends[-1][0] = len(features) - 1
    return [(end, answer) for end, answer in ends]
