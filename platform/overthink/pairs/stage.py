"""`overthink pairs`: analyzed responses -> DIR/pairs.parquet (one row per pair, all strategies)
and DIR/summary.json, logged to one MLflow run. A finished run with the same inputs and config
is reused; the output file appears atomically, so a failed run leaves nothing half-written."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overthink.config import content_hash
from overthink.errors import ConfigError, InputError
from overthink.pairs.config import PairsConfig
from overthink.pairs.core import NEEDED_COLUMNS, PAIRS, problem_pairs
from overthink.runtime.files import atomic_write_table, atomic_write_text, parquet_schema
from overthink.runtime.outputs import DoneMarker, claim_output_dir, file_identity, require_output_dir
from overthink.runtime.tracking import stage_run

PAIRS_FILE = "pairs.parquet"
SUMMARY_FILE = "summary.json"
ANALYZED_HINT = "give analyzed.parquet files or folders written by `overthink analyze`"


@dataclass
class PairsResult:
    output_dir: Path
    summary: dict
    run_id: str | None
    reused: bool

    @property
    def path(self) -> Path:
        return self.output_dir / PAIRS_FILE


def input_files(config: PairsConfig) -> list[str]:
    """analyzed.parquet paths, checked: exist, Parquet, and carry what pairs need (spans included)."""
    if not config.input:
        raise ConfigError("no input given: set --input (input) to analyzed.parquet files or analysis folders")
    files = []
    for entry in config.input:
        path = os.path.join(entry, "analyzed.parquet") if os.path.isdir(entry) else entry
        hint = (
            "is it analyzed.parquet from this version of `overthink analyze`? (re-run analyze with force=true to "
            "add them)"
        )
        schema = parquet_schema(path, hint=ANALYZED_HINT)
        missing = [c for c in NEEDED_COLUMNS if c not in schema.names]
        if not missing and "start" not in [f.name for f in schema.field("solutions").type.value_type]:
            missing = ["solutions.start/end"]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}; {hint}")
        files.append(path)
    return files


def prompt_builder(config: PairsConfig):
    """Rows carry the exact prompt they were sampled with; without it, build one from the problem
    with the chat template of `tokenizer` (resolved once: it may be `organism` or an MLflow URI)."""
    state = {}

    def build(row: dict) -> str:
        if row["prompt"]:
            return row["prompt"]
        if not config.tokenizer:
            raise InputError(
                f"row {row['source_row']} of problem {row['problem_id']} has no `prompt`: set tokenizer= "
                "to build chat prompts from the problem text"
            )
        if "tokenizer" not in state:
            from transformers import AutoTokenizer

            from overthink.runtime.models import resolve_model

            state["tokenizer"] = AutoTokenizer.from_pretrained(resolve_model(config.tokenizer, key="tokenizer").path)
        from overthink.sample.requests import chat_prompt_of, question_message

        return chat_prompt_of(state["tokenizer"], question_message(row["problem"], config.prompt), config.prompt)

    return build


def pairs_of_rows(rows: list[dict], config: PairsConfig, stats: Counter) -> list[dict]:
    """Every problem's pairs; rows of a problem may come in any order."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["problem_id"] or row["problem"]].append(row)
    build_prompt, pairs = prompt_builder(config), []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda r: r["source_row"])
        pairs += problem_pairs(
            group,
            config.strategies,
            config.negative,
            config.short_incorrect_pairs,
            config.difficulty_scale,
            config.min_token_gap,
            build_prompt(group[0]),
            stats,
        )
    return pairs


STATS_COLUMN = "group_stats"  # one extra row per group carries its counters (JSON); pair rows leave it null


def build_pairs_ray(files: list[str], config: PairsConfig) -> tuple[list[dict], Counter]:
    """Ray Data: group the analyzed rows by problem across the cluster, pair each group."""
    from overthink.runtime.ray_init import init_ray

    ray = init_ray(config.ray)
    schema = PAIRS.append(pa.field(STATS_COLUMN, pa.string()))

    def pair_group(batch: pa.Table) -> pa.Table:
        stats = Counter()
        rows = pairs_of_rows(batch.to_pylist(), config, stats)
        return pa.Table.from_pylist(rows + [{STATS_COLUMN: json.dumps(stats)}], schema=schema)

    def add_problem_key(table: pa.Table) -> pa.Table:
        key = pc.coalesce(table["problem_id"], table["problem"])
        return table.append_column("problem_key", key)

    dataset = ray.data.read_parquet(files).select_columns(list(NEEDED_COLUMNS))
    grouped = (
        dataset.map_batches(add_problem_key, batch_format="pyarrow")
        .groupby("problem_key")
        .map_groups(pair_group, batch_format="pyarrow")
    )
    pairs, stats = [], Counter()
    for row in grouped.iter_rows():
        if row[STATS_COLUMN] is None:
            pairs.append({f.name: row[f.name] for f in PAIRS})
        else:
            stats.update(json.loads(row[STATS_COLUMN]))
    return pairs, stats


def build_pairs_local(files: list[str], config: PairsConfig) -> tuple[list[dict], Counter]:
    rows = pa.concat_tables([pq.read_table(f, columns=list(NEEDED_COLUMNS)) for f in files]).to_pylist()
    stats = Counter()
    return pairs_of_rows(rows, config, stats), stats


