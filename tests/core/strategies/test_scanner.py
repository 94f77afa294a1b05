"""The scanner: one cycle over N markets, batch and streaming agree with the backtest's view."""

from __future__ import annotations

import numpy as np
import pytest

from nija.core.strategies import Scanner, SignalAction, StrategyContext, compute_indicators
from nija_strategy_apex import Apex
from nija_strategy_bollinger import BollingerReversion
from nija_strategy_macd import MacdTrend

FIELDS = ("open", "high", "low", "close", "volume")


def stacked(markets, n):
    return {k: np.vstack([getattr(m, k)[:n] for m in markets]) for k in FIELDS}, markets[0].ts[:n]


@pytest.mark.parametrize("cls", [Apex, MacdTrend, BollingerReversion])
def test_scan_decides_the_newest_candle_like_the_full_history_does(markets, cls):
    n = min(len(m) for m in markets)
    candles, times = stacked(markets, n)
    strategy = cls(**({"oversold": 40} if cls is Apex else {}))
    full = StrategyContext([m.symbol for m in markets], times, candles, compute_indicators(strategy.indicators(), candles))
    strategy.evaluate(full)
    frame = full.frame()
    busy = np.flatnonzero(frame.entry.any(axis=0) | frame.exit.any(axis=0))
    assert len(busy) > 0
    scanner = Scanner(strategy, [m.symbol for m in markets])
    for t in busy[-5:]:
        sigs = scanner.scan({k: v[:, :t + 1] for k, v in candles.items()}, times[:t + 1])
        assert {(s.symbol, s.action) for s in sigs} == (
            {(markets[i].symbol, SignalAction.ENTER_LONG) for i in np.flatnonzero(frame.entry[:, t])}
            | {(markets[i].symbol, SignalAction.EXIT_LONG) for i in np.flatnonzero(frame.exit[:, t])})
        assert all(s.ts_ms == times[t] for s in sigs)


def test_streaming_cycles_match_the_batch_decisions(markets):
    n = min(len(m) for m in markets)
    candles, times = stacked(markets, n)
    symbols = [m.symbol for m in markets]
    strategy = Apex(oversold=40)
    full = StrategyContext(symbols, times, candles, compute_indicators(strategy.indicators(), candles))
    strategy.evaluate(full)
    frame = full.frame()
    streaming = Scanner(Apex(oversold=40), symbols)
    warm = 600  # past EMA(200)'s warm-up, where streaming values equal the batch ones
    streaming.seed({k: v[:, :warm] for k, v in candles.items()}, times[:warm])
    seen = 0
    for t in range(warm, n):
        got = streaming.update({k: np.ascontiguousarray(v[:, t]) for k, v in candles.items()}, int(times[t]))
        want = ([(symbols[i], SignalAction.EXIT_LONG) for i in np.flatnonzero(frame.exit[:, t])]
                + [(symbols[i], SignalAction.ENTER_LONG) for i in np.flatnonzero(frame.entry[:, t])])
        assert [(s.symbol, s.action) for s in got] == want, t
        for s in got:
            i = symbols.index(s.symbol)
            if s.action is SignalAction.ENTER_LONG:
                assert s.stop_loss == pytest.approx(frame.stop_loss[i, t], rel=1e-9)
                assert s.ts_ms == times[t]
        seen += len(got)
    assert seen > 0


def test_positions_are_a_read_only_view(markets):
    from decimal import Decimal

    from nija.core.strategies import PositionView, Strategy

    seen = {}

    class Looker(Strategy):
        name = "looker"

        def indicators(self):
            return {}

        def evaluate(self, ctx):
            seen["positions"] = ctx.positions
            seen["now"] = ctx.now_ms
            seen["clock"] = ctx.clock.now_ms()
            try:
                ctx.positions["X"] = None
            except TypeError:
                seen["read_only"] = True

    candles, times = stacked(markets, 50)
    view = {"ETH/BTC": PositionView("ETH/BTC", Decimal("1.5"), Decimal("0.09"))}
    assert Scanner(Looker(), [m.symbol for m in markets]).scan(candles, times, positions=view) == []
    assert seen["positions"]["ETH/BTC"].quantity == Decimal("1.5") and seen["read_only"]
    assert seen["now"] == seen["clock"] == int(times[-1])


def test_scan_in_blocks_equals_one_block(markets, monkeypatch):
    from nija.core.strategies import _scanner

    n = min(len(m) for m in markets)
    candles, times = stacked(markets, n)
    symbols = [m.symbol for m in markets]
    strategy = BollingerReversion()  # a tuple-valued indicator (bbands) and a plain one (atr)
    whole = Scanner(strategy, symbols)
    want = [whole.scan({k: v[:, :t + 1] for k, v in candles.items()}, times[:t + 1]) for t in range(600, 900)]
    monkeypatch.setattr(_scanner, "SCAN_BLOCK", 3)
    got = [whole.scan({k: v[:, :t + 1] for k, v in candles.items()}, times[:t + 1]) for t in range(600, 900)]
    assert got == want and any(want)
