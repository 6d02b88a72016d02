"""The values a paragraph states as results, and whether two stated values are the same number.

A result sits where a sentence arrives: in a `\\boxed{}`, after "the answer is", at the end of
a chain of equals signs ("CD = (-1)(5) = -5"), or after a verb of being or arriving ("26 times
1000 is 26,000", "the largest is 6", "that leaves 9"). Each comes with what it is said of (the
left side of its chain), so that the splitter can tell the value of another unknown from an
answer. Pure string work, linear in the paragraph's length."""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass

from overthink.analyze.extract import _NUMBER_WORDS, answer_phrase, clean_value, last_boxed


@dataclass(frozen=True)
class Statement:
    """A value a sentence arrives at. `strong`: boxed or after "the answer is" (an answer
    whatever its value); `subject`: the left side of its chain of equals signs, if any;
    `sentence`: the index of its sentence in the paragraph; `named`: what a verb says it of."""

    value: str
    strong: bool = False
    subject: str | None = None
    sentence: int = 0
    named: tuple[str, ...] = ()  # the words before "is" ("the integer part is 1": the, integer, part)


CONNECTIVES = "so|thus|hence|therefore"  # the words a conclusion opens with
# Plain-text names of math a response writes out ("(-sqrt(3), sqrt(3))", "(-inf, 0]"): math, not prose
_PLAIN_MATH = r"(?:sqrt|pi|infty|inf)\b"
# Verbs that arrive at a value: "is 5", "equals 5", "gives 5", "comes to 5", "leaves 5", "x \\in (5, \\infty)", and a
# clause that opens with "so" / "thus" on a bare value ("so -50 in total").
_ARRIVES = re.compile(
    rf"(?<![<>!=\\])=(?!=)|\\in(?![A-Za-z])|^\W*(?:{CONNECTIVES})\b,?|\b(?:is|are|was|were|equals?|equaled|gives?|gave|get|gets|got|becomes?|be|"
    r"(?:comes?|amounts?|simplifies|simplify|reduces?|works? out|adds? up|sums?|equal) to|leaves?|yields?|"
    r"(?<!in )totals?|makes?|means|lands? on|(?:a )?total of|ends? up (?:with|at)|arrive[sd]? at|obtain(?:ed|s)?|"
    r"(?:written|expressed) as)\b|(?:(?<=\bit)|(?<=\bthat))['’]s\b",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:\s|:|indeed\b|exactly\b|just\b|also\b|still\b|simply\b|only\b|then\b|now\b|actually\b|"
    r"equal to\b|given by\b|the same as\b|precisely\b|again\b|therefore\b|thus\b|so\b|,)+",
    re.IGNORECASE,
)
_CLOSERS = {"\\(": "\\)", "\\[": "\\]", "$$": "$$", "$": "$"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CURRENCY = re.compile(r"\\?\$(\d[\d,]*(?:\.\d+)?)(?=[\s.,;!?)]|$)")  # "$36." is dollars, not math


def sentences(paragraph: str) -> list[str]:
    """Sentences and list items; a display (`\\[ ... \\]`) spanning lines stays whole."""
    lines, held = [], ""
    for line in paragraph.split("\n"):
        held = f"{held} {line}" if held else line
        if held.count("\\[") <= held.count("\\]") and held.count("$$") % 2 == 0:
            lines.append(held)
            held = ""
    if held:
        lines.append(held)
    out = []
    for line in lines:
        out.extend(part for part in re.split(r"(?<=[.!?])\s+(?=[A-Z\\$(*])", line) if part.strip())
    return out


def _math_run(text: str) -> str:
    """The formula `text` opens with: a delimited one whole, else tokens while they look like math."""
    currency = _CURRENCY.match(text)
    if currency:
        return currency.group(1)
    environment = re.match(r"\\begin\{(\w+\*?)\}", text)
    if environment:  # a matrix or vector, whole: `\begin{pmatrix} -7 \\ 16 \end{pmatrix}`
        stop = text.find(f"\\end{{{environment.group(1)}}}")
        return text[: stop + len(environment.group(1)) + 6] if stop > 0 else ""
    for opener, closer in _CLOSERS.items():
        if text.startswith(opener):
            stop = text.find(closer, len(opener))
            return text[: stop + len(closer)] if stop > 0 else ""
    run, depth = [], 0
    for token in text.split(" "):
        if not token:
            continue
        bare = re.sub(rf"\\[A-Za-z]+|\b{_PLAIN_MATH}", "", token.rstrip(".,;:!?"))
        if token == "=" or (not bare and not token.startswith("\\")) or re.search(r"[A-Za-z]{2}|:|=", bare):
            break
        run.append(token)
        depth += token.count("(") + token.count("[") - token.count(")") - token.count("]")
        if depth <= 0 and (token[-1] in ",;:!?" or (token.endswith(".") and not token.endswith("..."))):
            break  # a comma inside a pair, "(3, π/2)", does not end it
    return " ".join(run)


# "option C is much larger": a choice named and judged; "C) 10^-4 eV" alone is the list of options
_OPTION_NAMED = re.compile(r"\b(?:option|choice)\s+\(?([A-J])\b\)?", re.IGNORECASE)
_CHOICE = re.compile(r"(?:option|choice|answer)?\s*\(?([A-J])\)?(?![\w'])", re.IGNORECASE)


def _value_after(text: str) -> str | None:
    rest = _FILLER.sub("", text)
    choice = _CHOICE.match(re.sub(r"^(?:the\s+)?(?:correct\s+|right\s+|best\s+)?", "", rest, flags=re.I))
    if choice and (choice.group(0).strip()[:1] in "(" or len(choice.group(0).strip()) > 1):
        return choice.group(1).upper()  # "option C", "(C)": a choice
    formula = _math_run(rest)
    if formula and re.search(r"[\d\\]", formula):
        return clean_value(formula) or None
    word = _WORD.match(rest)
    if word and word.group(0).lower() in _NUMBER_WORDS:
        return _NUMBER_WORDS[word.group(0).lower()]
    return None


def _subject(before: str) -> str | None:
    """The left side of a chain: the formula just before its first equals sign."""
    tokens = before.rstrip().split(" ")
    run = []
    for token in reversed(tokens):
        bare = re.sub(r"\\[A-Za-z]+", "", token.strip(".,;:()$"))
        if not token or (re.search(r"[A-Za-z]{2}", bare) and not re.fullmatch(r"[A-Z]{2,3}", bare)):
            break
        run.append(token)
    return clean_value(" ".join(reversed(run))) or None


_CLAUSE = re.compile(
    rf",\s+(?=(?!{_PLAIN_MATH})[A-Za-z]{{2}}|[A-Za-z]\s*=)|;\s|\s(?=(?:and|so|which|but|then|thus|hence|therefore|because|since|where|while|when|if)\s)",
    re.IGNORECASE,
)
# A clause that supposes or sets up ("If the price was $36", "Given P = 115", "Let x = 2",
# "plugging in x = 6") states no result.
_SUPPOSES = re.compile(
    r"^\W*(?:and\s+|but\s+|so\s+)?(?:if|given|let(?!\s+me\b|'s\s+(?!say|suppose|assume|denote|call))|suppose|"
    r"supposing|assume|assuming|when|whenever|plug\w*|"
    r"substitut\w*|try|trying|test\w*|say)\b",
    re.IGNORECASE,
)
# Words that conclude: a sentence naming a worded answer with one of these states it.
_CONCLUDES = re.compile(
    r"\b(?:so|thus|therefore|hence|clearly|answer|conclu\w*|final\w*|must be|is|are|has|have)\b", re.IGNORECASE
)


# Three or more short items in a row ("Evelyn, Briana, Carla", "even, odd, or neither"): the
# candidates listed, none of them chosen.
_ENUMERATION = re.compile(r"(?:\b[\w'-]+(?: [\w'-]+)?,\s+){2,}(?:(?:and|or)\s+)?[\w'-]+")


# A value said first, then what it is: "So, 27 is indeed the smallest such perfect cube."
_NAMED_FIRST = re.compile(
    rf"^\W*(?:(?:{CONNECTIVES}|yes|clearly),?\s+)?\$?(?P<value>-?\d+(?:,\d{{3}})*(?:\.\d+)?)\$?\s+"
    r"(?:is|must be)(?:\s+(?:indeed|also|still|definitely|in fact))?\s+the\s+(?P<what>[a-z][\w -]*)",
    re.IGNORECASE,
)
_NEGATED = frozenset({"not", "cannot", "can't", "never", "couldn't", "wouldn't", "shouldn't", "won't"})


def sentence_results(sentence: str, index: int = 0, names: frozenset[str] = frozenset()) -> list[Statement]:
    """The values a sentence arrives at, in order: after each verb of arriving, and after the
    last equals sign of each clause ("345 / 3 = 115": 115, not 345 / 3); several values given
    to one unknown ("x = 1 and x = -2") also as their list; a worded answer in `names` that a
    concluding sentence names ("Clearly, Evelyn has the highest average speed"). A sentence
    that asks or announces a trial ("What about x = 4?", "First, x = 2:") arrives at nothing."""
    found = []
    if sentence.rstrip().endswith(("?", ":")):
        return found
    for clause in _CLAUSE.split(sentence):
        if _SUPPOSES.match(clause):
            continue
        arrivals = list(_ARRIVES.finditer(clause))
        equals = [a for a in arrivals if a.group(0) == "="]
        for arrival in arrivals:
            if arrival.group(0) == "=" and arrival is not equals[-1]:
                continue  # a step of the chain
            if arrival.start() == 0 and len(arrivals) > 1:
                continue  # "so 12 divided by 4 gives 3": the connective opens a computation, its verb arrives
            value = _value_after(clause[arrival.end() :])
            if value:
                subject = _subject(clause[: equals[0].start()]) if arrival.group(0) == "=" else None
                copula = arrival.group(0).lower() in ("is", "are", "was", "were", "equals", "equal", "be")
                named = tuple(w.lower() for w in _WORD.findall(clause[: arrival.start()])[-3:]) if copula else ()
                if _NEGATED.intersection(named):
                    continue  # "a_p and b_p cannot both be 1": ruled out, not arrived at
                found.append(Statement(value, subject=subject, sentence=index, named=named))
        named_first = _NAMED_FIRST.match(clause)
        if named_first:  # "So, 27 is indeed the smallest such cube": the value, then what it is
            named = tuple(w.lower() for w in _WORD.findall(named_first.group("what"))[:3])
            found.append(Statement(clean_value(named_first.group("value")), sentence=index, named=named))
    by_subject: dict[str, list[str]] = {}
    for statement in found:
        if statement.subject and re.fullmatch(r"[A-Za-z]", statement.subject):
            by_subject.setdefault(statement.subject, []).append(statement.value)
    found += [Statement(", ".join(v), subject=k, sentence=index) for k, v in by_subject.items() if len(v) > 1]
    if names and _CONCLUDES.search(sentence):
        listed = {w.lower() for run in _ENUMERATION.finditer(sentence) for w in _WORD.findall(run.group(0))}
        words = {w.lower() for w in _WORD.findall(sentence)} - listed
        found += [Statement(name, sentence=index) for name in sorted(names) if name.lower() in words]
    named = {m.group(1).upper() for m in _OPTION_NAMED.finditer(sentence)} - {s.value for s in found}
    found += [Statement(letter, sentence=index) for letter in sorted(named)]
    return found


def paragraph_statements(said: list[str], names: frozenset[str] = frozenset()) -> list[Statement]:
    """The statements of a paragraph's sentences, the last sentence first; in each, boxed and
    "answer is" values (strong) before the values its clauses arrive at, the last first."""
    found = []
    for index in range(len(said) - 1, -1, -1):
        sentence = said[index]
        found.extend(
            Statement(v, strong=True, sentence=index) for v in (last_boxed(sentence), answer_phrase(sentence)) if v
        )
        found.extend(sentence_results(sentence, index, names)[::-1])
    return found


# ---- numbers -------------------------------------------------------------------------------

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_LATEX = (
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"((\1)/(\2))"),
    (re.compile(r"\\[dt]?frac\s*(\d)\s*(\d)"), r"((\1)/(\2))"),
    (re.compile(r"\\sqrt\s*\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\\sqrt\s*(\d+)"), r"sqrt(\1)"),
    (re.compile(r"\\(?:cdot|times)|×|·"), "*"),
    (re.compile(r"\\pi\b|π"), "pi"),
    (re.compile(r"\\left|\\right|\\[,!;: ]|\$|\\%|%|\^\{?\\circ\}?|°"), ""),
)