def summarize(table: pa.Table, problems: int, stats: Counter, strategies: list[str]) -> dict:
    """Per strategy: pairs, kept share of problems, mean chosen/rejected tokens and solutions."""
    rows = table.to_pylist()
    summary = {"problems": problems, "pairs": len(rows), "skipped": dict(sorted(stats.items())), "by_strategy": {}}
    for strategy in strategies:
        mine = [r for r in rows if r["strategy"] == strategy]
        length = [r for r in mine if r["kind"] == "length"]
        mean = lambda key, items=length: sum(r[key] for r in items) / len(items) if items else None  # noqa: E731
        summary["by_strategy"][strategy] = {
            "pairs": len(mine),
            "length_pairs": len(length),
            "short_incorrect_pairs": len(mine) - len(length),
            "kept_problem_share": len({r["problem_id"] for r in length}) / problems if problems else 0.0,
            "mean_chosen_tokens": mean("chosen_tokens"),
            "mean_rejected_tokens": mean("rejected_tokens"),
            "mean_chosen_solutions": mean("chosen_solutions"),
            "mean_rejected_solutions": mean("rejected_solutions"),
            "token_reduction": 1 - mean("chosen_tokens") / mean("rejected_tokens") if length else None,
        }
    return summary


def count_problems(files: list[str]) -> int:
    keys = set()
    for path in files:
        table = pq.read_table(path, columns=["problem_id", "problem"])
        keys.update(pc.coalesce(table["problem_id"], table["problem"]).to_pylist())
    return len(keys)


def run_pairs(config: PairsConfig, use_ray: bool = True, parent_run_id: str | None = None) -> PairsResult:
    out = require_output_dir(config.output_dir)
    files = input_files(config)
    fingerprint = content_hash(
        {
            "config": config.model_dump(mode="json", exclude={"ray", "mlflow", "force", "output_dir", "input"}),
            "files": [file_identity(f) for f in files],
        }
    )
    done = DoneMarker(out)
    record = done.reusable(fingerprint, config.force, "these pairs")
    if record:
        return PairsResult(out, json.loads((out / SUMMARY_FILE).read_text()), record.get("run_id"), True)
    claim_output_dir(out, "pairs")
    done.clear()
    with stage_run(
        config.mlflow, "pairs", parent_run_id, tags={"overthink.fingerprint": fingerprint}, output=out
    ) as run:
        run.log_params(config.model_dump(mode="json"))
        run.log_input_files(files, "analyzed")
        rows, stats = (build_pairs_ray if use_ray else build_pairs_local)(files, config)
        problems = count_problems(files)
        if not rows:
            raise InputError(no_pairs_reason(files, problems, stats, config))
        rows.sort(key=lambda r: (r["strategy"], r["problem_id"] or "", r["kind"]))
        table = pa.Table.from_pylist(rows, schema=PAIRS)
        summary = summarize(table, problems, stats, config.strategies)
        summary["fingerprint"] = fingerprint
        atomic_write_table(out / PAIRS_FILE, table)
        atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2))
        atomic_write_text(out / "config.yaml", config.to_yaml())
        log_results(run, summary, out)
    done.write(fingerprint, run.id, pairs=table.num_rows)
    return PairsResult(out, summary, run.id, False)


def no_pairs_reason(files: list[str], problems: int, stats: Counter, config: PairsConfig) -> str:
    """Why nothing came out, in one line: training on zero pairs is never what was meant."""
    reasons = []
    unanswered = stats.get("problems_without_correct_response", 0)
    if unanswered:
        reasons.append(f"{unanswered} of {problems} problems have no correct, complete response")
    for strategy in config.strategies:
        shorter = stats.get(f"{strategy}.no_shorter_positive", 0)
        if shorter:
            reasons.append(
                f"{strategy}: {shorter} problems have no correct response at least "
                f"{max(config.min_token_gap, 1)} tokens shorter than the rejected one (min_token_gap)"
            )
    if not problems:
        reasons.append("the input has no analyzed rows")
    because = "; ".join(reasons) or "every row was filtered out"
    return f"no pairs from {', '.join(files)}: {because}. Sample more responses per problem or relax the config."


def summary_markdown(summary: dict) -> str:
    lines = [
        "| Strategy | Pairs | Kept problems | Chosen tokens | Rejected tokens | Chosen solutions | Rejected solutions "
        "|",
        "|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    for strategy, s in summary["by_strategy"].items():
        lines.append(
            f"| {strategy} | {s['pairs']} | {fmt(100 * s['kept_problem_share'], '.1f')}% | "
            f"{fmt(s['mean_chosen_tokens'], '.1f')} | {fmt(s['mean_rejected_tokens'], '.1f')} | "
            f"{fmt(s['mean_chosen_solutions'], '.2f')} | {fmt(s['mean_rejected_solutions'], '.2f')} |"
        )
    return "\n".join(lines) + "\n"


def log_results(run, summary: dict, out: Path) -> None:
    metrics = {"problems": summary["problems"], "pairs": summary["pairs"]}
    for strategy, values in summary["by_strategy"].items():
        metrics.update({f"{strategy}.{k}": v for k, v in values.items() if v is not None})
    metrics.update({f"skipped.{k}": v for k, v in summary["skipped"].items()})
    run.log_metrics(metrics)
    run.log_artifact(out / SUMMARY_FILE)
    run.log_text(summary_markdown(summary), "pairs_summary.md")
    if (out / PAIRS_FILE).stat().st_size < 64 * 2**20:
        run.log_artifact(out / PAIRS_FILE, artifact_path="data")


def cli(config: PairsConfig, no_ray: bool = False) -> str:
    result = run_pairs(config, use_ray=not no_ray)
    return (
        summary_markdown(result.summary)
        + f"Wrote {result.path}: train on it with `overthink train --pairs {result.path} --output ...`\n"
    )
