"""The paper's strategy clustering through any OpenAI-compatible endpoint (e.g. a vLLM server),
and the endpoint client the LLM splitter (`llm_split.py`) shares. Malformed judge output falls
back to the offline method, and the fallback is counted."""

from __future__ import annotations

import json
import os
import re
from collections import Counter

from overthink.analyze.config import EndpointConfig
from overthink.analyze.distinct import DistinctJudge, flags_from_clusters

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

    def complete_text(self, prompt: str) -> str:
        reply = self.client.chat.completions.create(
            model=self.config.model,
            messages=[{"role": "user", "content": prompt}],
            temperature=0.0,
            max_tokens=self.config.max_tokens,
        )
        return reply.choices[0].message.content or ""

    def complete_json(self, prompt: str) -> dict | None:
        return parse_json_object(self.complete_text(prompt))


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
