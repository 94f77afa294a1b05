"""``out=``: caller buffers filled in place, equal to fresh results; bad buffers
raise IndicatorError with field "out"."""

from __future__ import annotations

import numpy as np
import pytest

from nija.core import indicators as ta
from nija.core.errors import IndicatorError

from .test_2d import CALLS

OUTPUTS = {"macd": 3, "bbands": 3, "stoch": 2, "stochrsi": 2, "aroon": 2}

# CALLS from test_2d with out= passed through
OUT_CALLS = {
    "sma": lambda d, o: ta.sma(d["close"], 20, out=o),
    "ema": lambda d, o: ta.ema(d["close"], 50, out=o),
    "wma": lambda d, o: ta.wma(d["close"], 20, out=o),
    "dema": lambda d, o: ta.dema(d["close"], 20, out=o),
    "tema": lambda d, o: ta.tema(d["close"], 20, out=o),
    "rsi": lambda d, o: ta.rsi(d["close"], 14, out=o),
    "macd": lambda d, o: ta.macd(d["close"], out=o),
    "bbands": lambda d, o: ta.bbands(d["close"], 20, out=o),
    "atr": lambda d, o: ta.atr(d["high"], d["low"], d["close"], out=o),
    "natr": lambda d, o: ta.natr(d["high"], d["low"], d["close"], out=o),
    "trange": lambda d, o: ta.trange(d["high"], d["low"], d["close"], out=o),
    "adx": lambda d, o: ta.adx(d["high"], d["low"], d["close"], out=o),
    "plus_di": lambda d, o: ta.plus_di(d["high"], d["low"], d["close"], out=o),
    "minus_di": lambda d, o: ta.minus_di(d["high"], d["low"], d["close"], out=o),
    "stoch": lambda d, o: ta.stoch(d["high"], d["low"], d["close"], out=o),
    "stochrsi": lambda d, o: ta.stochrsi(d["close"], out=o),
    "cci": lambda d, o: ta.cci(d["high"], d["low"], d["close"], out=o),
    "mfi": lambda d, o: ta.mfi(d["high"], d["low"], d["close"], d["volume"], out=o),
    "obv": lambda d, o: ta.obv(d["close"], d["volume"], out=o),
    "roc": lambda d, o: ta.roc(d["close"], out=o),
    "mom": lambda d, o: ta.mom(d["close"], out=o),
    "willr": lambda d, o: ta.willr(d["high"], d["low"], d["close"], out=o),
    "aroon": lambda d, o: ta.aroon(d["high"], d["low"], out=o),
    "vwap": lambda d, o: ta.vwap(d["high"], d["low"], d["close"], d["volume"], out=o),
}


def test_every_function_is_covered():
    assert sorted(OUT_CALLS) == sorted(CALLS)


def _buffers(name, shape, fill=7.0):
    count = OUTPUTS.get(name, 1)
    bufs = tuple(np.full(shape, fill) for _ in range(count))
    return bufs if count > 1 else bufs[0]


@pytest.mark.parametrize("rows", [None, 3, 11])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_out_equals_fresh_and_is_returned(name, rows, market_matrix):
    data = market_matrix if rows is None else {k: v[: min(rows, v.shape[0])] for k, v in market_matrix.items()}
    if rows == 3:
        data = {k: v[0] for k, v in data.items()}  # 1-D
    fresh = CALLS[name](data)
    shape = data["close"].shape
    bufs = _buffers(name, shape)
    got = OUT_CALLS[name](data, bufs)
    if isinstance(bufs, tuple):
        assert isinstance(got, tuple) and len(got) == len(bufs)
        assert all(g is b for g, b in zip(got, bufs))
        for g, f in zip(got, fresh):
            np.testing.assert_array_equal(g, f)
    else:
        assert got is bufs
        np.testing.assert_array_equal(got, fresh)
    # reused: a second call into the same (now dirty) buffers gives the same again
    again = OUT_CALLS[name](data, bufs)
    for g, f in zip(again if isinstance(again, tuple) else (again,), fresh if isinstance(fresh, tuple) else (fresh,)):
        np.testing.assert_array_equal(g, f)


X = np.cumsum(np.random.default_rng(3).normal(size=(10, 120)), axis=1) + 100.0


@pytest.mark.parametrize(
    "out, why",
    [
        (np.empty((10, 120), dtype=np.float32), "float64"),
        (np.empty((10, 119)), "shape"),
        (np.empty((120, 10)).T, "C-contiguous"),
        (np.empty(1200), "shape"),
        ([0.0] * 1200, "numpy array"),
        ((np.empty((10, 120)), np.empty((10, 120))), "one array"),
    ],
)
def test_bad_single_out_names_out(out, why):
    with pytest.raises(IndicatorError) as err:
        ta.rsi(X, 14, out=out)
    assert err.value.field == "out"
    assert why in str(err.value)


def test_read_only_out_is_refused():
    buf = np.empty_like(X)
    buf.flags.writeable = False
    with pytest.raises(IndicatorError) as err:
        ta.ema(X, 10, out=buf)
    assert err.value.field == "out" and "read-only" in str(err.value)


def test_out_aliasing_an_input_is_refused():
    x = X.copy()
    with pytest.raises(IndicatorError) as err:
        ta.sma(x, 5, out=x)
    assert err.value.field == "out"
    h, l, c = X + 1.0, X - 1.0, X.copy()
    with pytest.raises(IndicatorError) as err:
        ta.atr(h, l, c, 14, out=l)
    assert err.value.field == "out" and "input" in str(err.value)
    # a view into the input's memory counts as well
    big = np.concatenate([X, X])
    with pytest.raises(IndicatorError):
        ta.rsi(big[:10], 14, out=big[5:15])
    # the input is left untouched by the refused call
    np.testing.assert_array_equal(x, X)


def test_multi_output_buffers_are_checked():
    good = tuple(np.empty_like(X) for _ in range(3))
    with pytest.raises(IndicatorError) as err:
        ta.macd(X, out=good[:2])
    assert err.value.field == "out" and "tuple of 3" in str(err.value)
    with pytest.raises(IndicatorError) as err:
        ta.macd(X, out=np.empty_like(X))
    assert err.value.field == "out"
    with pytest.raises(IndicatorError) as err:
        ta.bbands(X, 20, out=(good[0], good[1], good[0]))
    assert err.value.field == "out" and "another output" in str(err.value)
    with pytest.raises(IndicatorError) as err:
        ta.bbands(X, 20, out=(good[0], np.empty((10, 120), dtype=np.float32), good[2]))
    assert "out[1]" in str(err.value)


def test_non_float64_input_with_out():
    # the input is converted (a copy), the buffer is filled as usual
    xi = np.round(X * 100).astype(np.int64)
    buf = np.empty(X.shape)
    assert ta.rsi(xi, 14, out=buf) is buf
    np.testing.assert_array_equal(buf, ta.rsi(xi.astype(np.float64), 14))
