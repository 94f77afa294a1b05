"""The batch indicator functions.

Each function takes float64-convertible arrays, either 1-D (one market over time) or
2-D (markets x time, one row per market; every row is computed in one native call
with the GIL released, in parallel when OpenMP is available). Outputs have the
input's shape, with NaN exactly where TA-Lib's lookback (and leading NaN in the
input) puts it. Parameter names and defaults are TA-Lib's, in lower case. The three
fresh outputs of ``bbands`` and ``macd`` are the three parts of one allocation (keeping
one of them alive keeps the block alive).

Every function takes an optional keyword ``out``: an array (a tuple of arrays for
the functions with several outputs) of the input's shape, float64 and
C-contiguous, that the kernel fills instead of allocating, and that is returned.
A caller that computes the same indicators every cycle (the scanner) reuses its
buffers this way: fresh outputs above glibc's mmap threshold are fresh pages,
zeroed by the kernel on first touch, every call.
"""

from __future__ import annotations

import importlib
import os

import numpy as np

from . import _validate as v


def _cpu_features() -> dict:
    """numpy's view of the CPU (and OS) features, detected at import."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return {}
    return features


def _cpu_has_fma() -> bool:
    """True when the CPU (and OS) support FMA3 and AVX, as numpy detected them at import."""
    features = _cpu_features()
    return bool(features.get("FMA3")) and bool(features.get("AVX"))


def _cpu_has_avx512() -> bool:
    """True when the CPU (and OS) support AVX512F besides FMA3 and AVX."""
    return _cpu_has_fma() and bool(_cpu_features().get("AVX512F"))


def _load_kernels(family: str, avx512: bool = False):
    """The fastest build of a kernel module the CPU can run.

    The FMA3 build where the CPU has FMA3, else the portable one; with ``avx512``
    (families that have an AVX-512 build: ``_batch``) that build first where the
    CPU has AVX512F. All give the same bits (see build_ext/_overlap_fma.pyx and
    build_ext/_batch_avx512.pyx). ``NIJA_KERNELS=portable`` forces the portable
    build, ``NIJA_KERNELS=fma`` the FMA3 one.
    """
    mode = os.environ.get("NIJA_KERNELS", "")
    if mode != "portable" and _cpu_has_fma():
        if avx512 and mode != "fma" and _cpu_has_avx512():
            try:
                wide = importlib.import_module(f"nija.core.{family}_avx512")
            except ImportError:  # built before the AVX-512 modules existed
                wide = None
            # a compiler without GCC's target pragma built it as a plain copy
            if wide is not None and getattr(wide, "LANE_WIDTH", 8) == 8:
                return wide
        try:
            return importlib.import_module(f"nija.core.{family}_fma")
        except ImportError:  # built before the FMA modules existed
            pass
    return importlib.import_module(f"nija.core.{family}")


_momentum = _load_kernels("_momentum")
_overlap = _load_kernels("_overlap")
_volatility = _load_kernels("_volatility")

Array = np.ndarray


def _one(func, arrays, *args, out=None, name="", count=1):
    """Run a kernel on validated inputs and give outputs the inputs' dimensionality.

    ``out`` (validated here) are caller buffers the kernel fills instead of
    allocating; they are returned as given.
    """
    flat = arrays[0].ndim == 1
    bufs = v.outputs(name, out, count, arrays)
    inputs = [v.as_2d(a) for a in arrays]
    if bufs is not None:
        native = tuple(v.as_2d(b) for b in bufs)
        func(*inputs, *args, v.num_threads(), native[0] if count == 1 else native)
        return bufs[0] if count == 1 else bufs
    res = func(*inputs, *args, v.num_threads())
    if isinstance(res, tuple):
        return tuple(r[0] if flat else r for r in res)
    return res[0] if flat else res


def sma(real: Array, timeperiod: int = 30, *, out: Array | None = None) -> Array:
    """Simple moving average (TA-Lib ``SMA``); lookback ``timeperiod - 1``."""
    p = v.period("timeperiod", timeperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("sma", "real", x, p - 1)
    return _one(_overlap.sma, [x], p, out=out, name="sma")


def ema(real: Array, timeperiod: int = 30, *, out: Array | None = None) -> Array:
    """Exponential moving average seeded with the SMA of the first ``timeperiod`` values."""
    p = v.period("timeperiod", timeperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("ema", "real", x, p - 1)
    return _one(_overlap.ema, [x], p, out=out, name="ema")


def wma(real: Array, timeperiod: int = 30, *, out: Array | None = None) -> Array:
    """Linearly weighted moving average (TA-Lib ``WMA``)."""
    p = v.period("timeperiod", timeperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("wma", "real", x, p - 1)
    return _one(_overlap.wma, [x], p, out=out, name="wma")


def dema(real: Array, timeperiod: int = 30, *, out: Array | None = None) -> Array:
    """Double EMA, ``2*EMA - EMA(EMA)``; lookback ``2*(timeperiod-1)``."""
    p = v.period("timeperiod", timeperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("dema", "real", x, 2 * (p - 1))
    return _one(_overlap.dema, [x], p, out=out, name="dema")


def tema(real: Array, timeperiod: int = 30, *, out: Array | None = None) -> Array:
    """Triple EMA, ``3*EMA - 3*EMA(EMA) + EMA(EMA(EMA))``; lookback ``3*(timeperiod-1)``."""
    p = v.period("timeperiod", timeperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("tema", "real", x, 3 * (p - 1))
    return _one(_overlap.tema, [x], p, out=out, name="tema")


def bbands(
    real: Array,
    timeperiod: int = 5,
    nbdevup: float = 2.0,
    nbdevdn: float = 2.0,
    matype: int = 0,
    *,
    out: tuple[Array, Array, Array] | None = None,
) -> tuple[Array, Array, Array]:
    """Bollinger bands around an SMA (``matype=0``) or EMA (``matype=1``).

    Returns
    -------
    (upperband, middleband, lowerband)
    """
    p = v.period("timeperiod", timeperiod, 2)
    up = v.real("nbdevup", nbdevup)
    dn = v.real("nbdevdn", nbdevdn)
    mt = v.matype("matype", matype)
    (x,) = v.as_inputs(real=real)
    v.length("bbands", "real", x, p - 1)
    return _one(_overlap.bbands, [x], p, up, dn, mt, out=out, name="bbands", count=3)


def macd(
    real: Array, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9
, *, out: tuple[Array, Array, Array] | None = None) -> tuple[Array, Array, Array]:
    """MACD with TA-Lib's seeding (the fast EMA starts on the slow EMA's first bar).

    As in TA-Lib, the periods are swapped when ``slowperiod < fastperiod``.

    Returns
    -------
    (macd, macdsignal, macdhist)
    """
    f = v.period("fastperiod", fastperiod, 2)
    s = v.period("slowperiod", slowperiod, 2)
    g = v.period("signalperiod", signalperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("macd", "real", x, max(f, s) - 1 + g - 1)
    return _one(_overlap.macd, [x], f, s, g, out=out, name="macd", count=3)


def vwap(
    high: Array, low: Array, close: Array, volume: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Rolling volume-weighted average of the typical price ``(h+l+c)/3`` over ``timeperiod`` bars.

    Not in TA-Lib. A window whose volumes are all zero has no VWAP (NaN).
    """
    p = v.period("timeperiod", timeperiod, 1)
    arrays = v.as_inputs(high=high, low=low, close=close, volume=volume)
    v.length("vwap", "high", arrays[0], p - 1)
    return _one(_overlap.vwap, arrays, p, out=out, name="vwap")


