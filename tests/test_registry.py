"""The generic registry behind segmenters, judges, pair strategies and losses."""

import pytest

from overthink.errors import ConfigError
from overthink.registry import Registry


def test_register_get_and_names_in_order():
    colours = Registry("colour")

    @colours.register("red")
    def red():
        return "r"

    colours.register("blue")(len)
    assert red() == "r" and colours.get("red") is red and colours.get("blue") is len
    assert colours.names() == ("red", "blue")
    assert "red" in colours and "green" not in colours and ["red"] not in colours


def test_unknown_name_is_a_config_error_listing_the_choices():
    colours = Registry("colour")
    colours.register("red")(object())
    colours.register("blue")(object())
    with pytest.raises(ConfigError, match=r"^unknown colour 'green': choose one of red, blue$"):
        colours.get("green")
    with pytest.raises(ConfigError, match="unknown colour"):
        colours.get(["red"])


def test_a_name_registers_once():
    colours = Registry("colour")
    colours.register("red")(object())
    with pytest.raises(ValueError, match="'red' is registered twice"):
        colours.register("red")(object())
