"""The shape of a stated answer, so that grading compares what was meant: a value with prose
around it ("9 customers", "definitely \\(8000\\)"), an equation, an inequality (an interval
written another way), an unordered list of solutions, or assignments that form a tuple.

Pure string work; the grader decides equality (math-verify) on the forms this module returns."""

from __future__ import annotations

import re

_MATH_WORDS = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan log ln exp sqrt pi mod gcd lcm max min det".split()
)
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z][A-Za-z']+(?![A-Za-z])")
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox)\s*\{([^{}]*)\}")
_DELIMITERS = re.compile(r"\\[()\[\]]|\$")
_UNICODE = {"π": "\\pi ", "∞": "\\infty ", "≤": "\\le ", "≥": "\\ge ", "°": "^\\circ", "√": "\\sqrt ", "−": "-"}
_PLAIN_ROOT = re.compile(r"(?<![\\A-Za-z])sqrt\s*\(([^()]*)\)")
_PLAIN_PI = re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])")
# 12^{\text{th}} and 12th are 12; `\mbox{ cm}^2` and `cm^2` are units, exponent and all
_ORDINAL = re.compile(r"(\d)\s*(?:\^\{?\s*(?:\\text\{)?\s*(?:st|nd|rd|th)\s*\}?\}?|(?:st|nd|rd|th)\b)")
_UNIT_POWER = re.compile(
    r"(?:\\(?:text|mbox|mathrm)\s*\{\s*([A-Za-z ]+?)\s*\}|(?<![\\A-Za-z])([A-Za-z]{2,}))\^\{?[23]\}?"
)
_CONNECTOR = re.compile(r"\s+(?:or|and)\s+", re.IGNORECASE)


def plain_text_as_latex(value: str) -> str:
    """`sqrt(3)` and `pi` written out in plain text, as LaTeX: what the grader parses as a root."""
    return _PLAIN_PI.sub(r"\\pi", _PLAIN_ROOT.sub(r"\\sqrt{\1}", value))


def is_prose_word(word: str) -> bool:
    return word.lower() not in _MATH_WORDS


def _unwrap_text(match: re.Match) -> str:
    return f" {match.group(1)} "


def strip_prose(answer: str) -> str:
    """The mathematical core of a stated answer: LaTeX delimiters, `\\text{}` wrappers and the
    runs of prose words before and after the value go; words inside it stay (a phrase like
    "3 apples and 2 pears" is not a value, and stays ungradeable rather than guessed). An answer
    that is all prose ("Navin") comes back unwrapped but whole."""
    text = _ORDINAL.sub(r"\1", answer)
    text = _UNIT_POWER.sub(lambda unit: f" {unit.group(1) or unit.group(2)} ", text)
    text = _TEXT_COMMAND.sub(_unwrap_text, text)
    text = _DELIMITERS.sub(" ", text)
    for symbol, latex in _UNICODE.items():
        text = text.replace(symbol, latex)
    text = _tidy(text)
    words = [m for m in _PROSE_WORD.finditer(text) if is_prose_word(m.group(0))]
    if not words or len(words) == len(_PROSE_WORD.findall(text)) and not _has_math(_PROSE_WORD.sub("", text)):
        return text
    start, end = 0, len(text)
    for word in words:  # leading run of prose
        if text[start : word.start()].strip(" ,:;.") == "":
            start = word.end()
        else:
            break
    for word in reversed(words):  # trailing run of prose
        if word.start() >= start and text[word.end() : end].strip(" ,:;.!") == "":
            end = word.start()
        else:
            break
    core = _tidy(text[start:end])
    return core if _has_math(core) else text


def _tidy(text: str) -> str:
    return " ".join(text.split()).lstrip(" ,;:").rstrip(" .,;:!")  # a leading "." is `.5`


def _has_math(text: str) -> bool:
    return bool(re.search(r"[\d\\]|(?<![A-Za-z])[A-Za-z](?![A-Za-z])", text))


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on `separator` outside (), [], {} (and `\\{ \\}`)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,(?:\\!)?\s?\d{3})+(?:\.\d+)?")


def is_bare_list(answer: str) -> bool:
    """`1, 2` (solutions, order free) as opposed to `(1, 2)`, `\\{1, 2\\}` or `11,\\!111`."""
    return len(split_top_level(answer)) > 1 and not _THOUSANDS.fullmatch(answer.strip())


