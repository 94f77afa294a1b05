"""Typed parameters: defaults, conversion, ranges, unknown names."""

from __future__ import annotations

import pytest

from nija.core.errors import InvalidArgument
from nija.core.strategies import Parameter, Strategy, describe_parameters
from nija_strategy_apex import Apex
from nija_strategy_bollinger import BollingerReversion


def test_defaults_and_string_conversion():
    s = Apex(oversold="25", trend_filter="false", rsi_fast=7)
    assert s.params["oversold"] == 25.0 and s.params["trend_filter"] is False and s.params["rsi_fast"] == 7
    assert s.params["overbought"] == 70.0
    with pytest.raises(TypeError):
        s.params["oversold"] = 1  # read-only


@pytest.mark.parametrize("kwargs, field", [
    ({"oversold": 0}, "oversold"), ({"oversold": "abc"}, "oversold"), ({"rsi_fast": 2.5}, "rsi_fast"),
    ({"trend_filter": "maybe"}, "trend_filter"), ({"nope": 1}, "nope"), ({"position_fraction": 1.5}, "position_fraction"),
])
def test_bad_values_name_the_field(kwargs, field):
    with pytest.raises(InvalidArgument) as info:
        Apex(**kwargs)
    assert info.value.field == field


def test_choices_and_the_form_a_ui_renders():
    with pytest.raises(InvalidArgument):
        BollingerReversion(exit_at="lower")
    form = {p["name"]: p for p in describe_parameters(BollingerReversion)}
    assert form["exit_at"]["choices"] == ["middle", "upper"] and form["exit_at"]["default"] == "middle"
    assert form["period"] == {"name": "period", "type": "int", "default": 20, "minimum": 2, "maximum": 500,
                              "description": "SMA period of the bands"}
    assert describe_parameters(object) == []


def test_every_builtin_default_is_valid_and_documented():
    for cls in (Apex, BollingerReversion):
        for name, p in cls.parameters.items():
            assert p.description, f"{cls.name}.{name} has no description"
            assert p.coerce(name, p.default) == p.default


def test_abstract_methods_are_required():
    class Incomplete(Strategy):
        name = "incomplete"

    with pytest.raises(TypeError):
        Incomplete()
    with pytest.raises(ValueError):
        Parameter("decimal", 1)


def test_a_plugin_for_a_newer_interface_is_refused_clearly():
    from nija.core.errors import StrategyError

    class FromTheFuture(Apex):
        INTERFACE_VERSION = Strategy.INTERFACE_VERSION + 1

    with pytest.raises(StrategyError, match="upgrade NIJA"):
        FromTheFuture()
