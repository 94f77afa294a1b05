"""batch(): several indicators over the same candles in one native call, equal bit
for bit to the single functions, with out= buffers and IndicatorError naming the
argument."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from nija.core import indicators as ta
from nija.core.errors import IndicatorError
from nija.core.indicators import _functions

from ._support import random_markets

SPECS = {
    "rsi9": ("rsi", {"timeperiod": 9}),
    "rsi": ("rsi", {}),
    "macd": ("macd", {}),
    "macd_swapped": ("macd", {"fastperiod": 26, "slowperiod": 12, "signalperiod": 5}),
    "bb20": ("bbands", {"timeperiod": 20}),
    "bb_ema": ("bbands", {"timeperiod": 10, "nbdevup": 1.5, "nbdevdn": 2.5, "matype": 1}),
    "bb_default": ("bbands", {}),
    "atr": ("atr", {}),
    "atr1": ("atr", {"timeperiod": 1}),
}


def _singles(d):
    h, l, c = d["high"], d["low"], d["close"]
    return {
        "rsi9": ta.rsi(c, 9),
        "rsi": ta.rsi(c),
        "macd": ta.macd(c),
        "macd_swapped": ta.macd(c, 26, 12, 5),
        "bb20": ta.bbands(c, 20),
        "bb_ema": ta.bbands(c, 10, 1.5, 2.5, matype=1),
        "bb_default": ta.bbands(c),
        "atr": ta.atr(h, l, c),
        "atr1": ta.atr(h, l, c, 1),
    }


def _assert_same(got, want):
    assert list(got) == list(want)
    for name in want:
        g = got[name] if isinstance(got[name], tuple) else (got[name],)
        w = want[name] if isinstance(want[name], tuple) else (want[name],)
        assert len(g) == len(w), name
        for a, b in zip(g, w):
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("rows", [1, 5, 8, 13, 24])
def test_batch_equals_single_calls(rows, threads):
    d = random_markets(rows, 350, rows)
    _assert_same(ta.batch(SPECS, **d), _singles(d))


def test_batch_with_nan_in_some_rows(threads):
    d = random_markets(21, 400, 3)
    d["close"][1, 100] = np.nan       # inside a lane
    d["close"][9, :3] = np.nan        # block 1: rows start at different bars
    d["high"][17, :5] = np.nan        # block 2: close starts together, high/low do not
    d["low"][3, 250:260] = np.nan
    d["close"][12, 399] = np.inf
    _assert_same(ta.batch(SPECS, **d), _singles(d))


def test_batch_of_1d_series():
    d = {k: v[0] for k, v in random_markets(1, 300, 4).items()}
    got = ta.batch(SPECS, **d)
    assert got["rsi"].shape == (300,) and got["macd"][0].shape == (300,)
    _assert_same(got, _singles(d))


def test_batch_without_atr_needs_only_close():
    d = random_markets(9, 200, 5)
    got = ta.batch({"r": ("rsi", {"timeperiod": 5}), "m": ("macd", {})}, close=d["close"])
    np.testing.assert_array_equal(got["r"], ta.rsi(d["close"], 5))
    np.testing.assert_array_equal(got["m"][2], ta.macd(d["close"])[2])


def test_batch_fills_out_buffers_for_the_named_indicators():
    d = random_markets(10, 300, 6)
    out = {"rsi": np.full((10, 300), 5.0), "bb20": tuple(np.full((10, 300), 5.0) for _ in range(3))}
    got = ta.batch(SPECS, **d, out=out)
    assert got["rsi"] is out["rsi"]
    assert all(a is b for a, b in zip(got["bb20"], out["bb20"]))
    _assert_same(got, _singles(d))
    again = ta.batch(SPECS, **d, out=out)
    _assert_same(again, _singles(d))


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda d: ta.batch({}, close=d["close"]), "indicators"),
        (lambda d: ta.batch({"x": ("stoch", {})}, close=d["close"]), "indicators"),
        (lambda d: ta.batch({"x": "rsi"}, close=d["close"]), "indicators"),
        (lambda d: ta.batch({"x": ("rsi", {"period": 3})}, close=d["close"]), "indicators"),
        (lambda d: ta.batch({"x": ("rsi", {"timeperiod": 1})}, close=d["close"]), "timeperiod"),
        (lambda d: ta.batch({"x": ("macd", {"signalperiod": 0})}, close=d["close"]), "signalperiod"),
        (lambda d: ta.batch({"x": ("bbands", {"matype": 4})}, close=d["close"]), "matype"),
        (lambda d: ta.batch({"x": ("bbands", {"nbdevup": float("inf")})}, close=d["close"]), "nbdevup"),
        (lambda d: ta.batch({"x": ("atr", {})}, close=d["close"]), "high"),
        (lambda d: ta.batch({"x": ("atr", {})}, close=d["close"], high=d["high"]), "low"),
        (lambda d: ta.batch({"x": ("atr", {})}, close=d["close"], high=d["high"], low=d["low"][:, 1:]), "low"),
        (lambda d: ta.batch({"x": ("rsi", {"timeperiod": 60})}, close=d["close"]), "close"),
        (lambda d: ta.batch({"x": ("rsi", {})}, close=d["close"], out={"y": np.empty((9, 60))}), "out"),
        (lambda d: ta.batch({"x": ("rsi", {})}, close=d["close"], out=[np.empty((9, 60))]), "out"),
        (lambda d: ta.batch({"x": ("rsi", {})}, close=d["close"], out={"x": np.empty((9, 61))}), "out"),
        (lambda d: ta.batch({"x": ("rsi", {})}, close=d["close"], out={"x": d["close"]}), "out"),
        (lambda d: ta.batch({"x": ("macd", {})}, close=d["close"], out={"x": np.empty((9, 60))}), "out"),
    ],
)
def test_batch_validation_names_the_argument(call, field):
    d = random_markets(9, 60, 7)
    with pytest.raises(IndicatorError) as err:
        call(d)
    assert err.value.field == field


def test_batch_refuses_one_buffer_for_two_indicators():
    d = random_markets(9, 60, 8)
    shared = np.empty((9, 60))
    with pytest.raises(IndicatorError) as err:
        ta.batch({"a": ("rsi", {}), "b": ("rsi", {"timeperiod": 5})}, close=d["close"],
                 out={"a": shared, "b": shared})
    assert err.value.field == "out"


def test_fma_batch_equals_portable_batch():
    if not _functions._cpu_has_fma():
        pytest.skip("this CPU has no FMA3: only the portable build can run")
    d = random_markets(19, 600, 9)
    d["close"][2, 300] = np.nan
    portable = importlib.import_module("nija.core._batch")
    fast = importlib.import_module("nija.core._batch_fma")
    _assert_builds_equal(d, [portable, fast])


def test_avx512_batch_equals_fma_and_portable_batch():
    if not _functions._cpu_has_avx512():
        pytest.skip("this CPU has no AVX-512: the AVX-512 build cannot run")
    # 1,400 bars: bbands(20)'s 640-bar re-anchoring counter runs out twice; a level
    # jump in row 5 and a flat stretch in row 11 make single lanes re-anchor early;
    # 19 rows: a last block of 3 (lanes repeated), a NaN in block 0
    d = random_markets(19, 1400, 10)
    d["close"][2, 300] = np.nan
    for k in d:
        d[k][5, 700:] += 1e7
        d[k][11, 200:260] = 50.0
    portable = importlib.import_module("nija.core._batch")
    fast = importlib.import_module("nija.core._batch_fma")
    wide = importlib.import_module("nija.core._batch_avx512")
    _assert_builds_equal(d, [portable, fast, wide])


def test_batch_loads_the_widest_build_the_cpu_runs(monkeypatch):
    if not _functions._cpu_has_avx512():
        pytest.skip("this CPU has no AVX-512")
    monkeypatch.delenv("NIJA_KERNELS", raising=False)
    assert importlib.import_module("nija.core._batch_avx512").LANE_WIDTH == 8
    assert importlib.import_module("nija.core._batch_fma").LANE_WIDTH == 4
    assert _functions._load_kernels("_batch", avx512=True).__name__ == "nija.core._batch_avx512"
    assert _functions._load_kernels("_overlap").__name__ == "nija.core._overlap_fma"
    monkeypatch.setenv("NIJA_KERNELS", "fma")
    assert _functions._load_kernels("_batch", avx512=True).__name__ == "nija.core._batch_fma"
    monkeypatch.setenv("NIJA_KERNELS", "portable")
    assert _functions._load_kernels("_batch", avx512=True).__name__ == "nija.core._batch"


def _assert_builds_equal(d, modules):
    rows, n = d["close"].shape
    kinds = [modules[0].RSI, modules[0].RSI, modules[0].MACD, modules[0].BBANDS, modules[0].ATR]
    ip = [(14,), (9,), (12, 26, 9), (20, 0), (14,)]
    dp = [(), (), (), (2.0, 2.0), ()]
    counts = (1, 1, 3, 3, 1)
    results = []
    for module in modules:
        for streams in ([False] * 5, [True] * 5):
            outs = [tuple(np.empty((rows, n)) for _ in range(c)) for c in counts]
            module.batch(d["close"], d["high"], d["low"], kinds, ip, dp, outs, streams, 2)
            results.append(outs)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)


def test_batch_of_rows_longer_than_a_lane_block():
    d = random_markets(9, 17_000, 14)
    d["high"][2, 5000] = np.nan
    _assert_same(ta.batch(SPECS, **d), _singles(d))


def test_batch_rsi_passes_shared_by_pairs():
    # rsi specs share one pass two at a time; an odd one, one too long for the
    # series after its leading NaN, and other kinds in between change nothing
    d = random_markets(11, 90, 15)
    d["close"][8:, :40] = np.nan  # block 1 starts late: rsi(60) does not fit there
    specs = {"a": ("rsi", {"timeperiod": 3}), "m": ("macd", {"fastperiod": 3, "slowperiod": 5,
             "signalperiod": 2}), "b": ("rsi", {"timeperiod": 60}), "c": ("rsi", {"timeperiod": 2}),
             "e": ("rsi", {"timeperiod": 14})}
    got = ta.batch(specs, close=d["close"])
    c = d["close"]
    want = {"a": ta.rsi(c, 3), "m": ta.macd(c, 3, 5, 2), "b": ta.rsi(c, 60), "c": ta.rsi(c, 2), "e": ta.rsi(c, 14)}
    _assert_same(got, want)


def _out_buffers(d, fill):
    shape = d["close"].shape
    return {name: (tuple(np.full(shape, fill) for _ in range(3)) if kind in ("macd", "bbands")
                   else np.full(shape, fill))
            for name, (kind, _) in SPECS.items()}


@pytest.mark.parametrize("n", [350, 352, 356, 500])  # rows misaligned, all 32-byte aligned, alternating
@pytest.mark.parametrize("rows", [8, 13, 40])
def test_batch_streamed_out_buffers_equal_single_calls(rows, n, threads):
    # every indicator into out= buffers: their lane results are streamed, queued and
    # written out by the kernels that run next (of the same block or the next one)
    d = random_markets(rows, n, rows * n)
    d["close"][3, :7] = np.nan  # a block whose rows start at different bars
    want = _singles(d)
    for fill in (np.inf, -1.0):
        out = _out_buffers(d, fill)
        got = ta.batch(SPECS, **d, out=out)
        _assert_same(got, want)
        for name in SPECS:
            assert got[name] is out[name]


def test_batch_some_streamed_some_fresh(threads):
    d = random_markets(37, 356, 5)
    names = sorted(SPECS)
    out = {k: v for k, v in _out_buffers(d, 3.0).items() if names.index(k) % 2 == 0}
    _assert_same(ta.batch(SPECS, **d, out=out), _singles(d))
