"""Input handling: conversion of dtypes/layouts, and IndicatorError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from nija.core import indicators as ta
from nija.core.errors import IndicatorError


def test_non_float64_and_non_contiguous_inputs_are_converted():
    x = np.arange(200, dtype=np.int64)
    expected = ta.sma(x.astype(np.float64), 10)
    np.testing.assert_array_equal(ta.sma(x, 10), expected)
    np.testing.assert_array_equal(ta.sma(x.astype(np.float32), 10), expected)
    np.testing.assert_array_equal(ta.sma(list(x), 10), expected)
    strided = np.arange(400, dtype=np.float64)[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(ta.sma(strided, 10), ta.sma(strided.copy(), 10))
    fortran = np.asfortranarray(np.vstack([strided, strided]))
    out = ta.rsi(fortran, 14)
    np.testing.assert_array_equal(out[1], ta.rsi(strided, 14))


def test_output_has_input_length_and_leading_nan():
    x = np.linspace(1, 2, 50)
    out = ta.ema(x, 10)
    assert out.shape == x.shape and out.dtype == np.float64
    assert np.isnan(out[:9]).all() and not np.isnan(out[9:]).any()


def test_mismatched_lengths_name_the_argument():
    with pytest.raises(IndicatorError) as err:
        ta.atr(np.ones(50), np.ones(49), np.ones(50))
    assert err.value.field == "low"
    with pytest.raises(IndicatorError) as err:
        ta.mfi(np.ones(50), np.ones(50), np.ones(50), np.ones(51))
    assert err.value.field == "volume"


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda x: ta.rsi(x, 1), "timeperiod"),
        (lambda x: ta.sma(x, 0), "timeperiod"),
        (lambda x: ta.bbands(x, 1), "timeperiod"),
        (lambda x: ta.macd(x, 1, 26, 9), "fastperiod"),
        (lambda x: ta.macd(x, 12, 26, 0), "signalperiod"),
        (lambda x: ta.stoch(x, x, x, 0), "fastk_period"),
        (lambda x: ta.stochrsi(x, 14, 5, 0), "fastd_period"),
        (lambda x: ta.adx(x, x, x, 1), "timeperiod"),
        (lambda x: ta.willr(x, x, x, 1), "timeperiod"),
        (lambda x: ta.aroon(x, x, 1), "timeperiod"),
        (lambda x: ta.sma(x, 100_001), "timeperiod"),
        (lambda x: ta.sma(x, 2.5), "timeperiod"),
        (lambda x: ta.sma(x, True), "timeperiod"),
        (lambda x: ta.bbands(x, 5, nbdevup=float("nan")), "nbdevup"),
        (lambda x: ta.bbands(x, 5, matype=3), "matype"),
        (lambda x: ta.stoch(x, x, x, slowd_matype=8), "slowd_matype"),
    ],
)
def test_bad_parameters_name_the_argument(call, field):
    with pytest.raises(IndicatorError) as err:
        call(np.linspace(1, 2, 300))
    assert err.value.field == field


@pytest.mark.parametrize(
    "call, n_ok",
    [
        (lambda x: ta.sma(x, 10), 10),
        (lambda x: ta.rsi(x, 14), 15),
        (lambda x: ta.macd(x), 34),
        (lambda x: ta.adx(x, x, x, 14), 28),
        (lambda x: ta.trange(x, x, x), 2),
        (lambda x: ta.obv(x, x), 1),
    ],
)
def test_input_shorter_than_lookback(call, n_ok):
    x = np.linspace(1, 2, n_ok)
    out = call(x)
    assert np.isfinite(np.asarray(out)[..., -1]).all()
    with pytest.raises(IndicatorError) as err:
        call(x[:-1])
    assert err.value.field in {"real", "high"}


def test_bad_inputs_are_indicator_errors():
    with pytest.raises(IndicatorError) as err:
        ta.sma(np.ones((2, 2, 2)), 2)
    assert err.value.field == "real"
    with pytest.raises(IndicatorError):
        ta.sma(["a", "b", "c"], 2)
    assert issubclass(IndicatorError, ValueError) or issubclass(IndicatorError, Exception)


def test_all_nan_input_gives_all_nan():
    out = ta.rsi(np.full(50, np.nan), 14)
    assert np.isnan(out).all()


def test_public_api_is_declared():
    for name in ta.__all__:
        assert hasattr(ta, name)
    assert {"sma", "macd", "vwap", "IndicatorError"} <= set(ta.__all__)
