"""One wrapper around every call into strategy code: a crash disables that strategy for that
bot, with an error event, and nothing else stops."""

from __future__ import annotations

import numpy as np
import pytest

from nija.core.errors import StrategyError
from nija.core.strategies import Scanner, Strategy, StrategyGuard
from nija_strategy_apex import Apex


class Exploding(Strategy):
    name = "exploding"

    def indicators(self):
        return {"rsi": ("rsi", {"timeperiod": 14})}

    def evaluate(self, ctx):
        raise ZeroDivisionError("bug in plugin")


class Mutating(Strategy):
    """Tries to write into the context's arrays."""

    name = "mutating"

    def indicators(self):
        return {}

    def evaluate(self, ctx):
        ctx.candles("close")[:] = 0.0


def history(markets, n=400):
    return ({k: np.vstack([getattr(m, k)[:n] for m in markets]) for k in ("open", "high", "low", "close", "volume")},
            markets[0].ts[:n])


def test_crash_disables_only_that_bot_and_publishes_an_event(markets, caplog):
    events = []
    guard = StrategyGuard(on_disabled=events.append)
    symbols = [m.symbol for m in markets]
    candles, times = history(markets)
    bad = Scanner(Exploding(), symbols, bot_id="bot-a", guard=guard)
    good = Scanner(Apex(), symbols, bot_id="bot-b", guard=guard)
    with caplog.at_level("ERROR"):
        with pytest.raises(StrategyError) as info:
            bad.scan(candles, times)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert info.value.strategy == "exploding" and "bug in plugin" in info.value.message
    assert any("exploding" in r.getMessage() and "bot-a" in r.getMessage() for r in caplog.records)
    assert [(e.bot_id, e.strategy, e.method) for e in events] == [("bot-a", "exploding", "evaluate")]
    assert guard.is_disabled("bot-a", "exploding")
    # Disabled from now on: the next cycle refuses without calling the plugin again.
    with pytest.raises(StrategyError, match="disabled for bot bot-a"):
        bad.scan(candles, times)
    assert len(events) == 1
    # Other bots and strategies keep running in the same process.
    assert isinstance(good.scan(candles, times), list)
    assert not guard.is_disabled("bot-b", "apex")
    guard.enable("bot-a", "exploding")
    assert not guard.is_disabled("bot-a", "exploding")


def test_strategies_get_read_only_data(markets):
    guard = StrategyGuard()
    candles, times = history(markets)
    before = candles["close"].copy()
    with pytest.raises(StrategyError) as info:
        Scanner(Mutating(), [m.symbol for m in markets], guard=guard).scan(candles, times)
    assert isinstance(info.value.__cause__, ValueError)  # "assignment destination is read-only"
    np.testing.assert_array_equal(candles["close"], before)


def test_a_failing_event_sink_does_not_hide_the_error():
    def sink(event):
        raise RuntimeError("bus down")

    guard = StrategyGuard(on_disabled=sink)
    with pytest.raises(StrategyError):
        guard.call("bot", Exploding(), "evaluate", None)
    assert guard.is_disabled("bot", "exploding")


def test_sizing_goes_through_the_guard_too(markets):
    from nija.core.strategies import Signal, SignalAction

    class BadSizing(Apex):
        def position_fraction(self, signal, **kwargs):
            return 3.0 if signal.symbol == "BIG" else 1 / 0

    guard = StrategyGuard()
    scanner = Scanner(BadSizing(), ["ETH/BTC"], bot_id="bot-s", guard=guard)
    assert Scanner(Apex(position_fraction=0.25), ["ETH/BTC"]).position_fraction(
        Signal("ETH/BTC", 0, SignalAction.ENTER_LONG)) == 0.25
    with pytest.raises(StrategyError, match="must be in"):
        scanner.position_fraction(Signal("BIG", 0, SignalAction.ENTER_LONG))
    with pytest.raises(StrategyError) as info:
        scanner.position_fraction(Signal("ETH/BTC", 0, SignalAction.ENTER_LONG))
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert guard.is_disabled("bot-s", "apex")
