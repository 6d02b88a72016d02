"""The pairs stage for real: Ray Data groupby on a local Ray, files on disk, MLflow on sqlite."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from known_responses import analyzed  # noqa: F401  (fixture)
from overthink.config import load_config
from overthink.errors import InputError
from overthink.pairs.config import PairsConfig
from overthink.pairs.core import PAIRS
from overthink.pairs.stage import run_pairs

pytestmark = pytest.mark.slow


def config(analyzed, out, *overrides):
    return load_config(PairsConfig, None, [f"input={analyzed}", f"output_dir={out}", "ray.num_cpus=2", *overrides])


def test_on_ray_matches_in_process_and_logs_one_mlflow_run(analyzed, tmp_path):
    strategies = "strategies=[shortest,fcs,fcs_reflection,gds,difficulty]"
    on_ray = run_pairs(config(analyzed, tmp_path / "ray", strategies, "short_incorrect_pairs=true"), use_ray=True)
    local = run_pairs(
        config(analyzed, tmp_path / "local", strategies, "short_incorrect_pairs=true", "mlflow.enabled=false"),
        use_ray=False,
    )
    table = pq.read_table(on_ray.path)
    assert table.schema.equals(PAIRS) and table.equals(pq.read_table(local.path))
    # 3 of the 4 problems have a correct response; each gives a pair per strategy, plus `hard`'s short-incorrect pair.
    assert table.num_rows == 5 * 3 + 5
    summary = on_ray.summary
    assert summary["problems"] == 4 and summary["skipped"]["problems_without_correct_response"] == 1
    fcs = summary["by_strategy"]["fcs"]
    assert fcs["kept_problem_share"] == pytest.approx(0.75) and fcs["short_incorrect_pairs"] == 1
    assert fcs["mean_chosen_tokens"] < fcs["mean_rejected_tokens"] and fcs["mean_chosen_solutions"] < 2
    run = mlflow.get_run(on_ray.run_id)
    assert run.data.metrics["fcs.pairs"] == 4 and run.data.metrics["gds.kept_problem_share"] == pytest.approx(0.75)
    assert run.data.params["strategies"].startswith("['shortest'") or "shortest" in run.data.params["strategies"]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(on_ray.run_id)}
    assert {"summary.json", "pairs_summary.md", "data"} <= artifacts
    (used,) = run.inputs.dataset_inputs  # the UI's Dataset column: what these pairs were made from
    assert used.dataset.name == analyzed.name and len(used.dataset.digest) == 8
    assert [(t.key, t.value) for t in used.tags] == [("mlflow.data.context", "analyzed")]


def test_rerun_reuses_and_changed_config_recomputes(analyzed, tmp_path):
    first = run_pairs(config(analyzed, tmp_path, "mlflow.enabled=false"), use_ray=False)
    stamp = first.path.stat().st_mtime_ns
    assert run_pairs(config(analyzed, tmp_path, "mlflow.enabled=false"), use_ray=False).reused
    assert first.path.stat().st_mtime_ns == stamp
    changed = run_pairs(config(analyzed, tmp_path, "mlflow.enabled=false", "strategies=gds"), use_ray=False)
    assert not changed.reused and set(pq.read_table(changed.path).column("strategy").to_pylist()) == {"gds"}


def test_bad_inputs_name_the_file_and_what_is_wrong(analyzed, tmp_path):
    with pytest.raises(InputError, match="nowhere.parquet does not exist"):
        run_pairs(config(tmp_path / "nowhere.parquet", tmp_path / "o"), use_ray=False)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    with pytest.raises(InputError, match="garbage.parquet: not a readable Parquet file"):
        run_pairs(config(garbage, tmp_path / "o"), use_ray=False)
    old = tmp_path / "old.parquet"
    pq.write_table(pq.read_table(analyzed).drop(["thinking_end", "prompt"]), old)
    with pytest.raises(InputError, match=r"old.parquet: missing column\(s\) prompt, thinking_end"):
        run_pairs(config(old, tmp_path / "o"), use_ray=False)
    promptless = tmp_path / "promptless.parquet"
    table = pq.read_table(analyzed)
    pq.write_table(
        table.set_column(table.schema.get_field_index("prompt"), "prompt", pa.nulls(table.num_rows, pa.string())),
        promptless,
    )
    with pytest.raises(InputError, match="has no `prompt`: set tokenizer="):
        run_pairs(config(promptless, tmp_path / "o", "mlflow.enabled=false"), use_ray=False)
    assert not (tmp_path / "o" / "pairs.parquet").exists()


def test_no_pairs_is_an_error_that_says_why(analyzed, tmp_path):
    table = pq.read_table(analyzed)
    wrong = tmp_path / "all_wrong.parquet"
    column = table.schema.get_field_index("correct")
    pq.write_table(table.set_column(column, "correct", pa.array([False] * table.num_rows)), wrong)
    with pytest.raises(InputError, match=r"no pairs from .*all_wrong.parquet: 4 of 4 problems have no correct"):
        run_pairs(config(wrong, tmp_path / "o", "mlflow.enabled=false"), use_ray=False)
    assert not (tmp_path / "o" / "pairs.parquet").exists()


def test_cli_runs_the_stage_and_rejects_unknown_strategies(analyzed, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "overthink.cli",
            "pairs",
            "--input",
            str(analyzed),
            "--output",
            str(tmp_path / "cli"),
            "--strategies",
            "fcs,gds",
            "--no-ray",
            "--set",
            "mlflow.enabled=false",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "| fcs | 3 |" in done.stdout and "| gds | 3 |" in done.stdout
    assert json.loads((tmp_path / "cli" / "summary.json").read_text())["pairs"] == 6
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "overthink.cli",
            "pairs",
            "--input",
            str(analyzed),
            "--output",
            str(tmp_path / "bad"),
            "--strategies",
            "longest_first",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and "strategies" in bad.stderr and "Traceback" not in bad.stderr


def test_responses_without_prompts_get_them_from_the_tokenizer_the_error_names(tmp_path, organism_path):
    """The shipped examples have no `prompt` column: pairs says to set tokenizer=, and doing so works."""
    from locations import EXAMPLES

    def overthink(*args):
        command = [sys.executable, "-m", "overthink.cli", *args, "--set", "mlflow.enabled=false"]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    analyzed = overthink("analyze", "--input", str(EXAMPLES), "--output", str(tmp_path / "analysis"), "--no-ray")
    assert analyzed.returncode == 0, analyzed.stderr
    pairs = [*("pairs", "--input", str(tmp_path / "analysis"), "--strategies", "fcs", "--no-ray")]
    refused = overthink(*pairs, "--output", str(tmp_path / "refused"))
    assert refused.returncode == 2 and "has no `prompt`: set tokenizer=" in refused.stderr, refused.stderr
    done = overthink(*pairs, "--output", str(tmp_path / "pairs"), "--set", f"tokenizer={organism_path}")
    assert done.returncode == 0, done.stderr
    rows = pq.read_table(tmp_path / "pairs" / "pairs.parquet").to_pylist()
    assert rows and all(r["prompt"].startswith("<|im_start|>") for r in rows)
    problems = {json.loads(line)["problem_id"]: json.loads(line)["problem"] for line in EXAMPLES.open()}
    assert all(problems[r["problem_id"]] in r["prompt"] for r in rows)
