"""Long 1-D series (at least NT_MIN = 262144 points) take kernel paths of their own
(mom and trange stream their output past the cache). They must give the same bits as the
short-series arithmetic, whatever the output's alignment and wherever NaN sits."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from nija.core import indicators as ta

N = 262144 + 1234


def _series(seed: int, nan: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, N + 1))
    spread = rng.random(N + 1)
    d = {"high": close + spread, "low": close - spread, "close": close}
    if nan:
        d["high"][:3] = np.nan
        d["close"][1000] = np.nan
        d["low"][200000:200005] = np.nan
    return d


def _true_range(h, l, c):
    """TA-Lib's comparison order, elementwise: the kernels' exact operations."""
    pc = c[:-1]
    h, l = h[1:], l[1:]
    g = h - l
    v = np.abs(pc - h)
    g = np.where(v > g, v, g)
    v = np.abs(l - pc)
    return np.where(v > g, v, g)


@pytest.mark.parametrize("offset", [0, 1, 2, 3])  # the output's alignment varies with the length
@pytest.mark.parametrize("nan", [False, True], ids=["clean", "nan"])
def test_trange_long_series_bits(offset, nan, assert_close):
    d = {k: np.ascontiguousarray(v[offset:]) for k, v in _series(offset, nan).items()}
    got = ta.trange(d["high"], d["low"], d["close"])
    b = int(np.flatnonzero(~(np.isnan(d["high"]) | np.isnan(d["low"]) | np.isnan(d["close"])))[0])
    want = np.full(len(got), np.nan)
    want[b + 1:] = _true_range(d["high"][b:], d["low"][b:], d["close"][b:])
    np.testing.assert_array_equal(got, want)
    assert_close(got, talib.TRANGE(d["high"], d["low"], d["close"]), "trange")
    buf = np.full(len(got), 7.0)
    assert ta.trange(d["high"], d["low"], d["close"], out=buf) is buf
    np.testing.assert_array_equal(buf, want)


@pytest.mark.parametrize("period", [1, 10, 13])
@pytest.mark.parametrize("offset", [0, 1, 2, 3])
@pytest.mark.parametrize("nan", [False, True], ids=["clean", "nan"])
def test_mom_long_series_bits(period, offset, nan, assert_close):
    x = np.ascontiguousarray(_series(offset + 10, nan)["close"][offset:])
    got = ta.mom(x, period)
    b = int(np.flatnonzero(~np.isnan(x))[0])
    want = np.full(len(x), np.nan)
    want[b + period:] = x[b + period:] - x[b:len(x) - period]
    np.testing.assert_array_equal(got, want)
    assert_close(got, talib.MOM(x, period), "mom")
    buf = np.full(len(x), 7.0)
    assert ta.mom(x, period, out=buf) is buf
    np.testing.assert_array_equal(buf, want)
