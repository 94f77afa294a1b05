"""The FMA3 build of the kernels (picked on CPUs with FMA3) gives the same bits as
the portable build: both evaluate every multiply-add with one rounding (C99 fma),
so results do not depend on the machine a backtest or a live engine runs on."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from nija.core.indicators import _functions

FAMILIES = ("_overlap", "_momentum", "_volatility")

CALLS = {
    "_overlap": [
        ("sma", lambda m, d: m.sma(d["c"], 30)),
        ("ema", lambda m, d: m.ema(d["c"], 30)),
        ("wma", lambda m, d: m.wma(d["c"], 30)),
        ("dema", lambda m, d: m.dema(d["c"], 30)),
        ("tema", lambda m, d: m.tema(d["c"], 30)),
        ("macd", lambda m, d: m.macd(d["c"], 12, 26, 9)),
        ("bbands", lambda m, d: m.bbands(d["c"], 20, 2.0, 2.0, 1)),
        ("vwap", lambda m, d: m.vwap(d["h"], d["l"], d["c"], d["v"], 14)),
    ],
    "_momentum": [
        ("rsi", lambda m, d: m.rsi(d["c"], 14)),
        ("stoch", lambda m, d: m.stoch(d["h"], d["l"], d["c"], 5, 3, 1, 3, 0)),
        ("stochrsi", lambda m, d: m.stochrsi(d["c"], 14, 5, 3, 1)),
        ("cci", lambda m, d: m.cci(d["h"], d["l"], d["c"], 14)),
        ("mfi", lambda m, d: m.mfi(d["h"], d["l"], d["c"], d["v"], 14)),
        ("willr", lambda m, d: m.willr(d["h"], d["l"], d["c"], 14)),
        ("aroon", lambda m, d: m.aroon(d["h"], d["l"], 14)),
    ],
    "_volatility": [
        ("atr", lambda m, d: m.atr(d["h"], d["l"], d["c"], 14)),
        ("natr", lambda m, d: m.natr(d["h"], d["l"], d["c"], 14)),
        ("adx", lambda m, d: m.adx(d["h"], d["l"], d["c"], 14)),
        ("plus_di", lambda m, d: m.plus_di(d["h"], d["l"], d["c"], 14)),
        ("minus_di", lambda m, d: m.minus_di(d["h"], d["l"], d["c"], 14)),
    ],
}


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(11)
    shape = (3, 4000)
    c = 100.0 + np.cumsum(rng.normal(0.0, 1.0, shape), axis=1)
    spread = rng.random(shape)
    h, l = c + spread, c - spread
    c[2, 1000] = np.nan  # one row takes the NaN paths
    return {"c": c, "h": h, "l": l, "v": rng.random(shape) * 1000.0}


@pytest.mark.parametrize("family", FAMILIES)
def test_fma_build_equals_portable_build(family, rows):
    if not _functions._cpu_has_fma():
        pytest.skip("this CPU has no FMA3: only the portable build can run")
    portable = importlib.import_module(f"nija.core.{family}")
    fast = importlib.import_module(f"nija.core.{family}_fma")
    for name, call in CALLS[family]:
        a, b = call(portable, rows), call(fast, rows)
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(x, y, err_msg=f"{family}.{name}")


def test_fma_stream_steps_equal_portable_ones(rows):
    if not _functions._cpu_has_fma():
        pytest.skip("this CPU has no FMA3: only the portable build can run")
    portable = importlib.import_module("nija.core._stream")
    fast = importlib.import_module("nija.core._stream_fma")
    n = rows["c"].shape[0]
    def states(m):
        return [m.EmaStream(n, 30), m.RsiStream(n, 14), m.AtrStream(n, 14),
                m.MacdStream(n, 12, 26, 9), m.BbandsStream(n, 20, 2.0, 2.0), m.SmaStream(n, 10)]

    ours, theirs = states(portable), states(fast)
    for t in range(rows["c"].shape[1]):
        c, h, l = (np.ascontiguousarray(rows[k][:, t]) for k in ("c", "h", "l"))
        for a, b in zip(ours, theirs):
            if isinstance(a, portable.AtrStream):
                ra, rb = a.update(h, l, c), b.update(h, l, c)
            else:
                ra, rb = a.update(c), b.update(c)
            for x, y in zip(ra if isinstance(ra, tuple) else (ra,), rb if isinstance(rb, tuple) else (rb,)):
                np.testing.assert_array_equal(x, y, err_msg=f"{type(a).__name__} at t={t}")


def test_the_fma_build_is_the_one_in_use_on_fma_cpus():
    from nija.core.indicators import _streaming

    if not _functions._cpu_has_fma():
        pytest.skip("this CPU has no FMA3")
    assert _streaming._stream.__name__ == "nija.core._stream_fma"
    assert _functions._overlap.__name__ == "nija.core._overlap_fma"
    assert _functions._volatility.__name__ == "nija.core._volatility_fma"
    assert _functions._momentum.__name__ == "nija.core._momentum_fma"