def number_value(text: str) -> float | None:
    """The value of a plain numeric expression (`\\frac{448}{15625}`, `3\\sqrt{2}`, `26,000`,
    `0.028672`, `-\\frac{\\pi}{2}`), or None for anything with a variable or beyond arithmetic."""
    text = text.strip().rstrip(".")
    if not text or len(text) > 80 or not re.search(r"\d", text):
        return None
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    for pattern, replacement in _LATEX:
        text = pattern.sub(replacement, text)
    text = text.replace("{", "(").replace("}", ")").replace("^", "**")
    text = re.sub(r"(?<=[\d)])\s*(?=[(a-z])", "*", text)
    if re.search(r"[^\d.+\-*/() a-z]", text) or set(re.findall(r"[a-z]+", text)) - {"sqrt", "pi"}:
        return None
    try:
        return _evaluate(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _evaluate(node) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id == "pi":
        return math.pi
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base, power = _evaluate(node.left), _evaluate(node.right)
        if abs(power) > 64:
            raise ValueError("power too large")
        return base**power
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "sqrt"
        and len(node.args) == 1
    ):
        return math.sqrt(_evaluate(node.args[0]))
    raise ValueError("not arithmetic")


# An operation between two numbers left to do: `35 \\times 64`, `2500 - 2550`, `14.40 / 0.40`, `2^{10}`.
_UNSETTLED = re.compile(
    r"[\d})]\s*(?:[×÷*·^+\-/]|\\times|\\cdot|\\div)\s*(?:\\[dt]?frac\s*\{|\\sqrt\s*\{|[{(]|\s)*-?\d"
)
_FRACTION = re.compile(r"^-?(?:\\[dt]?frac\{(\d+)\}\{(\d+)\}|(\d+)\s*/\s*(\d+))$")
# a fraction whose parts open with whole numbers: `\\frac{3}{3\\sqrt{3}}`, `\\frac{40}{0.02}`
_FRACTION_PARTS = re.compile(
    r"\\[dt]?frac\s*\{\s*(\d+(?:\.\d+)?)((?:[^{}]|\{[^{}]*\})*)\}\s*\{\s*(\d+(?:\.\d+)?)((?:[^{}]|\{[^{}]*\})*)\}"
)
_ROOT = re.compile(r"(?:\\sqrt\s*\{|sqrt\s*\(|√\s*\(?)\s*(\d+)\s*[})]?")
_ROOT_OF_FRACTION = re.compile(r"\\sqrt\s*\{\s*\\[dt]?frac\s*\{(\d+)\}\s*\{(\d+)\}\s*\}")