def is_equation(answer: str) -> bool:
    return "=" in answer and not _INEQUALITY.search(answer)


_OP = r"(?:<=|>=|\\leqslant|\\geqslant|\\leq|\\geq|\\le|\\ge|\\lt|\\gt|<|>)"
_INEQUALITY = re.compile(_OP)
_LESS = {"<", "\\lt"}
_GREATER = {">", "\\gt"}
_AT_MOST = {"<=", "\\le", "\\leq", "\\leqslant"}
_AT_LEAST = {">=", "\\ge", "\\geq", "\\geqslant"}
_VARIABLE = r"[a-zA-Z]"
_CHAIN = re.compile(
    rf"^(?P<low>[^<>=]+?)\s*(?P<op1>{_OP})\s*(?P<var>{_VARIABLE})\s*(?P<op2>{_OP})\s*(?P<high>[^<>=]+)$"
)
_SINGLE = re.compile(rf"^(?P<left>[^<>=]+?)\s*(?P<op>{_OP})\s*(?P<right>[^<>=]+)$")


def _interval_of(part: str) -> str | None:
    chain = _CHAIN.match(part.strip())
    if chain:
        op1, op2 = chain["op1"], chain["op2"]
        if op1 in _LESS | _AT_MOST and op2 in _LESS | _AT_MOST:
            left = "[" if op1 in _AT_MOST else "("
            right = "]" if op2 in _AT_MOST else ")"
            return f"{left}{chain['low'].strip()}, {chain['high'].strip()}{right}"
        return None
    single = _SINGLE.match(part.strip())
    if not single:
        return None
    left, op, right = single["left"].strip(), single["op"], single["right"].strip()
    if re.fullmatch(_VARIABLE, right) and not re.fullmatch(_VARIABLE, left):  # 3 > x  ->  x < 3
        left, right = right, left
        op = {**{o: ">" for o in _LESS}, **{o: "<" for o in _GREATER}, **{o: "\\ge" for o in _AT_MOST}}.get(op, "\\le")
    if not re.fullmatch(_VARIABLE, left):
        return None
    if op in _LESS | _AT_MOST:
        return f"(-\\infty, {right}{']' if op in _AT_MOST else ')'}"
    return f"{'[' if op in _AT_LEAST else '('}{right}, \\infty)"


def as_interval(answer: str) -> str | None:
    """`x \\le 3` -> `(-\\infty, 3]`; `2 \\le x < 5` -> `[2, 5)`; pieces joined by "or" or
    commas -> their union. None unless every piece is an inequality in one variable."""
    parts = split_top_level(_CONNECTOR.sub(", ", answer))
    intervals = [_interval_of(part) for part in parts]
    if not parts or any(interval is None for interval in intervals):
        return None
    return " \\cup ".join(intervals)


_ASSIGNMENT = re.compile(rf"^\s*(?P<var>{_VARIABLE}(?:_\{{?\w+\}}?)?)\s*=\s*(?P<value>[^=]+)$")


def assignments(answer: str) -> list[tuple[str, str]] | None:
    """`x = 1, y = 2` or `x = -2 or x = 5` -> [(x, 1), (y, 2)]; None unless every piece is one."""
    parts = split_top_level(_CONNECTOR.sub(", ", answer))
    found = [_ASSIGNMENT.match(part) for part in parts]
    if len(parts) < 2 or not all(found):
        return None
    return [(match["var"], match["value"].strip()) for match in found]


def prediction_for(gold: str, prediction: str) -> str:
    """The prediction in the shape the gold has, where the two are one answer written two ways."""
    if is_equation(gold):
        return prediction  # an equation is compared whole, both sides
    pairs = assignments(prediction)
    if pairs is not None:
        variables = [var for var, _ in pairs]
        values = ", ".join(value for _, value in pairs)
        distinct = len(set(variables)) == len(variables)
        return f"({values})" if distinct and gold.lstrip().startswith("(") else values
    if gold.strip()[:1] in "([" and _INEQUALITY.search(prediction):
        interval = as_interval(prediction)
        if interval:
            return interval
    if is_equation(prediction) and prediction.count("=") == 1:
        right = prediction.split("=", 1)[1].strip()  # `x + y = 17` answers 17
        if right:
            return right
    return prediction
