"""2-D calls of rsi, macd, bbands and atr run blocks of 8 markets in lockstep
(vector lanes). Every row must still equal the 1-D result bit for bit, whatever
the row count, wherever NaN sits, and whichever build (FMA3 or portable) runs."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from nija.core import indicators as ta
from nija.core.indicators import _functions

from ._support import assert_rows_equal_1d, random_markets

LANE_CALLS = {
    "rsi9": lambda d: ta.rsi(d["close"], 9),
    "rsi14": lambda d: ta.rsi(d["close"], 14),
    "rsi2": lambda d: ta.rsi(d["close"], 2),
    "macd": lambda d: ta.macd(d["close"]),
    "macd_swapped": lambda d: ta.macd(d["close"], 26, 12, 9),
    "macd_signal1": lambda d: ta.macd(d["close"], 3, 5, 1),
    "bbands20": lambda d: ta.bbands(d["close"], 20),
    "bbands_asym": lambda d: ta.bbands(d["close"], 7, 1.5, 2.5),
    "bbands_ema": lambda d: ta.bbands(d["close"], 10, matype=1),
    "bbands2": lambda d: ta.bbands(d["close"], 2),
    "atr14": lambda d: ta.atr(d["high"], d["low"], d["close"], 14),
    "atr1": lambda d: ta.atr(d["high"], d["low"], d["close"], 1),
    "atr2": lambda d: ta.atr(d["high"], d["low"], d["close"], 2),
}


@pytest.mark.parametrize("rows", [7, 8, 9, 16, 23])
@pytest.mark.parametrize("name", sorted(LANE_CALLS))
def test_row_counts_around_the_lane_width(name, rows, threads):
    assert_rows_equal_1d(LANE_CALLS[name], random_markets(rows, 300, rows))


@pytest.mark.parametrize("name", sorted(LANE_CALLS))
def test_nan_in_some_rows_only(name, threads):
    d = random_markets(19, 400, 5)
    d["close"][2, 150] = np.nan          # NaN inside one lane of block 0
    d["high"][3, 200:205] = np.nan       # a NaN run in another lane
    d["low"][5, -1] = np.nan             # on the last bar
    d["close"][9, :4] = np.nan           # leading NaN: block 1's rows start apart
    d["close"][12, 390] = np.inf         # infinities take the same path per lane
    d["high"][17:, :6] = np.nan          # last (partial) block: same late start
    d["close"][17:, :6] = np.nan
    d["low"][17:, :6] = np.nan
    assert_rows_equal_1d(LANE_CALLS[name], d)


@pytest.mark.parametrize("name", sorted(LANE_CALLS))
def test_a_whole_block_starting_late(name, threads):
    # every row of the block has the same leading NaN: the lanes start together at bar 10
    d = random_markets(8, 200, 6)
    for k in d:
        d[k][:, :10] = np.nan
    assert_rows_equal_1d(LANE_CALLS[name], d)


@pytest.mark.parametrize("name", sorted(LANE_CALLS))
def test_rows_shorter_than_the_lookback_after_leading_nan(name):
    # 40 bars, 30 of them NaN: too short for the slower indicators in every lane
    d = random_markets(9, 40, 7)
    for k in d:
        d[k][:, :30] = np.nan
    try:
        assert_rows_equal_1d(LANE_CALLS[name], d)
    except ta.IndicatorError:
        pytest.skip("shorter than this indicator's lookback even without NaN")


def test_bbands_reanchoring_in_some_lanes_only(threads):
    """BBANDS re-anchors its running sums when cancellation threatens (a high price
    level with tiny moves, a flat stretch) and every 32*timeperiod bars; lanes of
    one block re-anchor at different bars."""
    rng = np.random.default_rng(9)
    rows, n = 11, 1500
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, (rows, n)), axis=1)
    close[1] = 1e7 + np.cumsum(rng.normal(0.0, 1e-3, n))   # level >> moves
    close[3, 400:700] = close[3, 400]                        # a flat stretch
    close[4, 800:] = close[4, 800:] * 1e-9                   # the level collapses
    close[6] = np.round(close[6], 1)                         # ties, exact repeats
    for p in (2, 5, 20):
        assert_rows_equal_1d(lambda d: ta.bbands(d["close"], p), {"close": close})


def test_constantrandom_markets(threads):
    d = {k: np.full((10, 120), 0.0123) for k in ("high", "low", "close")}
    for name, call in LANE_CALLS.items():
        assert_rows_equal_1d(call, d)


FAMILY_CALLS = [
    ("_momentum", "rsi", lambda m, d: m.rsi(d["close"], 14, 2)),
    ("_overlap", "macd", lambda m, d: m.macd(d["close"], 12, 26, 9, 2)),
    ("_overlap", "bbands", lambda m, d: m.bbands(d["close"], 20, 2.0, 2.0, 0, 2)),
    ("_volatility", "atr", lambda m, d: m.atr(d["high"], d["low"], d["close"], 14, 2)),
]


@pytest.mark.parametrize("family, name, call", FAMILY_CALLS, ids=[c[1] for c in FAMILY_CALLS])
def test_fma_lane_blocks_equal_portable_ones(family, name, call):
    if not _functions._cpu_has_fma():
        pytest.skip("this CPU has no FMA3: only the portable build can run")
    d = random_markets(21, 700, 12)
    d["close"][4, 300] = np.nan
    d["close"][13, :3] = np.nan
    portable = importlib.import_module(f"nija.core.{family}")
    fast = importlib.import_module(f"nija.core.{family}_fma")
    a, b = call(portable, d), call(fast, d)
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_array_equal(x, y, err_msg=f"{family}.{name}")


def test_rows_longer_than_a_lane_block(threads):
    # past LANE_MAX_N bars the 2-D calls go row by row; same results either way
    d = random_markets(9, 17_000, 13)
    d["close"][4, 9000] = np.nan
    for name in ("rsi14", "macd", "bbands20", "atr14"):
        assert_rows_equal_1d(LANE_CALLS[name], d)
