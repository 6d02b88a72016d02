"""The typed search space: every distribution parses and round-trips, every mistake fails at load time
with one line naming the key, and neither the space nor the selection core imports Ray."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from overthink.errors import ConfigError
from overthink.sweep.space import (
    Choice,
    Fixed,
    Grid,
    LogUniform,
    RandInt,
    Uniform,
    dump_space,
    parse_space,
    space_values,
    validate_search_space,
)
from overthink.train.config import TrainConfig

SPACE = yaml.safe_load("""
strategy: {grid: [fcs, gds]}
loss: {choice: [simpo, dpo]}
simpo_gamma: {uniform: [0, 1.5]}
learning_rate: {loguniform: [1.0e-7, 1.0e-5]}
placement.count: {randint: [1, 4]}
epochs: 1
beta: null
kinds: [length]
placement.resources: {accelerator_type_a100: 0.01}
""")


def parse(space: dict):
    return parse_space(space, TrainConfig)


def test_every_distribution_parses():
    assert parse(SPACE) == {
        "strategy": Grid(("fcs", "gds")),
        "loss": Choice(("simpo", "dpo")),
        "simpo_gamma": Uniform(0.0, 1.5),
        "learning_rate": LogUniform(1e-7, 1e-5),
        "placement.count": RandInt(1, 4),
        "epochs": Fixed(1.0),  # an int for a float key is accepted and stored as the float the config holds
        "beta": Fixed(None),
        "kinds": Fixed(["length"]),
        "placement.resources": Fixed({"accelerator_type_a100": 0.01}),  # a dict key takes a fixed mapping
    }


def test_dump_round_trips_through_yaml():
    space = parse(SPACE)
    assert parse(yaml.safe_load(yaml.safe_dump(dump_space(space)))) == space
    assert validate_search_space(SPACE, TrainConfig) == dump_space(space)
    assert validate_search_space(SPACE, TrainConfig)["simpo_gamma"] == {"uniform": [0.0, 1.5]}


def test_space_values_lists_only_listed_dimensions():
    space = parse(SPACE)
    assert space_values(space["strategy"]) == ["fcs", "gds"] and space_values(space["loss"]) == ["simpo", "dpo"]
    assert space_values(space["epochs"]) == [1.0] and space_values(space["kinds"]) == [["length"]]
    assert space_values(space["learning_rate"]) is None and space_values(space["placement.count"]) is None


@pytest.mark.parametrize(
    "key, spec, message",
    [
        ("learning_rate", {"unifrom": [1.0e-7, 1.0e-5]}, "unknown distribution 'unifrom'.*did you mean uniform"),
        ("beta", {}, "give exactly one of grid, choice, uniform, loguniform, randint \\(got 0"),
        ("beta", {"grid": [1.0], "choice": [2.0]}, "give exactly one of .* \\(got 2 entries"),
        ("beta", {"grid": []}, "grid needs a non-empty list"),
        ("loss", {"choice": "simpo"}, "choice needs a non-empty list"),
        ("simpo_gamma", {"uniform": [0.5]}, "uniform needs \\[low, high\\]"),
        ("simpo_gamma", {"uniform": 0.5}, "uniform needs \\[low, high\\]"),
        ("simpo_gamma", {"uniform": [1.0, 0.5]}, "uniform needs low < high"),
        ("simpo_gamma", {"uniform": [0.5, 0.5]}, "uniform needs low < high"),
        ("learning_rate", {"loguniform": [0, 1.0e-5]}, "loguniform needs low > 0"),
        ("learning_rate", {"loguniform": [-1.0, 1.0e-5]}, "loguniform needs low > 0"),
        ("placement.count", {"randint": [1, 4.5]}, "randint needs integer bounds"),
        ("simpo_gamma", {"uniform": [True, 2]}, "not a finite number"),
        ("learning_rate", {"loguniform": ["1e-7", 1.0e-5]}, "low '1e-7' is text.*write 1.0e-7"),
        ("learning_rate", {"grid": [5.0e-7, "1e-7"]}, "grid value '1e-7' is not valid.*write 1.0e-7"),
        ("learning_rate", "1.0e7", "fixed value '1.0e7' is not valid.*write 1.0e\\+7"),
        (
            "learnig_rate",
            {"grid": [1.0e-7]},
            "'learnig_rate' is not a key of TrainConfig \\(did you mean learning_rate",
        ),
        ("placement.cont", 2, "'cont' is not a key of TrainPlacement \\(did you mean count"),
        ("beta.low", 2.0, "beta is a value, not a section"),
        ("lora", {"enabled": True}, "is a section; search its keys instead"),
        ("loss", {"grid": ["simpo", "ipo"]}, "grid value 'ipo' is not valid: .*unknown loss 'ipo'"),
        ("beta", {"choice": [2.0, 0.0]}, "choice value 0.0 is not valid: Input should be greater than 0"),
        ("placement.count", {"grid": [2.0]}, "grid value 2.0 is not valid: Input should be a valid integer"),
        ("gradient_checkpointing", 1, "fixed value 1 is not valid: Input should be a valid boolean"),
        ("beta", {"scale": 2.0}, "unknown distribution 'scale'"),  # a fixed dict for a non-dict key
        ("beta", [2.0, 2.5], "fixed value \\[2.0, 2.5\\] is not valid.*write \\{grid: \\[...\\]\\}"),
        ("per_device_batch_size", {"uniform": [1, 8]}, "can draw 1.0.*valid integer.*use randint"),
        ("beta", {"uniform": [0, 2]}, "can draw 0.0, which is not valid: Input should be greater than 0"),
        ("warmup_ratio", {"uniform": [0.0, 1.5]}, "can draw 1.49.*less than 1"),
        ("placement.count", {"randint": [0, 3]}, "randint \\[0, 3\\] can draw 0"),
        ("kinds", {"grid": [["length", "long"]]}, "grid value .* is not valid: 1: Input should be 'length'"),
    ],
)
def test_bad_space_names_the_key(key, spec, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse({"strategy": {"grid": ["fcs"]}, key: spec})
    text = str(caught.value)
    assert text.startswith(f"search.space.{key}: ") and "\n" not in text


def test_exclusive_highs_are_allowed_at_the_field_bound():
    # Ray draws uniform from [low, high) and randint from low..high-1, so high may sit on an exclusive bound.
    space = parse({"warmup_ratio": {"uniform": [0.0, 1.0]}, "placement.count": {"randint": [1, 2]}})
    assert space == {"warmup_ratio": Uniform(0.0, 1.0), "placement.count": RandInt(1, 2)}


def test_number_hint_reads_back_as_a_float():
    with pytest.raises(ConfigError, match="write (\\S+):") as caught:
        parse({"learning_rate": {"loguniform": ["5e-7", 1.0e-5]}})
    written = caught.value.args[0].split("write ")[1].split(":")[0]
    assert yaml.safe_load(written) == 5e-7


def test_where_prefixes_the_key_and_the_space_must_be_a_mapping():
    with pytest.raises(ConfigError, match="^sweep.search.space.beta: grid needs"):
        parse_space({"beta": {"grid": []}}, TrainConfig, where="sweep.search.space")
    with pytest.raises(ConfigError, match="^search.space: give a mapping of TrainConfig keys"):
        parse([{"beta": 2.0}])


def test_the_pipeline_names_the_space_as_its_user_wrote_it():
    from overthink.config import load_config
    from overthink.pipeline.config import PipelineConfig

    with pytest.raises(ConfigError, match="^sweep.space.beta: grid needs a non-empty list") as caught:
        load_config(PipelineConfig, None, ["sweep={space: {beta: {grid: []}}}"])
    assert "\n" not in str(caught.value)


def test_space_and_select_do_not_import_ray():
    code = "import sys, overthink.sweep.select, overthink.sweep.space; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
