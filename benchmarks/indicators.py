"""Indicator kernels vs TA-Lib, measured in the same run (run by ``make bench``).

Prints one table: median wall time of >= 5 runs for nija and for TA-Lib, and
their ratio (TA-Lib ms / nija ms; above 1 means nija is faster). Each row
alternates the two on the same inputs after one warm-up call each (nija, TA-Lib,
nija, TA-Lib, ...; see ``paired_ms``); the ratio is the ratio of the two medians.

Rows: every function on 1,000,000 points; rsi(9)+rsi(14)+macd+bbands+atr for
10,000 markets x 500 candles as 2-D calls vs TA-Lib looped over the markets (also
with out= buffers reused across calls, and as one ``batch()`` call); and
one streaming update of those indicators plus ema(50) and ema(200) for 10,000
markets vs TA-Lib's ``talib.stream`` functions (last value from each market's
500-candle history) looped over the markets.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np
import talib
from talib import stream as tstream

from nija.core import indicators as ta

RUNS = int(os.environ.get("NIJA_BENCH_RUNS", "5"))


def paired_ms(ours, theirs, runs: int = RUNS) -> tuple[float, float]:
    """Median wall time of each, the runs alternating between the two.

    The machine is shared: alternating spreads a burst of outside load over both
    sides instead of charging it to whichever happened to run during it.
    """
    ours()
    theirs()  # warm-up
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        for fn, acc in ((ours, a), (theirs, b)):
            t0 = time.perf_counter()
            fn()
            acc.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(a), statistics.median(b)


def ohlcv(shape, seed=0):
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0, 1, shape), axis=-1)
    spread = rng.random(shape)
    return close + spread, close - spread, close, rng.random(shape) * 1000.0


def main() -> int:
    rows: list[tuple[str, float, float]] = []
    h, l, c, v = ohlcv(1_000_000)
    one_d = {
        "sma(30)": (lambda: ta.sma(c, 30), lambda: talib.SMA(c, 30)),
        "ema(30)": (lambda: ta.ema(c, 30), lambda: talib.EMA(c, 30)),
        "wma(30)": (lambda: ta.wma(c, 30), lambda: talib.WMA(c, 30)),
        "dema(30)": (lambda: ta.dema(c, 30), lambda: talib.DEMA(c, 30)),
        "tema(30)": (lambda: ta.tema(c, 30), lambda: talib.TEMA(c, 30)),
        "rsi(14)": (lambda: ta.rsi(c, 14), lambda: talib.RSI(c, 14)),
        "macd": (lambda: ta.macd(c), lambda: talib.MACD(c)),
        "bbands(20)": (lambda: ta.bbands(c, 20), lambda: talib.BBANDS(c, 20)),
        "atr(14)": (lambda: ta.atr(h, l, c), lambda: talib.ATR(h, l, c)),
        "natr(14)": (lambda: ta.natr(h, l, c), lambda: talib.NATR(h, l, c)),
        "trange": (lambda: ta.trange(h, l, c), lambda: talib.TRANGE(h, l, c)),
        "adx(14)": (lambda: ta.adx(h, l, c), lambda: talib.ADX(h, l, c)),
        "plus_di(14)": (lambda: ta.plus_di(h, l, c), lambda: talib.PLUS_DI(h, l, c)),
        "minus_di(14)": (lambda: ta.minus_di(h, l, c), lambda: talib.MINUS_DI(h, l, c)),
        "stoch": (lambda: ta.stoch(h, l, c), lambda: talib.STOCH(h, l, c)),
        "stochrsi": (lambda: ta.stochrsi(c), lambda: talib.STOCHRSI(c)),
        "cci(14)": (lambda: ta.cci(h, l, c), lambda: talib.CCI(h, l, c)),
        "mfi(14)": (lambda: ta.mfi(h, l, c, v), lambda: talib.MFI(h, l, c, v)),
        "obv": (lambda: ta.obv(c, v), lambda: talib.OBV(c, v)),
        "roc(10)": (lambda: ta.roc(c), lambda: talib.ROC(c)),
        "mom(10)": (lambda: ta.mom(c), lambda: talib.MOM(c)),
        "willr(14)": (lambda: ta.willr(h, l, c), lambda: talib.WILLR(h, l, c)),
        "aroon(14)": (lambda: ta.aroon(h, l), lambda: talib.AROON(h, l)),
    }
    for name, (ours, theirs) in one_d.items():
        rows.append((f"{name}, 1M points", *paired_ms(ours, theirs)))
    # vwap has no TA-Lib counterpart: compare with a NumPy rolling-sum formulation
    def np_vwap():
        tp = (h + l + c) / 3.0
        k = np.ones(14)
        return np.convolve(tp * v, k, "valid") / np.convolve(v, k, "valid")

    rows.append(("vwap(14), 1M points (vs NumPy)", *paired_ms(lambda: ta.vwap(h, l, c, v), np_vwap)))

    markets, candles = 10_000, 500
    H, L, C, _ = ohlcv((markets, candles), seed=1)

    def nija_2d():
        ta.rsi(C, 9)
        ta.rsi(C, 14)
        ta.macd(C)
        ta.bbands(C, 20)
        ta.atr(H, L, C, 14)

    def talib_loop():
        for i in range(markets):
            ci = C[i]
            talib.RSI(ci, 9)
            talib.RSI(ci, 14)
            talib.MACD(ci)
            talib.BBANDS(ci, 20)
            talib.ATR(H[i], L[i], ci, 14)

    label = f"rsi9+rsi14+macd+bbands+atr, {markets}x{candles} 2-D ({ta.get_num_threads()} threads)"
    rows.append((label, *paired_ms(nija_2d, talib_loop)))

    # The same five 2-D calls filling buffers allocated once (out=), as a caller that
    # computes the same indicators every cycle does: fresh 40 MB outputs are fresh
    # pages, zeroed by the kernel on first touch, on every call.
    bufs = {"rsi9": np.empty_like(C), "rsi14": np.empty_like(C), "atr": np.empty_like(C),
            "macd": tuple(np.empty_like(C) for _ in range(3)),
            "bbands": tuple(np.empty_like(C) for _ in range(3))}

    def nija_2d_out():
        ta.rsi(C, 9, out=bufs["rsi9"])
        ta.rsi(C, 14, out=bufs["rsi14"])
        ta.macd(C, out=bufs["macd"])
        ta.bbands(C, 20, out=bufs["bbands"])
        ta.atr(H, L, C, 14, out=bufs["atr"])

    rows.append(("  same, 2-D calls with out= buffers", *paired_ms(nija_2d_out, talib_loop)))

    # One batch() call for the five (each block of markets read from memory once).
    batch_specs = {
        "rsi9": ("rsi", {"timeperiod": 9}),
        "rsi14": ("rsi", {"timeperiod": 14}),
        "macd": ("macd", {}),
        "bbands": ("bbands", {"timeperiod": 20}),
        "atr": ("atr", {"timeperiod": 14}),
    }
    rows.append(("  same, one batch() call", *paired_ms(
        lambda: ta.batch(batch_specs, close=C, high=H, low=L), talib_loop)))
    rows.append(("  same, one batch() call with out= buffers", *paired_ms(
        lambda: ta.batch(batch_specs, close=C, high=H, low=L, out=bufs), talib_loop)))

    specs = {
        "rsi9": ("rsi", {"timeperiod": 9}),
        "rsi14": ("rsi", {"timeperiod": 14}),
        "macd": ("macd", {}),
        "bbands": ("bbands", {"timeperiod": 20}),
        "atr": ("atr", {"timeperiod": 14}),
        "ema50": ("ema", {"timeperiod": 50}),
        "ema200": ("ema", {"timeperiod": 200}),
    }
    s = ta.IndicatorStream(markets, specs)
    s.seed(close=C, high=H, low=L)
    rng = np.random.default_rng(2)
    nc = C[:, -1] + rng.normal(0, 1, markets)
    nh, nl = nc + 0.5, nc - 0.5

    def nija_update():
        s.update(close=nc, high=nh, low=nl)

    def talib_stream_loop():
        for i in range(markets):
            ci = C[i]
            tstream.RSI(ci, 9)
            tstream.RSI(ci, 14)
            tstream.MACD(ci)
            tstream.BBANDS(ci, 20)
            tstream.ATR(H[i], L[i], ci, 14)
            tstream.EMA(ci, 50)
            tstream.EMA(ci, 200)

    rows.append((f"stream update, 7 indicators, {markets} markets", *paired_ms(nija_update, talib_stream_loop)))

    width = max(len(r[0]) for r in rows)
    print(f"nija indicators vs TA-Lib {talib.__version__} (median of {RUNS} alternating runs, "
          f"OpenMP={'on' if ta.openmp_enabled() else 'off'}, threads={ta.get_num_threads()})")
    print(f"{'benchmark':<{width}}  {'nija ms':>10}  {'TA-Lib ms':>10}  {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:<{width}}  {ours:>10.2f}  {theirs:>10.2f}  {theirs / ours:>7.2f}")
    print("ratio = median TA-Lib ms / median nija ms, the two timed alternately in each row")
    return 0


if __name__ == "__main__":
    sys.exit(main())
