"""Grade extracted answers against gold with math-verify, with a per-item timeout and a cache of
repeated (gold, prediction) pairs. `verify(parse(gold), parse(pred))`: order matters."""

from __future__ import annotations

import logging
import math
import re
import threading
from functools import lru_cache

from overthink.analyze.extract import is_choice_gold

logging.getLogger("math_verify").setLevel(logging.CRITICAL)


def _wrap(answer: str) -> str:
    # math-verify finds LaTeX inside math delimiters; a bare extracted answer needs them.
    return answer if "$" in answer or "\\boxed" in answer else f"${answer}$"


_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")


def plain_number(answer: str) -> float | None:
    """12, -3.5, 1,000, $18 -> a float; anything with more structure -> None."""
    text = answer.strip().strip("$").replace("\\$", "").replace(",", "").replace(" ", "").rstrip(".")
    return float(text) if _PLAIN_NUMBER.fullmatch(text) else None


def same_answer(a: str, b: str) -> bool:
    """Cheap equality for segmentation: same normalized text or the same plain number."""
    if normalize(a) == normalize(b):
        return True
    x, y = plain_number(a), plain_number(b)
    return x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


class Grader:
    """Callable grader; instances are cheap, the cache lives per instance."""

    def __init__(self, timeout_s: int = 5, cache_size: int = 65536):
        self.timeout_s = timeout_s
        self.timeouts = 0
        self._grade = lru_cache(maxsize=cache_size)(self._grade_uncached)
        self._parse = lru_cache(maxsize=cache_size)(self._parse_uncached)

    def _timeout(self) -> int | None:
        # math-verify times out with signal.alarm, which only works on the main thread.
        return self.timeout_s if threading.current_thread() is threading.main_thread() else None

    def _parse_uncached(self, text: str):
        from math_verify import LatexExtractionConfig, ExprExtractionConfig, parse
        from math_verify.errors import TimeoutException

        try:
            return parse(
                _wrap(text),
                extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
                parsing_timeout=self._timeout(),
            )
        except TimeoutException:
            self.timeouts += 1
            return []

    def _grade_uncached(self, gold: str, prediction: str) -> bool:
        if is_choice_gold(gold):
            return prediction.strip().strip("()").upper() == gold.strip().strip("()").upper()
        if same_answer(gold, prediction):
            return True
        if plain_number(gold) is not None and plain_number(prediction) is not None:
            return False  # two different plain numbers: no need for sympy
        from math_verify import verify

        gold_parsed, pred_parsed = self._parse(gold), self._parse(prediction)
        if not gold_parsed or not pred_parsed:
            return False
        try:
            return bool(verify(gold_parsed, pred_parsed, timeout_seconds=self._timeout()))
        except Exception:  # math-verify raises on exotic sympy objects; unparseable means ungraded
            self.timeouts += 1
            return False

    def __call__(self, gold: str | None, prediction: str | None) -> bool:
        if not gold or not prediction:
            return False
        return self._grade(prepare_gold(gold), prepare_prediction(prediction))

    def cache_info(self):
        return self._grade.cache_info()


def prepare_gold(gold: str) -> str:
    """Gold answers as datasets write them: `\\$18.90` is 18.90, `3 \\pm 2` is the pair of roots."""
    gold = gold.replace("\\$", "").strip()
    if gold.count("\\pm") == 1:
        left, right = gold.split("\\pm")
        gold = f"{left.strip()} + {right.strip()}, {left.strip()} - {right.strip()}"
    return gold


def prepare_prediction(prediction: str) -> str:
    """`x + y = 17` answers 17: keep the right side of an equation."""
    prediction = prediction.replace("\\$", "").strip()
    if "=" in prediction and not any(op in prediction for op in ("<", ">", "\\le", "\\ge")):
        right = prediction.rsplit("=", 1)[1].strip()
        if right:
            return right
    return prediction


def normalize(answer: str) -> str:
    text = answer.strip().strip("$").replace("\\left", "").replace("\\right", "").replace("\\!", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return "".join(text.split()).rstrip(".")
