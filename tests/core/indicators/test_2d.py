"""2-D input (markets x time) equals the 1-D result row by row, threaded or not."""

from __future__ import annotations

import numpy as np
import pytest

from nija.core import indicators as ta

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


@pytest.fixture(params=[1, 2], ids=["serial", "threads"])
def threads(request):
    before = ta.get_num_threads()
    ta.set_num_threads(request.param)
    yield request.param
    ta.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_2d_equals_1d_rows(name, market_matrix, threads):
    call = CALLS[name]
    batch = call(market_matrix)
    batch = batch if isinstance(batch, tuple) else (batch,)
    for row in range(market_matrix["close"].shape[0]):
        one = call({k: v[row] for k, v in market_matrix.items()})
        one = one if isinstance(one, tuple) else (one,)
        for b, o in zip(batch, one):
            assert b.shape == market_matrix["close"].shape
            # same kernel on the same row: bit-identical
            np.testing.assert_array_equal(b[row], o)


def test_thread_knob_validates():
    from nija.core.errors import IndicatorError

    with pytest.raises(IndicatorError):
        ta.set_num_threads(0)
    assert isinstance(ta.openmp_enabled(), bool)