def settled(value: str) -> bool:
    """A value arrived at, not a computation still to do: no operation between numbers left
    (`35 \\times \\frac{1}{625}`, `2500 - 2550`), a fraction in lowest terms (`2240/78125` and
    `\\frac{3}{3\\sqrt{3}}` are steps, and so is `\\frac{40}{0.02}`) and a root with no square left
    under it (`\\sqrt{117}` is a step to `3\\sqrt{13}`, `\\sqrt{\\frac{4225}{28561}}` one to `\\frac{65}{169}`)."""
    value = re.sub(r"\\left|\\right", "", value)
    fraction = _FRACTION.match(value.replace(" ", ""))
    if fraction:  # `14/3` is a value, not a division left to do
        top, bottom = (int(g) for g in fraction.groups() if g is not None)
        return bottom > 1 and math.gcd(top, bottom) == 1
    if _UNSETTLED.search(value):
        return False
    for top, _, bottom, _ in _FRACTION_PARTS.findall(value):
        if "." in top + bottom or math.gcd(int(top), int(bottom)) > 1:
            return False
    for top, bottom in _ROOT_OF_FRACTION.findall(value):
        if math.isqrt(int(top)) ** 2 == int(top) and math.isqrt(int(bottom)) ** 2 == int(bottom):
            return False
    return not any(_has_square_factor(int(root)) for root in _ROOT.findall(value))


