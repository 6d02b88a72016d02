import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from locations import PYTHON, REPO
from overthink.analyze.config import AnalyzeConfig
from overthink.config import help_table, iter_fields, load_config
from overthink.errors import ConfigError
from overthink.stages import STAGES


def test_layers_defaults_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("grade: {timeout_s: 7}\ndistinct: {method: embedding}\n")
    config = load_config(AnalyzeConfig, path, ["grade.timeout_s=9", "input.path=[a.jsonl, b.parquet]"])
    assert config.grade.timeout_s == 9  # --set beats YAML
    assert config.distinct.method == "embedding"  # YAML beats defaults
    assert config.input.path == ["a.jsonl", "b.parquet"]
    assert config.segment.method == "rules"  # default kept


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"unknown key 'grade.timeoutt'"):
        load_config(AnalyzeConfig, None, ["grade.timeoutt=3"])


def test_bad_value_names_the_key():
    with pytest.raises(ConfigError, match=r"key 'distinct.method'"):
        load_config(AnalyzeConfig, None, ["distinct.method=telepathy"])
    with pytest.raises(ConfigError, match=r"key 'grade.timeout_s'"):
        load_config(AnalyzeConfig, None, ["grade.timeout_s=0"])


def test_override_without_equals_and_bad_yaml_file(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        load_config(AnalyzeConfig, None, ["grade.timeout_s"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("grade: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(AnalyzeConfig, bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(AnalyzeConfig, tmp_path / "missing.yaml")


def test_inconsistent_settings_are_rejected():
    with pytest.raises(ConfigError, match="presplit needs input.columns.solutions"):
        load_config(AnalyzeConfig, None, ["segment.method=presplit"])


def test_config_is_frozen():
    config = load_config(AnalyzeConfig)
    with pytest.raises(ValidationError):
        config.grade.timeout_s = 3


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_config_field_has_help(stage):
    model = STAGES[stage].config_model()
    fields = list(iter_fields(model))
    missing = [key for key, _, help_text, _ in fields if not help_text.strip()]
    assert not missing, f"fields without help: {missing}"
    table = help_table(model)
    assert all(
        key in table
        for key, annotation, _, _ in fields
        if not isinstance(annotation, type) or not issubclass(annotation, BaseModel)
    )


def overthink_configs() -> list[Path]:
    """Shipped stage configs; Ray Serve application files (top-level `applications`) have Ray's own
    schema and are checked against it in tests/cluster/test_cluster_config.py."""
    paths = sorted((REPO / "configs").rglob("*.yaml"))
    return [path for path in paths if "applications" not in (yaml.safe_load(path.read_text()) or {})]


@pytest.mark.parametrize("path", overthink_configs(), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    stage = path.relative_to(REPO / "configs").parts[0]
    config = load_config(STAGES[stage].config_model(), path)
    search = getattr(config, "search", None) or getattr(config, "sweep", None)
    if search is not None:
        from overthink.sweep.space import parse_space
        from overthink.train.config import TrainSettings

        assert parse_space(search.space, TrainSettings)  # every distribution in the space is well-formed
    train = getattr(config, "train", None)
    if train is not None and train.placement.device == "gpu":  # the real-run recipes (DESIGN.md §3)
        workers = train.placement
        assert (
            train.loss == "simpo"
            and train.deepspeed.startswith("zero3")
            and train.bf16
            and train.gradient_checkpointing
        )
        assert workers.count * train.per_device_batch_size * train.gradient_accumulation_steps == 128
        evaluate = config.evaluate.sample
        engine = evaluate.engine
        assert engine.max_model_len >= evaluate.sampling.max_tokens + 1024  # room for the prompt
        if stage == "pipeline":
            # Engine counts are given: a cold cluster scales to all of them (item 4 of issue 22).
            assert config.sample.placement.count and evaluate.placement.count
            assert config.sample.sampling.n == 10 and config.sample.sampling.temperature == 1.0
            assert [p.name for p in config.sample.problems] == ["prm12k"]
            assert [p.name for p in evaluate.problems] == ["math500", "gsm8k", "asdiv", "aime2024", "gpqa_diamond"]


@pytest.mark.parametrize("args", [["--help"], *[[stage, "--help"] for stage in sorted(STAGES)]])
def test_every_command_has_help(args):
    result = subprocess.run([PYTHON, "-m", "overthink.cli", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: overthink" in result.stdout
    if args != ["--help"]:
        assert "mlflow.enabled" in result.stdout or "train.steps" in result.stdout  # config keys with their help


def test_print_config_shows_resolved_values():
    result = subprocess.run(
        [PYTHON, "-m", "overthink.cli", "analyze", "--print-config", "--set", "grade.timeout_s=11"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "timeout_s: 11" in result.stdout


def test_bad_override_exits_2_without_traceback():
    result = subprocess.run(
        [PYTHON, "-m", "overthink.cli", "analyze", "--set", "nope=1", "--input", "x.jsonl", "--output", "o"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "unknown key 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_is_light():
    code = (
        "import sys, overthink.analyze.core, overthink.analyze.stage, overthink.cli; "
        "print(sorted(m for m in ('ray', 'vllm', 'torch', 'deepspeed', 'mlflow') if m in sys.modules))"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_cli_paths_with_odd_characters_survive(tmp_path):
    from overthink.cli import build_parser, config_from_args

    odd = str(tmp_path / "it's: a [file].jsonl")
    args = build_parser().parse_args(["analyze", "--input", odd, "b.jsonl", "--output", str(tmp_path / "out: x")])
    config = config_from_args(STAGES["analyze"], args)
    assert config.input.path == [odd, "b.jsonl"] and config.output_dir.endswith("out: x")
