"""Each built-in strategy's signals on real data, against rules re-derived independently
with TA-Lib and plain Python loops."""

from __future__ import annotations

import math

import numpy as np
import talib

from nija.core.backtest import signals_for
from nija_strategy_apex import Apex
from nija_strategy_bollinger import BollingerReversion
from nija_strategy_macd import MacdTrend


def frame_of(strategy, market):
    return signals_for(strategy, market)


def lt(a, b):
    return not math.isnan(a) and not math.isnan(b) and a < b


def gt(a, b):
    return lt(b, a)


def near(*pairs):
    """A comparison TA-Lib's last-bit RSI differences could flip (see nija.core.indicators)."""
    return any(not math.isnan(a) and not math.isnan(b) and abs(a - b) < 1e-9 for a, b in pairs)


def test_apex_enters_only_after_both_rsis_were_oversold_and_turned_up_in_an_uptrend(markets):
    total = 0
    for m in markets:
        s = Apex()
        f = frame_of(s, m)
        r9, r14 = talib.RSI(m.close, 9), talib.RSI(m.close, 14)
        e50, e200 = talib.EMA(m.close, 50), talib.EMA(m.close, 200)
        atr = talib.ATR(m.high, m.low, m.close, 14)
        expected_entry, expected_exit, ambiguous = [], [], set()
        for t in range(1, len(m)):
            if (lt(r9[t - 1], 30) and lt(r14[t - 1], 30) and gt(r9[t], r9[t - 1]) and gt(r14[t], r14[t - 1])
                    and gt(e50[t], e200[t])):
                expected_entry.append(t)
            if (gt(r9[t - 1], 70) and lt(r9[t], r9[t - 1])) or (gt(r14[t - 1], 70) and lt(r14[t], r14[t - 1])):
                expected_exit.append(t)
            if near((r9[t], r9[t - 1]), (r14[t], r14[t - 1]), (r9[t - 1], 30), (r14[t - 1], 30),
                    (r9[t - 1], 70), (r14[t - 1], 70)):
                ambiguous.add(t)
        got_entry = np.flatnonzero(f.entry[0]).tolist()
        assert set(got_entry) ^ set(expected_entry) <= ambiguous, m.symbol
        assert set(np.flatnonzero(f.exit[0]).tolist()) ^ set(expected_exit) <= ambiguous, m.symbol
        assert len(ambiguous) < len(m) // 10  # flat-price plateaus only, not a different rule
        for t in got_entry:
            assert math.isclose(f.stop_loss[0, t], m.close[t] - 2.0 * atr[t], rel_tol=1e-9)
            assert math.isclose(f.take_profit[0, t], m.close[t] + 3.0 * atr[t], rel_tol=1e-9)
            assert 0.0 <= f.strength[0, t] <= 1.0
            # The rule itself, on our own indicator values.
            assert r9[t - 1] < 30 + 1e-9 and r14[t - 1] < 30 + 1e-9 and e50[t] > e200[t]
        total += len(got_entry)
    assert total > 0  # the real data does contain apex setups


def test_apex_trend_filter_and_thresholds_are_parameters(eth):
    base = frame_of(Apex(), eth).entry.sum()
    assert frame_of(Apex(trend_filter=False), eth).entry.sum() > base
    assert frame_of(Apex(oversold=40), eth).entry.sum() > base


def test_macd_trend_enters_on_an_upward_signal_cross_above_zero(markets):
    for m in markets:
        f = frame_of(MacdTrend(), m)
        line, _, hist = talib.MACD(m.close, 12, 26, 9)
        entry = [t for t in range(1, len(m)) if not math.isnan(hist[t - 1]) and hist[t - 1] <= 0 < hist[t]
                 and line[t] > 0]
        exit_ = [t for t in range(1, len(m)) if not math.isnan(hist[t - 1]) and hist[t - 1] >= 0 > hist[t]]
        got = np.flatnonzero(f.entry[0]).tolist()
        assert got == entry and len(entry) > 0, m.symbol
        assert np.flatnonzero(f.exit[0]).tolist() == exit_
        assert np.all(np.isnan(f.take_profit))


def test_bollinger_buys_the_close_back_inside_the_lower_band(markets):
    for m in markets:
        f = frame_of(BollingerReversion(), m)
        upper, middle, lower = talib.BBANDS(m.close, 20, 2.0, 2.0)
        entry = [t for t in range(1, len(m)) if lt(m.close[t - 1], lower[t - 1]) and gt(m.close[t], lower[t])]
        exit_ = [t for t in range(len(m)) if not math.isnan(middle[t]) and m.close[t] >= middle[t]]
        got = np.flatnonzero(f.entry[0]).tolist()
        # TA-Lib's running sums differ from ours in the last bits; allow a band-touching candle.
        assert len(set(got) ^ set(entry)) <= max(1, len(entry) // 100) and len(entry) > 0, m.symbol
        assert len(set(np.flatnonzero(f.exit[0]).tolist()) ^ set(exit_)) <= max(1, len(exit_) // 100)
        for t in got:
            np.testing.assert_allclose(f.take_profit[0, t], upper[t], rtol=1e-9)


def test_the_three_strategies_differ_in_kind(eth):
    frames = [frame_of(s, eth) for s in (Apex(), MacdTrend(), BollingerReversion())]
    entries = [set(np.flatnonzero(f.entry[0]).tolist()) for f in frames]
    assert entries[0] != entries[1] != entries[2] != entries[0]