def rsi(real: Array, timeperiod: int = 14, *, out: Array | None = None) -> Array:
    """Wilder's relative strength index; lookback ``timeperiod``."""
    p = v.period("timeperiod", timeperiod, 2)
    (x,) = v.as_inputs(real=real)
    v.length("rsi", "real", x, p)
    return _one(_momentum.rsi, [x], p, out=out, name="rsi")


def stoch(
    high: Array,
    low: Array,
    close: Array,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowk_matype: int = 0,
    slowd_period: int = 3,
    slowd_matype: int = 0,
    *,
    out: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    """Slow stochastic oscillator.

    Returns
    -------
    (slowk, slowd)
    """
    fk = v.period("fastk_period", fastk_period, 1)
    sk = v.period("slowk_period", slowk_period, 1)
    skt = v.matype("slowk_matype", slowk_matype)
    sd = v.period("slowd_period", slowd_period, 1)
    sdt = v.matype("slowd_matype", slowd_matype)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("stoch", "high", arrays[0], (fk - 1) + (sk - 1) + (sd - 1))
    return _one(_momentum.stoch, arrays, fk, sk, skt, sd, sdt, out=out, name="stoch", count=2)


def stochrsi(
    real: Array,
    timeperiod: int = 14,
    fastk_period: int = 5,
    fastd_period: int = 3,
    fastd_matype: int = 0,
    *,
    out: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    """Fast stochastic of the RSI.

    The RSI inside is computed with TA-Lib's own operations (not :func:`rsi`'s
    multiply-add), so it is TA-Lib's bit for bit: the stochastic divides RSI
    differences by the RSI's range, and would magnify :func:`rsi`'s last-ulp
    differences past the 1e-9 contract near 0 and 100.

    Returns
    -------
    (fastk, fastd)
    """
    p = v.period("timeperiod", timeperiod, 2)
    fk = v.period("fastk_period", fastk_period, 1)
    fd = v.period("fastd_period", fastd_period, 1)
    fdt = v.matype("fastd_matype", fastd_matype)
    (x,) = v.as_inputs(real=real)
    v.length("stochrsi", "real", x, p + (fk - 1) + (fd - 1))
    return _one(_momentum.stochrsi, [x], p, fk, fd, fdt, out=out, name="stochrsi", count=2)


def cci(
    high: Array, low: Array, close: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Commodity channel index; lookback ``timeperiod - 1``."""
    p = v.period("timeperiod", timeperiod, 2)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("cci", "high", arrays[0], p - 1)
    return _one(_momentum.cci, arrays, p, out=out, name="cci")


def mfi(
    high: Array, low: Array, close: Array, volume: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Money flow index; like TA-Lib, 0 when the window's money flow adds up to less than 1."""
    p = v.period("timeperiod", timeperiod, 2)
    arrays = v.as_inputs(high=high, low=low, close=close, volume=volume)
    v.length("mfi", "high", arrays[0], p)
    return _one(_momentum.mfi, arrays, p, out=out, name="mfi")


def obv(real: Array, volume: Array, *, out: Array | None = None) -> Array:
    """On-balance volume (TA-Lib ``OBV``); starts at the first bar's volume."""
    arrays = v.as_inputs(real=real, volume=volume)
    v.length("obv", "real", arrays[0], 0)
    return _one(_momentum.obv, arrays, out=out, name="obv")


def roc(real: Array, timeperiod: int = 10, *, out: Array | None = None) -> Array:
    """Rate of change in percent, ``(x/x[-timeperiod] - 1) * 100`` (0 where the base is 0)."""
    p = v.period("timeperiod", timeperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("roc", "real", x, p)
    return _one(_momentum.roc, [x], p, out=out, name="roc")


def mom(real: Array, timeperiod: int = 10, *, out: Array | None = None) -> Array:
    """Momentum, ``x - x[-timeperiod]``."""
    p = v.period("timeperiod", timeperiod, 1)
    (x,) = v.as_inputs(real=real)
    v.length("mom", "real", x, p)
    return _one(_momentum.mom, [x], p, out=out, name="mom")


def willr(
    high: Array, low: Array, close: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Williams' %R in [-100, 0]; lookback ``timeperiod - 1``."""
    p = v.period("timeperiod", timeperiod, 2)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("willr", "high", arrays[0], p - 1)
    return _one(_momentum.willr, arrays, p, out=out, name="willr")


def aroon(
    high: Array, low: Array, timeperiod: int = 14,
    *,
    out: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:
    """Aroon oscillator lines.

    Returns
    -------
    (aroondown, aroonup)
    """
    p = v.period("timeperiod", timeperiod, 2)
    arrays = v.as_inputs(high=high, low=low)
    v.length("aroon", "high", arrays[0], p)
    return _one(_momentum.aroon, arrays, p, out=out, name="aroon", count=2)


def trange(high: Array, low: Array, close: Array, *, out: Array | None = None) -> Array:
    """True range; lookback 1."""
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("trange", "high", arrays[0], 1)
    return _one(_volatility.trange, arrays, out=out, name="trange")


def atr(
    high: Array, low: Array, close: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Average true range (Wilder), seeded with the SMA of the first ``timeperiod`` true ranges."""
    p = v.period("timeperiod", timeperiod, 1)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("atr", "high", arrays[0], p)
    return _one(_volatility.atr, arrays, p, out=out, name="atr")


def natr(
    high: Array, low: Array, close: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """ATR in percent of the close."""
    p = v.period("timeperiod", timeperiod, 1)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("natr", "high", arrays[0], p)
    return _one(_volatility.natr, arrays, p, out=out, name="natr")


def adx(
    high: Array, low: Array, close: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Average directional movement index; lookback ``2*timeperiod - 1``."""
    p = v.period("timeperiod", timeperiod, 2)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("adx", "high", arrays[0], 2 * p - 1)
    return _one(_volatility.adx, arrays, p, out=out, name="adx")


def plus_di(
    high: Array, low: Array, close: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Plus directional indicator (for ``timeperiod=1`` TA-Lib's unscaled ``+DM/TR``)."""
    p = v.period("timeperiod", timeperiod, 1)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("plus_di", "high", arrays[0], max(p, 1))
    return _one(_volatility.plus_di, arrays, p, out=out, name="plus_di")


def minus_di(
    high: Array, low: Array, close: Array, timeperiod: int = 14,
    *,
    out: Array | None = None,
) -> Array:
    """Minus directional indicator (for ``timeperiod=1`` TA-Lib's unscaled ``-DM/TR``)."""
    p = v.period("timeperiod", timeperiod, 1)
    arrays = v.as_inputs(high=high, low=low, close=close)
    v.length("minus_di", "high", arrays[0], max(p, 1))
    return _one(_volatility.minus_di, arrays, p, out=out, name="minus_di")