def combined(formula: str) -> bool:
    """No like terms left to combine, at the top or inside any bracket: `19x - 4x + 1 - 81`,
    `-k + 4 - 2 + 3k` and `x^3 + (3x^2 - 3x^2) + 3x - 6` are steps to `15x - 80`, `2k + 2` and
    `x^3 + 3x - 6`. Only plain numbers and monomials are compared."""
    groups, stack = [[]], []
    for char in re.sub(r"\\left|\\right|\s", "", formula):
        if char in "({[":
            stack.append(len(groups))
            groups.append([])
        groups[stack[-1] if stack else 0].append(char)
        if char in ")}]" and stack:
            stack.pop()
            groups[stack[-1] if stack else 0].append("Ω")  # the bracket, seen from outside
    for group in groups:
        terms = [t for t in re.split(r"(?<=[\w)}\]])[+-]", "".join(group).strip("(){}[]")) if t]
        # plain numbers, monomials (`3x`, `x^2`) and bare brackets, by what they are a multiple of
        kinds = [re.sub(r"^[\d.]+", "", term) for term in terms]
        kinds = [kind for kind in kinds if re.fullmatch(r"(?:[a-z](?:\^\{?\d+\}?)?|Ω)?", kind)]
        if len(kinds) != len(set(kinds)):
            return False  # two numbers, or two multiples of the same power
    return True


def _has_square_factor(n: int) -> bool:
    return n > 3 and n < 10**12 and any(n % (k * k) == 0 for k in range(2, math.isqrt(n) + 1))


def same_number(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
