"""atr's two-bar recurrence: every path (1-D, natr, 2-D row by row and in lanes,
batch, streaming) computes the same pairs relative to each row's first ATR value.

The model below is the recurrence written out with exactly rounded fma (Fractions
are exact; float(Fraction) rounds once): after the SMA seed a[0], bars (t, t+1)
with t odd give a[t] = fma(a[t-1], k, u) and a[t+1] = fma(a[t-1], k*k, fma(u, k, w)),
u = tr[t]/p, w = tr[t+1]/p, k = 1 - 1/p; a last unpaired bar is the single step.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from nija.core import indicators as ta


def _fma(a: float, b: float, c: float) -> float:
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def _tr(h, l, pc):
    g = h - l
    v = abs(pc - h)
    g = v if v > g else g
    v = abs(l - pc)
    return v if v > g else g


def _model(h, l, c, p):
    n = len(c)
    out = np.full(n, np.nan)
    b = next(i for i in range(n) if not (np.isnan(h[i]) or np.isnan(l[i]) or np.isnan(c[i])))
    if n - b <= p:
        return out
    s = 0.0
    for i in range(b + 1, b + p + 1):
        s += _tr(h[i], l[i], c[i - 1])
    a = s / p
    out[b + p] = a
    inv = 1.0 / p
    k = 1.0 - inv
    k2 = k * k
    i = b + p + 1
    while i < n:
        u = _tr(h[i], l[i], c[i - 1]) * inv
        out[i] = _fma(a, k, u)
        if i + 1 < n:
            w = _tr(h[i + 1], l[i + 1], c[i]) * inv
            a = _fma(a, k2, _fma(u, k, w))
            out[i + 1] = a
        i += 2
    return out


def _walks(rows, n, seed, lead=0):
    rng = np.random.default_rng(seed)
    c = 100.0 + np.cumsum(rng.normal(0.0, 1.0, (rows, n)), axis=1)
    s = rng.random((rows, n))
    h, l = c + s * rng.random((rows, n)), c - s * rng.random((rows, n))
    for a in (h, l, c):
        a[:, :lead] = np.nan
    return h, l, c


@pytest.mark.parametrize("p", [2, 3, 14])
@pytest.mark.parametrize("n", [16, 17, 18, 19, 300, 301])
@pytest.mark.parametrize("lead", [0, 1])
def test_every_path_equals_the_model(p, n, lead):
    h, l, c = _walks(9, n, seed=n * 31 + p, lead=lead)  # 9 rows: one lane block and a rest
    want = np.vstack([_model(h[r], l[r], c[r], p) for r in range(9)])
    np.testing.assert_array_equal(ta.atr(h, l, c, p), want)  # lanes + row by row
    for r in range(9):
        np.testing.assert_array_equal(ta.atr(h[r], l[r], c[r], p), want[r])
    np.testing.assert_array_equal(ta.batch({"a": ("atr", {"timeperiod": p})}, close=c, high=h, low=l)["a"], want)
    stream = ta.IndicatorStream(9, {"a": ("atr", {"timeperiod": p})})
    for t in range(n):
        got = stream.update(close=c[:, t].copy(), high=h[:, t].copy(), low=l[:, t].copy())["a"]
        if t >= lead + p:
            np.testing.assert_array_equal(got, want[:, t], err_msg=f"bar {t}")


@pytest.mark.parametrize("n", [14 + 255, 14 + 256, 14 + 257, 14 + 258, 14 + 513, 1000])
def test_natr_is_atr_in_percent_across_its_runs(n):
    # natr computes ATR in runs of 256 bars; pairs must not restart at a run
    h, l, c = _walks(1, n, seed=n)
    h, l, c = h[0], l[0], c[0]
    np.testing.assert_array_equal(ta.natr(h, l, c, 14), (ta.atr(h, l, c, 14) / c) * 100.0)
    np.testing.assert_array_equal(ta.atr(h, l, c, 14), _model(h, l, c, 14))
