"""The sample stage end to end: problems -> prompts -> requests not yet sampled -> Ray Data
engine actors -> part files -> samples.parquet -> one MLflow run.

Resumable by key: every finished batch is a part file under DIR/.parts/<fingerprint>/; a re-run
(or a run with a larger n) requests only the (problem, sample) pairs no part holds yet."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from overthink.config import content_hash
from overthink.errors import ConfigError, InputError, OverthinkError
from overthink.problems.config import ProblemSetConfig
from overthink.runtime.files import atomic_write_table, atomic_write_text, root_message
from overthink.runtime.models import resolve_model
from overthink.runtime.outputs import claim_output_dir, require_output_dir
from overthink.runtime.progress import Progress
from overthink.runtime.tracking import stage_run
from overthink.sample.config import SampleConfig
from overthink.sample.requests import ENGINE_COLUMNS, SAMPLES, chat_prompt, expand

SAMPLES_FILE = "samples.parquet"


@dataclass
class SampleResult:
    output_dir: Path
    metrics: dict
    run_id: str | None


def load_problem_sets(config: SampleConfig) -> list[tuple[ProblemSetConfig, list]]:
    from overthink.problems.loaders import load_problems

    if not config.problems:
        raise ConfigError("no problems: set problems (a list of problem sets) in the config")
    sets = [(problem_set, load_problems(problem_set)) for problem_set in config.problems]
    ids = [p.problem_id for _, problems in sets for p in problems]
    if len(set(ids)) != len(ids):
        raise InputError("problem ids repeat across the problem sets; give each set its own dataset name")
    return sets


def problems_digest(problems) -> str:
    return hashlib.sha256("\n".join(f"{p.problem_id}\t{p.problem}" for p in problems).encode()).hexdigest()


def problem_set_inputs(sets) -> list[tuple[str, str, str]]:
    """(name, digest, source) of each problem set, as MLflow dataset inputs: named like its
    problem ids (`math500/test`), digested over the problems kept."""
    from overthink.problems.loaders import problem_set_source

    return [
        (
            problems[0].problem_id.rsplit("/", 1)[0] if problems else problem_set.name,
            problems_digest(problems)[:8],
            problem_set_source(problem_set),
        )
        for problem_set, problems in sets
    ]


def fingerprint(config: SampleConfig, model_name: str, problems) -> str:
    """What determines a response: model, prompts, sampling (but not n: more samples extend)."""
    identity = {
        "model": model_name,
        "backend": config.engine.backend,
        "prompt": config.prompt.model_dump(),
        "sampling": config.sampling.model_dump(exclude={"n"}),
        "problems": problems_digest(problems),
    }
    return content_hash(identity)


def finished_keys(parts: Path) -> set[tuple[str, int]]:
    keys = set()
    for part in sorted(parts.glob("part-*.parquet")):
        table = pq.read_table(part, columns=["problem_id", "sample_index"])
        keys.update(zip(table.column("problem_id").to_pylist(), table.column("sample_index").to_pylist()))
    return keys


def consolidate(parts: Path, problems, n: int, target: Path) -> pa.Table:
    """All parts, one row per wanted (problem, sample), in problem order."""
    order = {p.problem_id: i for i, p in enumerate(problems)}
    rows, seen = [], set()
    for part in sorted(parts.glob("part-*.parquet")):
        for row in pq.read_table(part, schema=SAMPLES).to_pylist():
            key = (row["problem_id"], row["sample_index"])
            if key not in seen and row["problem_id"] in order and row["sample_index"] < n:
                seen.add(key)
                rows.append(row)
    rows.sort(key=lambda r: (order[r["problem_id"]], r["sample_index"]))
    table = pa.Table.from_pylist(rows, schema=SAMPLES)
    if not (target.is_file() and pq.read_table(target, schema=SAMPLES).equals(table)):
        atomic_write_table(target, table)  # an unchanged file keeps its mtime: later stages reuse their outputs
    return table


def worker_failure(err: BaseException, config: SampleConfig) -> str:
    """One line for a failed Ray worker; an engine actor that died once too often says so (Ray's
    own text for a dead actor is a paragraph about OOM killers and resource isolation)."""
    from ray.exceptions import ActorDiedError

    if any(isinstance(e, ActorDiedError) for e in _chain(err)):
        return (
            f"an engine actor died more than engine.max_restarts={config.engine.max_restarts} times "
            "(its vLLM engine process or the actor itself was killed: out of memory, or a crash)"
        )
    return root_message(err)


def _chain(err: BaseException | None):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = getattr(err, "cause", None) or err.__cause__ or err.__context__


def run_sample(config: SampleConfig, parent_run_id: str | None = None) -> SampleResult:
    from transformers import AutoTokenizer

    out = require_output_dir(config.output_dir)
    sets = load_problem_sets(config)
    problems = [p for _, set_problems in sets for p in set_problems]
    model = resolve_model(config.model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model.path)
    except Exception as err:
        raise ConfigError(f"model {config.model!r}: cannot load its tokenizer for the chat template: {err}") from None
    claim_output_dir(out, "sample")
    tags = {"overthink.model": model.name}
    with stage_run(config.mlflow, "sample", parent_run_id, tags=tags, output=out) as run:
        run.log_params(config.model_dump(mode="json"))
        run.log_inputs(problem_set_inputs(sets), "problems")
        metrics, samples = generate(config, problems, tokenizer, model.path, model.name, out, run)
        atomic_write_text(out / "sample_metrics.json", json.dumps(metrics, indent=2))
        atomic_write_text(out / "sample_responses.md", readable_sample(samples))
        run.log_metrics(metrics)
        run.log_artifact(out / "sample_responses.md")
        run.log_artifact(out / "sample_metrics.json")
    return SampleResult(out, metrics, run.id)


def generate(config: SampleConfig, problems, tokenizer, model_path: str, model_name: str, out: Path, run):
    """Sample every (problem, sample) pair no part file holds yet; returns the stage's metrics and
    the consolidated samples. Progress (responses, tokens/s) goes to `run` as batches finish."""
    parts = out / ".parts" / fingerprint(config, model_name, problems)
    parts.mkdir(parents=True, exist_ok=True)
    done = finished_keys(parts)
    requests = expand(
        problems, lambda p: chat_prompt(tokenizer, p, config.prompt), config.sampling.n, config.sampling.seed, done
    )
    generated_tokens, startup, first_ready = 0, 0.0, float("inf")
    total = len(problems) * config.sampling.n
    with Progress(run, "responses_sampled", total, total - len(requests), "sample", "resp") as progress:
        if requests:
            from overthink.runtime.ray_init import init_ray
            from overthink.sample.ray_adapter import generate_on_ray

            init_ray(config.ray)
            started = time.perf_counter()  # Ray is up: from here on it is the stage's own time
            table = pa.Table.from_pylist(requests)
            try:
                for batch in generate_on_ray(config, table, model_path, model_name, run.worker_metrics()):
                    startup = max(startup, max(batch.column("engine_startup_s").to_pylist()))
                    first_ready = min(first_ready, min(batch.column("engine_ready_at").to_pylist()))
                    atomic_write_table(parts / f"part-{time.time_ns()}.parquet", batch.drop(ENGINE_COLUMNS))
                    generated_tokens += sum(batch.column("num_generated_tokens").to_pylist())
                    tokens_per_s = generated_tokens / max(time.time() - first_ready, 1e-9)  # engines ready on
                    progress.update(batch.num_rows, generated_tokens=generated_tokens, tokens_per_s=tokens_per_s)
            except Exception as err:
                raise OverthinkError(
                    f"sampling failed in a Ray worker: {worker_failure(err, config)}\n"
                    f"Finished batches are kept in {parts}; run the same command again to resume."
                ) from None
    wall = time.perf_counter() - started if requests else 0.0
    generation_s = max(time.time() - first_ready, 1e-9) if requests else 0.0  # engines ready -> last result
    samples = consolidate(parts, problems, config.sampling.n, out / SAMPLES_FILE)
    finish = samples.column("finish_reason").to_pylist()
    metrics = {
        "problems": len(problems),
        "samples": samples.num_rows,
        "new_samples": len(requests),
        "generated_tokens": generated_tokens,
        "wall_s": wall,
        "engine_startup_s": startup,
        "generation_s": generation_s,
        "tokens_per_s": generated_tokens / generation_s if requests else 0.0,
        "length_finish_rate": finish.count("length") / max(1, len(finish)),
        "mean_generated_tokens": sum(samples.column("num_generated_tokens").to_pylist()) / max(1, samples.num_rows),
    }
    return metrics, samples


def readable_sample(samples: pa.Table, count: int = 8) -> str:
    blocks = []
    for row in samples.slice(0, count).to_pylist():
        blocks.append(
            f"## {row['problem_id']} #{row['sample_index']} (seed {row['seed']}, {row['finish_reason']}, "
            f"{row['num_generated_tokens']} tokens)\n\n**Problem:** {row['problem']}\n\n**Gold:** {row['gold']}\n\n"
            f"```\n{row['response']}\n```\n"
        )
    return "\n".join(blocks)


def cli(config: SampleConfig) -> str:
    result = run_sample(config)
    m = result.metrics
    samples = result.output_dir / SAMPLES_FILE
    return (
        f"Sampled {m['new_samples']} new responses ({m['samples']} in all, {m['problems']} problems); "
        f"{m['tokens_per_s']:.1f} generated tokens/s after engine start-up ({m['engine_startup_s']:.1f} s)\n"
        f"Wrote {samples}: analyze it with `overthink analyze --input {samples} --output ...`\n"
    )
