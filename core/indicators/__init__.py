"""Technical indicators computed by native (Cython) kernels.

Batch functions mirror TA-Lib (same algorithms, lookbacks, defaults and lower-case
parameter names) and accept 1-D series or 2-D arrays of markets x time::

    from nija.core import indicators as ta

    ta.rsi(close, timeperiod=14)
    macd, signal, hist = ta.macd(close, fastperiod=12, slowperiod=26, signalperiod=9)

Bad input raises :class:`nija.core.errors.IndicatorError`, whose ``field`` names the
argument. :class:`IndicatorStream` updates a set of indicators one candle at a time
for many markets. :func:`batch` computes several of rsi/macd/bbands/atr over the same
candles in one native call. Every function takes ``out=`` buffers to fill instead of
allocating (for callers that compute the same arrays every cycle).

Known differences from TA-Lib 0.8: the RSI can differ from TA-Lib's in the last
bits (about 5e-14 absolute; one fused multiply-add per bar where TA-Lib rounds a
multiply, an add and a multiply). ATR and NATR smooth two bars per multiply-add
on the carried average (``fma(atr[t-1], k*k, fma(tr[t]/p, k, tr[t+1]/p))``, the
bar in between as the single step off that chain), within about 2e-15 relative
of TA-Lib's one step per bar. STOCHRSI, whose stochastic would magnify that to
about 4e-9 near 0 or 100, runs TA-Lib's own RSI steps instead and agrees with
TA-Lib within the contract below. After a NaN in the middle of the input,
WILLR recovers at a slightly different bar from TA-Lib's. Only SMA (0) and EMA (1)
are supported as ``matype``.

Numerics: results agree with TA-Lib to rounding (the contract is 1e-9 relative or
1e-12 absolute), not bit for bit: recurrences are fused multiply-adds (C99 ``fma``,
exactly rounded, so every machine gives the same bits; on CPUs with FMA3 the
``*_fma`` kernel builds run them as one instruction) and some running sums are
reassociated for speed. Infinite inputs are outside that contract: after a +/-inf
the EMA family keeps the infinity where TA-Lib turns to NaN, and RSI gives NaN
where TA-Lib gives 0.
"""

from nija.core.errors import IndicatorError

from ._batch import batch
from ._functions import (
    adx,
    aroon,
    atr,
    bbands,
    cci,
    dema,
    ema,
    macd,
    mfi,
    minus_di,
    mom,
    natr,
    obv,
    plus_di,
    roc,
    rsi,
    sma,
    stoch,
    stochrsi,
    tema,
    trange,
    vwap,
    willr,
    wma,
)
from ._streaming import IndicatorStream
from ._validate import num_threads as get_num_threads
from ._validate import set_num_threads


def openmp_enabled() -> bool:
    """Whether the kernels were compiled with OpenMP (else 2-D calls run serially)."""
    from nija.core import _overlap

    return bool(_overlap.OPENMP_ENABLED)


__all__ = [
    "IndicatorError",
    "IndicatorStream",
    "adx",
    "aroon",
    "atr",
    "batch",
    "bbands",
    "cci",
    "dema",
    "ema",
    "get_num_threads",
    "macd",
    "mfi",
    "minus_di",
    "mom",
    "natr",
    "obv",
    "openmp_enabled",
    "plus_di",
    "roc",
    "rsi",
    "set_num_threads",
    "sma",
    "stoch",
    "stochrsi",
    "tema",
    "trange",
    "vwap",
    "willr",
    "wma",
]
