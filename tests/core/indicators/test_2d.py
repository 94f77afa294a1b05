"""2-D input (markets x time) equals the 1-D result row by row, threaded or not."""

from __future__ import annotations

import pytest

from nija.core import indicators as ta

from ._support import assert_rows_equal_1d

CALLS = {
    "sma": lambda d: ta.sma(d["close"], 20),
    "ema": lambda d: ta.ema(d["close"], 50),
    "wma": lambda d: ta.wma(d["close"], 20),
    "dema": lambda d: ta.dema(d["close"], 20),
    "tema": lambda d: ta.tema(d["close"], 20),
    "rsi": lambda d: ta.rsi(d["close"], 14),
    "macd": lambda d: ta.macd(d["close"]),
    "bbands": lambda d: ta.bbands(d["close"], 20),
    "atr": lambda d: ta.atr(d["high"], d["low"], d["close"]),
    "natr": lambda d: ta.natr(d["high"], d["low"], d["close"]),
    "trange": lambda d: ta.trange(d["high"], d["low"], d["close"]),
    "adx": lambda d: ta.adx(d["high"], d["low"], d["close"]),
    "plus_di": lambda d: ta.plus_di(d["high"], d["low"], d["close"]),
    "minus_di": lambda d: ta.minus_di(d["high"], d["low"], d["close"]),
    "stoch": lambda d: ta.stoch(d["high"], d["low"], d["close"]),
    "stochrsi": lambda d: ta.stochrsi(d["close"]),
    "cci": lambda d: ta.cci(d["high"], d["low"], d["close"]),
    "mfi": lambda d: ta.mfi(d["high"], d["low"], d["close"], d["volume"]),
    "obv": lambda d: ta.obv(d["close"], d["volume"]),
    "roc": lambda d: ta.roc(d["close"]),
    "mom": lambda d: ta.mom(d["close"]),
    "willr": lambda d: ta.willr(d["high"], d["low"], d["close"]),
    "aroon": lambda d: ta.aroon(d["high"], d["low"]),
    "vwap": lambda d: ta.vwap(d["high"], d["low"], d["close"], d["volume"]),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_2d_equals_1d_rows(name, market_matrix, threads):
    assert_rows_equal_1d(CALLS[name], market_matrix)


def test_thread_knob_validates():
    from nija.core.errors import IndicatorError

    with pytest.raises(IndicatorError):
        ta.set_num_threads(0)
    assert isinstance(ta.openmp_enabled(), bool)
