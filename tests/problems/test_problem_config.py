"""ProblemSetConfig: help on every field, validation naming the key, registry coverage."""

import subprocess
import typing

import pytest
from pydantic import ValidationError

from locations import PYTHON, REPO
from overthink.config import iter_fields, load_config
from overthink.errors import ConfigError
from overthink.problems import HUB, LOADERS, ProblemSetConfig


def test_every_field_has_a_description():
    fields = list(iter_fields(ProblemSetConfig))
    assert {key for key, *_ in fields} >= {"name", "path", "split", "limit", "seed", "columns.problem", "columns.gold"}
    missing = [key for key, _, help_text, _ in fields if not help_text.strip()]
    assert not missing, f"fields without a description: {missing}"


def test_registry_covers_exactly_the_names_the_config_accepts():
    names = set(typing.get_args(ProblemSetConfig.model_fields["name"].annotation))
    assert set(LOADERS) == names
    assert set(HUB) == names - {"local", "organism"}  # the two sets that never come from the hub


def test_real_hub_ids():
    assert (HUB["gsm8k"].hub_id, HUB["gsm8k"].config_name, HUB["gsm8k"].split) == ("openai/gsm8k", "main", "test")
    assert HUB["math500"].hub_id == "HuggingFaceH4/MATH-500"
    assert HUB["gpqa_diamond"].config_name == "gpqa_diamond" and HUB["gpqa_diamond"].split == "train"


def test_yaml_and_overrides_build_a_frozen_config(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: local\npath: data.jsonl\ncolumns: {problem: question, gold: answer}\n")
    config = load_config(ProblemSetConfig, path, ["limit=5"])
    assert (config.columns.problem, config.columns.gold, config.limit) == ("question", "answer", 5)
    assert config.columns.problem_id == "problem_id"  # default kept
    with pytest.raises(ValidationError):
        config.limit = 6


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["name=mmlu"], r"key 'name'"),
        (["name=math500", "limit=0"], r"key 'limit'"),
        (["name=math500", "colums.gold=x"], r"unknown key 'colums'"),
        (["name=local"], r"name=local needs path"),
        ([], r"missing required key 'name'"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ProblemSetConfig, None, overrides)


def test_importing_the_package_stays_light():
    code = (
        "import sys, overthink.problems; heavy = {'ray', 'datasets', 'torch', 'vllm'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([PYTHON, "-c", code], check=True, cwd=REPO)
