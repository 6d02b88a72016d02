"""Extract the answer a piece of text states: the last `\\boxed{}` (balanced braces), else an
"answer is" phrase, else (optionally) the last number. GPQA-style letters for multiple choice."""

from __future__ import annotations

import re

from overthink.analyze.answer_shape import assignments, strip_prose

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|would be|should be|will be|=)\s*[:：]?\s*",
    re.IGNORECASE,
)
_CHOICE_PHRASE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:|would be|should be)?\s*[:：]?\s*\(?\**\s*([A-J])\b(?![a-z])", re.IGNORECASE
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?")
_SENTENCE_END = re.compile(r"(?<!\d)\.(?=\s|$)|\n")
_CHOICE_ONLY = re.compile(r"^\s*\(?\s*([A-J])\s*\)?(?:[\s.:)]|$)")


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` with balanced braces; `\\boxed 5` works too."""
    matches = list(_BOXED.finditer(text))
    for match in reversed(matches):
        pos = match.end()
        if pos < len(text) and text[pos] == "{":
            depth = 0
            for end in range(pos, len(text)):
                if text[end] == "{":
                    depth += 1
                elif text[end] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[pos + 1 : end].strip()
            continue  # unbalanced: a cut-off box states nothing
        bare = re.match(r"[^\s$]+", text[pos:])
        if bare:
            return bare.group(0)
    return None


_FORM_ONLY = re.compile(r"(?:in|of) (?:the |a )?(?:simplest |lowest )?(?:form|terms)\b|expressed\b|written\b", re.I)


def answer_phrase(text: str) -> str | None:
    """The value after the last "answer is" phrase, up to the end of its sentence."""
    matches = list(_ANSWER_PHRASE.finditer(text))
    for match in reversed(matches):
        rest = text[match.end() :]
        end = _SENTENCE_END.search(rest)
        value = clean_value(rest[: end.start()] if end else rest)
        if _FORM_ONLY.match(rest.lstrip(" :*$")):
            continue  # "the answer should be in the form \\sqrt{a}/b": its shape, not its value
        if value and looks_like_answer(value):
            return value
        word = re.match(r"[A-Za-z]+", value)
        if word and word.group(0).lower() in _NUMBER_WORDS:
            return _NUMBER_WORDS[word.group(0).lower()]
    return None


def answer_phrase_at(text: str) -> int:
    matches = list(_ANSWER_PHRASE.finditer(text))
    return matches[-1].start() if matches else -1


_CONCLUSION = re.compile(
    r"(?:^|[\s(])(?:therefore|thus|hence|so|in conclusion|in summary|that means|this "
    r"means|finally|overall|consequently)\b",
    re.IGNORECASE,
)
_COPULA = re.compile(
    r"(?:\b(?:is|are|equals|equal to|be|was|gives|get|got|arrived "
    r"at|obtain)|=)\s+(?:indeed\s+|exactly\s+|just\s+|equal to\s+)?",
    re.I,
)
_VALUE = re.compile(
    r"\$[^$]+\$|\\\((?:.(?!\\\)))*.?\\\)|\\\[(?:.(?!\\\]))*.?\\\]"
    r"|(?:\\?\$)?[-+]?\(?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?\)?(?:\\sqrt\{[^{}]*\}|\^\{?\d+\}?|_\{?\d+\}?|π|\\pi)?"
    r"|\\(?:frac|dfrac|sqrt|pi)(?:\{[^{}]*\})+"
)
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}


def sentences(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+|\n+", text) if part.strip()]


def conclusion_value(sentence: str, require_marker: bool = True) -> str | None:
    """ "Therefore, the minimum value is 64." -> "64". Without `require_marker`, a sentence that
    ends in "is <value>." counts too ("The greater integer is 18.")."""
    has_marker = bool(_CONCLUSION.search(sentence))
    if require_marker and not has_marker:
        return None
    copulas = list(_COPULA.finditer(sentence))
    if not copulas:
        return None
    if not has_marker and is_relation(sentence):
        return clean_value(sentence)  # a displayed equation such as a plane: the whole of it
    last = copulas[-1]
    worded = [copula for copula in copulas if "=" not in copula.group(0)]
    # "the equation of the line is y = -2x": the whole formula after the word
    formula = settled_formula(sentence[worded[-1].end() :]) if worded else None
    if not formula and "=" in last.group(0):  # "So the line y = -2x ...": the formula the sign sits in
        before = sentence[: last.start()].split()
        start = len(before)
        while start > 0 and _mathy(before[start - 1]):
            start -= 1
        formula = settled_formula(" ".join(before[start:]) + " = " + sentence[last.end() :])
    if formula:
        return formula
    rest = sentence[last.end() :].strip()
    value = _VALUE.match(rest)
    if value:
        tail = rest[value.end() :].strip(" .!")
        if has_marker or len(tail.split()) <= 1:  # "is 18." or "arrived at 8 meals."
            return clean_value(value.group(0))
        return None
    word = re.match(r"[A-Za-z]+", rest)
    return _NUMBER_WORDS.get(word.group(0).lower()) if word and has_marker else None


def concluded_answer(text: str, require_marker: bool = True) -> tuple[int, str] | None:
    """The last concluding sentence's value, with its offset in `text`."""
    for match in reversed(list(re.finditer(r"[^\n]+", text))):
        for sentence in reversed(sentences(match.group(0))):
            value = conclusion_value(sentence, require_marker)
            if value:
                return match.start(), value
    return None


_JUDGEMENTS = frozenset(
    "correct right wrong incorrect consistent the same clear obvious straightforward "
    "confirmed verified above below as follows".split()
) | {"the same", "as follows"}


def looks_like_answer(value: str) -> bool:
    """Reject "the answer is correct": an answer holds a digit, LaTeX, a letter choice or is short."""
    if re.search(r"[\d\\^_=π√∞]", value):
        return True
    if value.lower().strip("*. ") in _JUDGEMENTS:
        return False
    return len(value.split()) <= 2 and len(value) <= 24


def last_number(text: str) -> str | None:
    """The last number, or the expression it belongs to: "y = -2x correctly describes" -> "y = -2x"."""
    numbers = list(_NUMBER.finditer(text))
    if not numbers:
        return None
    last = numbers[-1]
    line_start = text.rfind("\n", 0, last.start()) + 1
    line_end = text.find("\n", last.end())
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    tokens = line.split()
    at = len(text[line_start : last.start()].split()) - (0 if text[last.start() - 1 : last.start()].isspace() else 1)
    at = max(at, 0)
    start = end = at
    while start > 0 and _mathy(tokens[start - 1]):
        start -= 1
    while end + 1 < len(tokens) and _mathy(tokens[end + 1]):
        end += 1
    expression = clean_value(" ".join(tokens[start : end + 1]))
    if start == end or not _mathy(tokens[at]) or not expression:
        return last.group(0).replace(",", "").replace(" ", "")
    return expression


def _mathy(token: str) -> bool:
    """A token of a formula: no run of two letters outside a LaTeX command, no sentence colon."""
    bare = re.sub(r"\\[A-Za-z]+", "", token.rstrip(".,;!?"))
    return bool(bare) and not re.search(r"[A-Za-z]{2}|:", bare)


def settled_formula(text: str) -> str | None:
    """The formula `text` opens with, if it is more than a number: `y = -2x` stays whole, a
    computation such as `3 + 4 = 7` or an assignment `x = 5` settles to its right side."""
    tokens = text.split()
    run = []
    for index, token in enumerate(tokens):
        joins = token in ("and", "or") and run and index + 1 < len(tokens) and _mathy(tokens[index + 1])
        if not (_mathy(token) or joins):
            break
        run.append(token)
        if token[-1:] in ".;!?" and not re.search(r"\d\.$", token[-2:]):
            break
    formula = clean_value(" ".join(run))
    if not formula or _VALUE.fullmatch(formula) or not re.search(r"[\d\\]", formula):
        return None  # a plain value or a lone letter: the caller's own reading is as good
    pairs = assignments(formula)
    if pairs is not None:  # "x = 2 and x = -2": both values stated
        return ", ".join(value for _, value in pairs)
    if "=" in formula and not is_relation(formula):
        left, right = (side.strip() for side in formula.rsplit("=", 1))
        if right and (not re.search(r"[A-Za-z]", right) or not re.search(r"[A-Za-z]", left)):
            return right
    return formula


def is_relation(sentence: str) -> bool:
    """`5x - 7y + 11z + 4 = 0`: an equation whose left side is more than one variable's name,
    stated on its own; `x = 3` (a value) and `8100 - 100 = 8000` (a computation) are not."""
    formula = clean_value(sentence)
    if formula.count("=") != 1 or any(not _mathy(token) for token in formula.split()):
        return False
    left = formula.split("=")[0].strip()
    return bool(re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", left))) and not re.fullmatch(r"[A-Za-z]", left)


def clean_value(value: str) -> str:
    value = value.strip().strip("*").strip()
    value = re.sub(r"^\\?\$+|\$+$", "", value).strip()
    value = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", value).strip()
    return strip_prose(value.rstrip(".,;:!").strip())


def stated_answer(text: str, require_marker: bool = True) -> str | None:
    """What `text` explicitly states as its answer: the last box, else the later of the last
    "answer is" phrase and the last concluding sentence ("Therefore, x is 5.")."""
    boxed = last_boxed(text)
    if boxed:
        return boxed
    phrase = answer_phrase(text)
    concluded = concluded_answer(text, require_marker)
    if phrase and concluded and concluded[0] > answer_phrase_at(text):
        return concluded[1]
    return phrase or (concluded[1] if concluded else None)


def tail(text: str, paragraphs: int = 3) -> str:
    """The last few paragraphs: where a response states its final answer."""
    parts = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n\n".join(parts[-paragraphs:])


def extract_math_answer(text: str, fallback_last_number: bool = False) -> str | None:
    """The final answer a math text states, or None; the last number only if asked for.
    A box anywhere wins; otherwise only the last paragraphs are read, so that an early
    intermediate conclusion is never taken for the final answer."""
    boxed = last_boxed(text)
    if boxed:
        return boxed
    end = tail(text)
    stated = stated_answer(end, require_marker=False)
    return stated or (last_number(end) if fallback_last_number else None)


def extract_choice(text: str) -> str | None:
    """A multiple-choice letter: `Answer: C`, `\\boxed{C}`, "the answer is (C)"."""
    boxed = last_boxed(text)
    if boxed:
        letter = _CHOICE_ONLY.match(re.sub(r"\\text\{(.*?)\}", r"\1", boxed))
        if letter:
            return letter.group(1).upper()
    matches = list(_CHOICE_PHRASE.finditer(text))
    return matches[-1].group(1).upper() if matches else None


def is_choice_gold(gold: str) -> bool:
    return bool(re.fullmatch(r"\(?[A-J]\)?", gold.strip()))


def extract_answer(text: str, choice: bool, fallback_last_number: bool = False) -> str | None:
    return extract_choice(text) if choice else extract_math_answer(text, fallback_last_number)


_TERMINAL = tuple(".!?)]}$>*") + ("\\]", "\\)")


def looks_cut_off(text: str) -> bool:
    """A response that stops mid-sentence was cut at the token limit."""
    end = text.rstrip()
    return bool(end) and not end.endswith(_TERMINAL)


def final_answer(
    answer_part: str, thinking: str, truncated: bool, choice: bool, fallback_last_number: bool
) -> str | None:
    """The response's final answer: from the text after the thinking when it states one, else
    from the end of the thinking. A cut-off thinking has no final answer unless it boxed one."""
    if answer_part.strip():
        found = extract_answer(answer_part, choice, fallback_last_number and not looks_cut_off(answer_part))
        if found:
            return found
    if truncated:
        return extract_choice(tail(thinking)) if choice else last_boxed(tail(thinking))
    return extract_answer(thinking, choice, fallback_last_number)
