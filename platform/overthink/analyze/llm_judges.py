"""The paper's LLM passes through any OpenAI-compatible endpoint (e.g. a vLLM server):
splitting a response into solutions, and clustering solutions by reasoning strategy.
Malformed judge output falls back to the offline method, and the fallback is counted."""

from __future__ import annotations

import json
import os
import re
from collections import Counter

from overthink.analyze.config import EndpointConfig
from overthink.analyze.distinct import DistinctJudge, flags_from_clusters
from overthink.analyze.segment import Segmenter, Solution, paragraphs

SPLIT_PROMPT = """Split the reasoning below into solutions. A solution is a contiguous part that \
explicitly reaches an answer; a verification that restates an answer is a solution of its own; \
text after the last answer belongs to the last solution. The reasoning has {n} numbered \
paragraphs. Reply with JSON only: {{"solutions": [[first_paragraph, last_paragraph], ...]}} \
covering every paragraph in order.

Problem: {problem}

Reasoning:
{paragraphs}"""

CLUSTER_PROMPT = """Below are {n} solutions to one problem. Group them by reasoning strategy: \
solutions that use the same method (even if worded differently) share a group. Reply with JSON \
only: {{"clusters": [[solution numbers], ...]}} using each number 1..{n} exactly once.

Problem: {problem}

{solutions}"""


class EndpointClient:
    def __init__(self, config: EndpointConfig):
        from openai import OpenAI

        self.config = config
        self.client = OpenAI(
            base_url=config.base_url,
            api_key=os.environ.get(config.api_key_env) or "EMPTY",
            timeout=config.timeout_s,
            max_retries=config.max_retries,
        )

    def complete_json(self, prompt: str) -> dict | None:
        reply = self.client.chat.completions.create(
            model=self.config.model,
            messages=[{"role": "user", "content": prompt}],
            temperature=0.0,
            max_tokens=self.config.max_tokens,
        )
        return parse_json_object(reply.choices[0].message.content or "")


def parse_json_object(text: str) -> dict | None:
    """The first JSON object in a reply (models wrap JSON in prose or code fences)."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        return None
    try:
        value = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def valid_ranges(value, n: int) -> list[tuple[int, int]] | None:
    """[[1, 3], [4, 6]] covering 1..n in order, else None."""
    try:
        ranges = [(int(a), int(b)) for a, b in value]
    except (TypeError, ValueError):
        return None
    expected = 1
    for first, last in ranges:
        if first != expected or last < first:
            return None
        expected = last + 1
    return ranges if expected == n + 1 else None


def valid_clusters(value, n: int) -> list[int] | None:
    """[[1, 2], [3]] -> cluster id per solution, if every solution appears exactly once."""
    try:
        groups = [[int(i) for i in group] for group in value]
    except (TypeError, ValueError):
        return None
    ids = {}
    for cluster, group in enumerate(groups):
        for number in group:
            if number in ids or not 1 <= number <= n:
                return None
            ids[number] = cluster
    return [ids[i] for i in range(1, n + 1)] if len(ids) == n else None


class LLMSplitter:
    """A segmenter: the endpoint groups the thinking's paragraphs into solutions; a response of one
    paragraph needs no call, and a malformed reply falls back to `fallback` (flag `llm_split_fallback`)."""

    def __init__(self, config: EndpointConfig, fallback: Segmenter, stats: Counter):
        self.client = EndpointClient(config)
        self.fallback = fallback
        self.stats = stats

    def __call__(self, record: dict, text: str, start: int, end: int) -> list[Solution]:
        spans = paragraphs(text, start, end)
        if len(spans) > 1:
            ranges = self.ranges(record["problem"], [text[a:b] for a, b in spans])
            if ranges is not None:
                return [Solution(spans[a - 1][0], spans[b - 1][1], None) for a, b in ranges]
            record["flags"].append("llm_split_fallback")
        return self.fallback(record, text, start, end)

    def ranges(self, problem: str, paragraphs: list[str]) -> list[tuple[int, int]] | None:
        """Paragraph ranges (1-based, inclusive) per solution, or None."""
        numbered = "\n\n".join(f"[{i}] {p.strip()}" for i, p in enumerate(paragraphs, start=1))
        reply = self.client.complete_json(SPLIT_PROMPT.format(n=len(paragraphs), problem=problem, paragraphs=numbered))
        ranges = valid_ranges(reply.get("solutions"), len(paragraphs)) if reply else None
        self.stats["llm_split_calls"] += 1
        if ranges is None:
            self.stats["llm_split_fallbacks"] += 1
        return ranges


class LLMJudge:
    """A distinctness judge from the endpoint's strategy clusters; a malformed reply falls back to
    `fallback` (flag `llm_cluster_fallback`)."""

    def __init__(self, config: EndpointConfig, fallback: DistinctJudge, stats: Counter):
        self.client = EndpointClient(config)
        self.fallback = fallback
        self.stats = stats

    def __call__(self, solutions: list[str], record: dict) -> list[bool]:
        if len(solutions) <= 1:
            return [True] * len(solutions)
        listed = "\n\n".join(f"Solution {i}:\n{s.strip()}" for i, s in enumerate(solutions, start=1))
        prompt = CLUSTER_PROMPT.format(n=len(solutions), problem=record["problem"], solutions=listed)
        reply = self.client.complete_json(prompt)
        ids = valid_clusters(reply.get("clusters"), len(solutions)) if reply else None
        self.stats["llm_cluster_calls"] += 1
        if ids is None:
            self.stats["llm_cluster_fallbacks"] += 1
            record["flags"].append("llm_cluster_fallback")
            return self.fallback(solutions, record)
        return flags_from_clusters(ids)
