"""What a question asks for, read from its text: the expression it asks about ("What is $a+b$?",
"Find the product $CD$"), the other unknowns it names, and a selector ("the largest", "the
positive value") that an answer must carry. The splitter uses it to tell an answer from an
intermediate value: "D = -5" is not an answer to "Find the product $CD$", and one root of three
is not "the largest $x$-value" until the text picks it.

Pure string work on the question; no model."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.DOTALL)
_INLINE_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
# The sentence that asks: a question mark, or an imperative that sets the task.
_ASKS = re.compile(
    r"\?|\b(?:find|compute|evaluate|determine|calculate|simplify|solve|express|enter|give|write|"
    r"what|which|how many|how much)\b",
    re.IGNORECASE,
)
_FORMAT_ONLY = re.compile(r"^\s*(?:express|enter|write|give)\s+(?:your|the)\s+answer", re.IGNORECASE)
# A verb of asking, then at most a few words ("the product", "the value of"), then the math.
_ASKED_MATH = re.compile(
    r"\b(?:find|compute|evaluate|determine|calculate|simplify|what is|what's|solve for)\b"
    r"(?P<words>(?:\s+(?!(?:than|less|greater|more|at|to|if|when|for|in|with|that|such)\b)[A-Za-z-]+){0,4}?)"
    r"\s*(?P<math>\$\$[^$]+\$\$|\$[^$]+\$|\\\(.+?\\\)|\\\[.+?\\\])",
    re.IGNORECASE,
)
_SYMBOL = re.compile(r"(?<![A-Za-z\\])([A-Za-z])(?![A-Za-z])")
_SELECTORS = {
    "largest": re.compile(
        r"\b(?:largest|greatest|biggest|highest|maximum|maximal|max|most|maximi[sz]e[sd]?)\b(?!\s+common)", re.I
    ),
    "smallest": re.compile(
        r"\b(?:smallest|least|lowest|minimum|minimal|min|fewest|minimi[sz]e[sd]?)\b(?!\s+common)", re.I
    ),
    "positive": re.compile(r"\bpositive\b", re.I),
    "negative": re.compile(r"\bnegative\b", re.I),
}
# "at least", "at most", "the greatest common divisor": names and bounds, not a choice among values
# "the region with the greatest area": a selector that picks an object the question then asks
# something else of (its area, a difference), not a choice among the answer's values
_NOT_SELECTING = re.compile(
    r"\bat\s+(?:least|most)\b|\b(?:greatest|least)\s+common\b|\bleast\s+one\b|"
    r"\b(?:with|has|have|having)\s+the\s+\w+(?:\s+\w+)?",
    re.I,
)
_SIGN_SELECTS = {
    sign: re.compile(rf"\b{sign}\s+(?:real\s+)?(?:value|solution|root|number|difference)", re.I)
    for sign in ("positive", "negative")
}


# Parts of a computation: a value said of one ("the integer part is 1", "the remainder is 4", "the
# discriminant is 36") is a step, unless the question asks for that part.
_COMPONENTS = frozenset(
    "part remainder quotient numerator denominator exponent coefficient discriminant lcm gcd gcf "
    "multiple factor divisor term".split()
)


@dataclass(frozen=True)
class Ask:
    """`target`: the asked expression, normalized (None when the question asks in words);
    `unknowns`: single-letter symbols the question names; `selectors`: the kinds of choice the
    answer must state ("largest", "smallest", "positive", "negative"); `words`: its words."""

    target: str | None = None
    unknowns: frozenset[str] = frozenset()
    selectors: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()  # every word of the question, lower case

    def asks_about(self, subject: str | None, named: tuple[str, ...] = ()) -> bool:
        """Could a value said of `subject` (the left side of its `=`) or of `named` (the words
        before its "is") answer the question? Not the value of another unknown of the problem
        ("D = -5" when it asks for CD), nor a part of the computation it does not ask for."""
        subject = (subject or "").replace(" ", "")
        if re.fullmatch(r"[A-Za-z]", subject) and subject in self.unknowns:
            if self.target is not None and self.target != subject and "=" not in self.target:
                return False
        if self.target is not None and self.target.lower() in named:
            return True  # "the coefficient d is 35/64" when it asks for $d$
        return not (self.words and any(w in _COMPONENTS and w not in self.words for w in named))


def math_key(text: str) -> str:
    """A math snippet compared loosely: no spaces, braces, dollar signs or `\\left`/`\\right`."""
    text = re.sub(r"\\(?:left|right|overline|mathbf|mathrm|text|operatorname)\b", "", text)
    return re.sub(r"[\s{}$]|\\[,;!:]", "", text).rstrip(".,;:")


def read_question(question: str) -> Ask:
    if not question:
        return Ask()
    text = _ASY.sub(" ", question)
    unknowns = frozenset(
        symbol
        for match in _INLINE_MATH.finditer(text)
        for symbol in _SYMBOL.findall(re.sub(r"\\[A-Za-z]+", " ", next(g for g in match.groups() if g)))
    )
    sentence = asking_sentence(text)
    asked = _ASKED_MATH.search(sentence)
    target = None
    if asked:
        target = math_key(re.sub(r"^\\[(\[]|\\[)\]]$", "", asked.group("math").strip("$"))) or None
    else:  # "What is the number of degrees represented by $x$?": the one symbol it asks about
        symbols = [next(g for g in m.groups() if g) for m in _INLINE_MATH.finditer(sentence)]
        if len(symbols) == 1 and re.fullmatch(r"\s*[A-Za-z]\s*[.,]?\s*", symbols[0]):
            target = math_key(symbols[0])
    plain = _NOT_SELECTING.sub(" ", sentence)
    selectors = {name for name in ("largest", "smallest") if _SELECTORS[name].search(plain)}
    selectors |= {sign for sign, pattern in _SIGN_SELECTS.items() if pattern.search(plain)}
    words = frozenset(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    return Ask(target, unknowns, frozenset(selectors), words)


def asking_sentence(text: str) -> str:
    """The last sentence that asks something and is not only about the answer's format."""
    # a sentence ends at its full stop, also one inside math ("... = 1.$  Find the minimum")
    parts = [p for p in re.split(r"(?:(?<=[.?!])|(?<=[.?!]\$))\s+(?=[A-Z$\\])", " ".join(text.split())) if p.strip()]
    asking = [p for p in parts if _ASKS.search(p) and not _FORMAT_ONLY.match(p)]
    return asking[-1] if asking else (parts[-1] if parts else "")


def carries_selectors(ask: Ask, text: str) -> bool:
    """The text names the choice the question asks for ("the largest is 6", "highest")."""
    plain = _NOT_SELECTING.sub(" ", text)
    return all(_SELECTORS[name].search(plain) for name in ask.selectors)
