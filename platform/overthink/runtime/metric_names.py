"""One MLflow naming scheme for the same metric wherever it is logged (analyze, evaluate, sweep,
pipeline): `[role.]scope[.group].name`, e.g. `overall.accuracy`, `by_dataset.math500.mean_tokens`,
`overall.accuracy.ci95_low`, `base.overall.accuracy`, `champion.overall.token_reduction_pct`.
Scopes are those of analyze's metrics.json (overall, by_dataset, by_level); a role says whose
numbers they are when one run holds several models' (base, final, champion)."""

from __future__ import annotations

SCOPES = ("overall", "by_dataset", "by_level")
COMPARISON_KEYS = ("token_reduction_pct", "accuracy_change")


def sanitize(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(name))


def metric_key(*parts: str) -> str:
    return ".".join(sanitize(part) for part in parts if part)


def _groups(tree: dict, scope: str) -> dict[str, dict]:
    if scope == "overall":
        return {"": tree["overall"]} if tree.get("overall") else {}
    return tree.get(scope) or {}


def summary_metrics(metrics: dict, role: str = "") -> dict[str, float]:
    """Every number of an analysis summary (metrics.json): its values and 95% intervals."""
    out = {}
    for scope in SCOPES:
        for group, summary in _groups(metrics, scope).items():
            for key, value in summary.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[metric_key(role, scope, group, key)] = float(value)
            for key, interval in (summary.get("ci95") or {}).items():
                if interval:
                    out[metric_key(role, scope, group, key, "ci95_low")] = float(interval[0])
                    out[metric_key(role, scope, group, key, "ci95_high")] = float(interval[1])
    return out


def comparison_metrics(comparison: dict | None, role: str = "") -> dict[str, float]:
    """Token reduction and accuracy change (with its interval) against a baseline, by the same scheme."""
    out = {}
    for scope in ("overall", "by_dataset"):
        for group, change in _groups(comparison or {}, scope).items():
            for key in COMPARISON_KEYS:
                if change.get(key) is not None:
                    out[metric_key(role, scope, group, key)] = float(change[key])
            low, high = change["accuracy_change_ci95"]
            out[metric_key(role, scope, group, "accuracy_change", "ci95_low")] = float(low)
            out[metric_key(role, scope, group, "accuracy_change", "ci95_high")] = float(high)
    return out
