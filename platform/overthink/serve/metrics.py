"""Overthinking you can watch: Prometheus metrics of every response, through Ray Serve's metrics
(each node's Ray metrics endpoint exports them, tagged with the deployment, replica and
application, beside Serve's own request metrics). Created inside a replica."""

from __future__ import annotations

TOKEN_BUCKETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
SOLUTION_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20]


class OverthinkMetrics:
    def __init__(self):
        from ray.serve.metrics import Counter, Histogram

        policy = ("policy",)
        self.thinking_tokens = Histogram(
            "overthink_thinking_tokens",
            "Thinking tokens of a response (before the end-of-thinking tag), by thinking policy.",
            TOKEN_BUCKETS,
            policy,
        )
        self.solutions = Histogram(
            "overthink_solutions",
            "Solutions (rounds reaching an answer) in a response's thinking, by thinking policy.",
            SOLUTION_BUCKETS,
            policy,
        )
        self.probes = Counter("overthink_early_exit_probes", "Early-exit probes made.")
        self.probe_tokens = Counter("overthink_early_exit_probe_tokens", "Tokens the early-exit probes generated.")
        self.exits = Counter("overthink_early_exit_exits", "Responses whose thinking early exit closed.")
        self.budget_hits = Counter(
            "overthink_thinking_budget_hits", "Responses whose thinking budget ran out (the thinking was closed)."
        )

    def record(self, report: dict) -> None:
        """One response's report. Tokens saved are not counted per response (what the thinking
        would have taken is not known): compare the thinking-token histograms by policy."""
        policy = report["policy"]
        tags = {"policy": policy["kind"]}
        self.thinking_tokens.observe(report["thinking_tokens"], tags)
        self.solutions.observe(len(report["solutions"]), tags)
        if policy["kind"] == "early_exit" and policy["probes"]:  # Ray's counters refuse an increment of 0
            self.probes.inc(len(policy["probes"]))
            self.probe_tokens.inc(policy["probe_tokens"])  # a probe generates one token at least
            if "stopped_at_token" in policy:
                self.exits.inc()
        if policy["kind"] == "budget" and "stopped_at_token" in policy:
            self.budget_hits.inc()
