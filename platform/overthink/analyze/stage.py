"""The analyze stage end to end: plan -> analyze shards (Ray Data or in-process) -> one
Parquet file, metrics.json, tables, plots -> one MLflow run.

Finished shards are kept under DIR/.parts/<fingerprint>/ until the run completes, so a failed
or interrupted run resumes where it stopped; a finished run with the same config and inputs is
skipped (`force` recomputes)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from overthink.analyze.aggregate import summarize_all
from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.records import Shard, plan_shards
from overthink.analyze.report import table_csv, table_markdown, write_plots
from overthink.analyze.responses_page import pick_sample, render_responses_page
from overthink.analyze.schema import ANALYZED, SCHEMA_VERSION
from overthink.config import content_hash
from overthink.errors import OverthinkError
from overthink.runtime.files import atomic_write_table, atomic_write_text, root_message
from overthink.runtime.metric_names import summary_metrics
from overthink.runtime.outputs import DoneMarker, claim_output_dir, require_output_dir
from overthink.runtime.progress import Progress
from overthink.runtime.tracking import stage_run

ANALYZED_FILE = "analyzed.parquet"
METRICS_FILE = "metrics.json"
RESPONSES_PAGE = "responses.html"


@dataclass
class AnalyzeResult:
    output_dir: Path
    metrics: dict
    table_markdown: str
    run_id: str | None
    reused: bool


def write_part(parts: Path, table: pa.Table) -> int:
    """Write each shard in `table` to its own part file, atomically; return rows written."""
    for shard in sorted(set(table.column("shard").to_pylist())):
        rows = table.filter(pa.compute.equal(table.column("shard"), shard))
        atomic_write_table(parts / f"shard-{shard:06d}.parquet", rows)
    return table.num_rows


def part_path(parts: Path, shard: Shard) -> Path:
    return parts / f"shard-{shard.index:06d}.parquet"


def run_shards(config: AnalyzeConfig, pending: list[Shard], parts: Path, use_ray: bool, progress) -> None:
    if not use_ray:
        from overthink.analyze.core import Analyzer
        from overthink.analyze.shard import analyze_shard

        analyzer = Analyzer(config)
        for shard in pending:
            progress.update(write_part(parts, analyze_shard(analyzer, shard)))
        return
    from overthink.analyze.ray_adapter import analyze_shards_on_ray
    from overthink.runtime.ray_init import cluster_cpus, init_ray

    init_ray(config.ray)
    actors = config.actors or max(1, min(int(cluster_cpus() / config.cpus_per_actor), len(pending)))
    try:
        for table in analyze_shards_on_ray(config, pending, actors):
            progress.update(write_part(parts, table))
    except Exception as err:
        raise OverthinkError(
            f"analysis failed in a Ray worker: {root_message(err)}\n"
            f"Finished shards are kept in {parts}; run the same command again to resume."
        ) from None


def consolidate(parts: Path, shards: list[Shard], target: Path) -> pa.Table:
    tmp = target.with_name(target.name + ".tmp")
    with pq.ParquetWriter(tmp, ANALYZED) as writer:
        for shard in shards:
            writer.write_table(pq.read_table(part_path(parts, shard), schema=ANALYZED))
    os.replace(tmp, target)
    return pq.read_table(target, columns=[c for c in ANALYZED.names if c not in ("response", "problem")])


def write_responses_page(analyzed: Path, rows: list[dict], title: str, report: Path) -> None:
    """report/responses.html; `rows` lack the problem and response texts (`consolidate` keeps them
    out of memory), so they are read back for the sampled rows alone, a batch at a time."""
    picked = pick_sample(rows)
    texts, first = {}, 0
    for batch in pq.ParquetFile(analyzed).iter_batches(columns=["problem", "response"]):
        inside = [i for i in picked if first <= i < first + batch.num_rows]
        texts.update(zip(inside, batch.take([i - first for i in inside]).to_pylist()))
        first += batch.num_rows
    complete = [{**row, **texts[i]} if i in texts else row for i, row in enumerate(rows)]
    atomic_write_text(report / RESPONSES_PAGE, render_responses_page(complete, title))


# Keys that change how the work is spread or recorded, not what it computes.
NOT_IN_FINGERPRINT = {"ray", "mlflow", "force", "output_dir", "rows_per_shard", "actors", "cpus_per_actor"}


def resolved_tokenizer(config: AnalyzeConfig) -> AnalyzeConfig:
    """The config with its tokenizer resolved to a folder or hub id (actors load it as given),
    checked here, with a clear message, rather than inside a Ray actor."""
    if not config.tokenizer:
        return config
    from overthink.analyze.tokens import TokenCounter
    from overthink.runtime.models import resolve_model

    config = config.model_copy(update={"tokenizer": resolve_model(config.tokenizer, key="tokenizer").path})
    TokenCounter(config.tokenizer)
    return config


def run_analyze(config: AnalyzeConfig, use_ray: bool = True, parent_run_id: str | None = None) -> AnalyzeResult:

    out = require_output_dir(config.output_dir)
    shards, input_summary = plan_shards(config.input, config.rows_per_shard)
    config = resolved_tokenizer(config)
    fingerprint = content_hash(
        {
            "schema": SCHEMA_VERSION,
            "config": config.model_dump(mode="json", exclude=NOT_IN_FINGERPRINT),
            "files": input_summary["files"],
        }
    )
    done = DoneMarker(out)
    record = done.reusable(fingerprint, config.force, "this analysis")
    if record:
        metrics = json.loads((out / METRICS_FILE).read_text())
        return AnalyzeResult(out, metrics, (out / "report" / "table.md").read_text(), record.get("run_id"), True)
    claim_output_dir(out, "analyze")
    tags = {"overthink.fingerprint": fingerprint}
    with stage_run(config.mlflow, "analyze", parent_run_id, tags=tags, output=out) as run:
        run.log_params(config.model_dump(mode="json"))
        run.log_input_files([f["path"] for f in input_summary["files"]], "responses")
        metrics, markdown, rows = analyze_into(config, shards, input_summary, fingerprint, out, use_ray, run)
        log_results(run, out)
    done.write(fingerprint, run.id, rows=rows)
    shutil.rmtree(out / ".parts", ignore_errors=True)
    return AnalyzeResult(out, metrics, markdown, run.id, False)


def analyze_into(
    config: AnalyzeConfig, shards: list[Shard], input_summary: dict, fingerprint: str, out: Path, use_ray: bool, run
) -> tuple[dict, str, int]:
    """Analyze the shards no part file holds yet, then write analyzed.parquet, metrics.json and the
    report; returns (metrics, the table in markdown, rows)."""
    parts = out / ".parts" / fingerprint
    parts.mkdir(parents=True, exist_ok=True)
    pending = [s for s in shards if not part_path(parts, s).exists()]
    finished_rows = sum(s.num_rows for s in shards if s not in pending)
    with Progress(run, "responses_analyzed", input_summary["rows"], finished_rows, "analyze", "resp") as progress:
        if pending:
            run_shards(config, pending, parts, use_ray, progress)
    table = consolidate(parts, shards, out / ANALYZED_FILE)
    rows = table.to_pylist()
    metrics = summarize_all(rows, config.report.bootstrap_samples, config.report.seed)
    metrics["input"] = input_summary
    metrics["fingerprint"] = fingerprint
    atomic_write_text(out / METRICS_FILE, json.dumps(metrics, indent=2))
    report = out / "report"
    report.mkdir(exist_ok=True)
    markdown = table_markdown(metrics, config.name)
    atomic_write_text(report / "table.md", markdown)
    atomic_write_text(report / "table.csv", table_csv(metrics, config.name))
    atomic_write_text(report / "config.yaml", config.to_yaml())
    if config.report.plots:
        write_plots(rows, metrics, report / "plots")
    write_responses_page(out / ANALYZED_FILE, rows, f"{config.name}: responses and their solutions", report)
    run.log_metrics(summary_metrics(metrics))
    return metrics, markdown, len(rows)


def log_results(run, out: Path) -> None:
    run.log_artifact(out / METRICS_FILE)
    run.log_artifacts(out / "report", artifact_path="report")
    if (out / ANALYZED_FILE).stat().st_size < 64 * 2**20:
        run.log_artifact(out / ANALYZED_FILE, artifact_path="data")


def cli(config: AnalyzeConfig, no_ray: bool = False) -> str:
    result = run_analyze(config, use_ray=not no_ray)
    return result.table_markdown + f"Wrote {result.output_dir / ANALYZED_FILE} and {result.output_dir / METRICS_FILE}\n"
