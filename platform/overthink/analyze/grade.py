"""Grade extracted answers against gold with math-verify, with a per-item timeout and a cache of
repeated (gold, prediction) pairs. `verify(parse(gold), parse(pred))`: order matters.

math-verify times out with signal.alarm, which only works on a process's main thread; Ray Data
calls analyzers from another thread. Off the main thread, math-verify therefore runs in a
supervised child process (its own main thread, so alarms work), and the parent kills and
restarts it if it overruns a hard deadline (big-integer work in C ignores signals)."""

from __future__ import annotations

import logging
import math
import re
import threading
from functools import lru_cache

from overthink.analyze.answer_shape import as_interval, is_bare_list, prediction_for, split_top_level, strip_prose
from overthink.analyze.extract import is_choice_gold

logging.getLogger("math_verify").setLevel(logging.CRITICAL)

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


def _wrap(answer: str) -> str:
    # math-verify finds LaTeX inside math delimiters; a bare extracted answer needs them.
    return answer if "$" in answer or "\\boxed" in answer else f"${answer}$"


def math_verify_equal(gold: str, prediction: str, timeout_s: int | None) -> bool | None:
    """math-verify's verdict; None when parsing or comparing timed out or failed."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    from math_verify.errors import TimeoutException

    config = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    try:
        gold_parsed = parse(_wrap(gold), extraction_config=config, parsing_timeout=timeout_s, raise_on_error=True)
        pred_parsed = parse(_wrap(prediction), extraction_config=config, parsing_timeout=timeout_s, raise_on_error=True)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout_s, raise_on_error=True))
    except TimeoutException:
        return None
    except Exception:  # unparseable LaTeX or exotic sympy objects: not gradeable
        return False


def _serve(connection, timeout_s: int) -> None:
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    while True:
        request = connection.recv()
        if request is None:
            return
        connection.send(math_verify_equal(*request, timeout_s))


class IsolatedVerifier:
    """math-verify in a child process with a hard deadline per call."""

    def __init__(self, timeout_s: int):
        self.timeout_s = timeout_s
        self.deadline_s = 3 * timeout_s + 5  # parse gold + parse prediction + verify, plus slack
        self._process = None
        self._connection = None

    def _start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.timeout_s), daemon=True)
        self._process.start()

    def __call__(self, gold: str, prediction: str) -> bool | None:
        if self._process is None or not self._process.is_alive():
            self._start()
        self._connection.send((gold, prediction))
        if self._connection.poll(self.deadline_s):
            return self._connection.recv()
        self._process.kill()  # stuck beyond what signals can stop: start afresh next time
        self._process.join()
        self._process = None
        return None

    def close(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._connection.send(None)
            self._process.join(timeout=5)


class Grader:
    """Callable grader; the cache lives per instance (one per Ray actor)."""

    def __init__(self, timeout_s: int = 5, cache_size: int = 65536, isolate: bool | None = None):
        self.timeout_s = timeout_s
        self.timeouts = 0
        self._isolate = isolate
        self._isolated: IsolatedVerifier | None = None
        self._grade = lru_cache(maxsize=cache_size)(self._grade_uncached)

    def _math_verify(self, gold: str, prediction: str) -> bool:
        isolate = (
            self._isolate if self._isolate is not None else threading.current_thread() is not threading.main_thread()
        )
        if isolate:
            self._isolated = self._isolated or IsolatedVerifier(self.timeout_s)
            verdict = self._isolated(gold, prediction)
        else:
            verdict = math_verify_equal(gold, prediction, self.timeout_s)
        if verdict is None:
            self.timeouts += 1
        return bool(verdict)

    def _grade_uncached(self, gold: str, prediction: str) -> bool:
        if is_choice_gold(gold):
            return prediction.strip().strip("()").upper() == gold.strip().strip("()").upper()
        if same_answer(gold, prediction):
            return True
        if is_bare_list(gold) and is_bare_list(prediction):
            return self._same_solutions(split_top_level(gold), split_top_level(prediction))
        if plain_number(gold) is not None and plain_number(prediction) is not None:
            return False  # two different plain numbers: no need for sympy
        return self._math_verify(gold, prediction)

    def _same_solutions(self, gold: list[str], prediction: list[str]) -> bool:
        """`1, 2` answers `2, 1`: a list of solutions matches in any order, each one once."""
        if len(gold) != len(prediction):
            return False
        unmatched = list(prediction)
        for expected in gold:
            match = next((p for p in unmatched if self._grade(expected, p)), None)
            if match is None:
                return False
            unmatched.remove(match)
        return True

    def __call__(self, gold: str | None, prediction: str | None) -> bool:
        if not gold or not prediction:
            return False
        gold = prepare_gold(gold)
        return self._grade(gold, prepare_prediction(gold, prediction))

    def cache_info(self):
        return self._grade.cache_info()


def prepare_gold(gold: str) -> str:
    """Gold answers as datasets write them: `\\$18.90` is 18.90, `3 \\pm 2` is the pair of roots,
    `\\text{Navin}` is Navin, `x \\le 3` is the interval it describes."""
    gold = strip_prose(gold.replace("\\$", ""))
    if gold.count("\\pm") == 1:
        left, right = gold.split("\\pm")
        gold = f"{left.strip()} + {right.strip()}, {left.strip()} - {right.strip()}"
    return as_interval(gold) or gold


def prepare_prediction(gold: str, prediction: str) -> str:
    """The stated value without prose around it, in the gold's shape (answer_shape.py)."""
    return prediction_for(gold, strip_prose(prediction.replace("\\$", "")))


def normalize(answer: str) -> str:
    text = answer.strip().strip("$").replace("\\left", "").replace("\\right", "").replace("\\!", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return "".join(text.split()).rstrip(".")
