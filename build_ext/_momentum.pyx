# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""Momentum oscillators: rsi, stoch, stochrsi, cci, mfi, obv, roc, mom, willr, aroon.

Low-level entry points used by :mod:`nija.core.indicators`; they expect validated
C-contiguous float64 2-D arrays (one row per market) and do no argument checks.
Bounds checking and negative indexing are off for the whole module: every index
is derived from the array shapes read here, and the wrappers validate inputs.
Rows run in parallel with OpenMP when the module was built with it (serially
otherwise); the GIL is released for the whole computation. Every function takes
``out``: None (fresh outputs) or the caller's validated buffers (one array, or a
tuple for several outputs), filled and returned; rsi, macd, bbands and atr run 2-D
input in lane blocks of NL markets (see "Lane blocks" in _common.pxi).
"""

import numpy as np
from cython.parallel cimport parallel, prange
from libc.stdlib cimport malloc, free
from _momentum cimport *

OPENMP_ENABLED = bool(NIJA_HAVE_OPENMP)


cdef object _out(object out, int k, Py_ssize_t rows, Py_ssize_t n):
    """Output k of a call: a fresh array, or the caller's validated buffer
    (``out`` is one array for a one-output function, a tuple otherwise)."""
    if out is None:
        return np.empty((rows, n))
    return out[k] if isinstance(out, tuple) else out



def rsi(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Relative strength index (TA_RSI); ``out``, if given, is filled and returned."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r, blk, nblk = (rows + NL - 1) // NL
    cdef bint stream = out is not None
    cdef int err = 0
    cdef double* buf
    out_a = np.empty((rows, n)) if out is None else out
    cdef double[:, ::1] o = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows < NL or n > LANE_MAX_N:
            if rows == 1 or num_threads <= 1:
                for r in range(rows):
                    err += k_rsi(&x[r, 0], n, timeperiod, &o[r, 0])
            else:
                for r in prange(rows, num_threads=num_threads, schedule="static"):
                    err += k_rsi(&x[r, 0], n, timeperiod, &o[r, 0])
        else:
            # blocks of NL markets in lockstep, a scratch block per thread; handed
            # out dynamically, so a thread sharing its core with another process
            # does not hold up the call (the machine is shared)
            with parallel(num_threads=max(1, num_threads)):
                buf = <double*>malloc(2 * n * NL * sizeof(double))
                for blk in prange(nblk, schedule="dynamic", chunksize=4):
                    if buf == NULL:
                        err += 1
                    else:
                        err += kb_rsi(&x[0, 0], rows, n, blk * NL, timeperiod, &o[0, 0], buf, stream)
                free(buf)
    if err:
        raise MemoryError()
    return out_a

def stoch(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int fastk_period, int slowk_period, int slowk_matype, int slowd_period, int slowd_matype, int num_threads=1, out=None):
    """Slow stochastic (TA_STOCH); returns (slowk, slowd)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    slowk_a = _out(out, 0, rows, n)
    slowd_a = _out(out, 1, rows, n)
    cdef double[:, ::1] slowk = slowk_a, slowd = slowd_a
    if n == 0:
        return slowk_a, slowd_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_stoch(&high[r, 0], &low[r, 0], &close[r, 0], n, fastk_period, slowk_period, slowk_matype, slowd_period, slowd_matype, &slowk[r, 0], &slowd[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_stoch(&high[r, 0], &low[r, 0], &close[r, 0], n, fastk_period, slowk_period, slowk_matype, slowd_period, slowd_matype, &slowk[r, 0], &slowd[r, 0])
    if err:
        raise MemoryError()
    return slowk_a, slowd_a

def stochrsi(const double[:, ::1] x, int timeperiod, int fastk_period, int fastd_period, int fastd_matype, int num_threads=1, out=None):
    """Stochastic RSI (TA_STOCHRSI); returns (fastk, fastd)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    fastk_a = _out(out, 0, rows, n)
    fastd_a = _out(out, 1, rows, n)
    cdef double[:, ::1] fastk = fastk_a, fastd = fastd_a
    if n == 0:
        return fastk_a, fastd_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_stochrsi(&x[r, 0], n, timeperiod, fastk_period, fastd_period, fastd_matype, &fastk[r, 0], &fastd[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_stochrsi(&x[r, 0], n, timeperiod, fastk_period, fastd_period, fastd_matype, &fastk[r, 0], &fastd[r, 0])
    if err:
        raise MemoryError()
    return fastk_a, fastd_a

def cci(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1, out=None):
    """Commodity channel index (TA_CCI)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_cci(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_cci(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def mfi(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, const double[:, ::1] volume, int timeperiod, int num_threads=1, out=None):
    """Money flow index (TA_MFI)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_mfi(&high[r, 0], &low[r, 0], &close[r, 0], &volume[r, 0], n, timeperiod, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_mfi(&high[r, 0], &low[r, 0], &close[r, 0], &volume[r, 0], n, timeperiod, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def obv(const double[:, ::1] close, const double[:, ::1] volume, int num_threads=1, out=None):
    """On-balance volume (TA_OBV)."""
    cdef Py_ssize_t rows = close.shape[0], n = close.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_obv(&close[r, 0], &volume[r, 0], n, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_obv(&close[r, 0], &volume[r, 0], n, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def roc(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Rate of change in percent (TA_ROC)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_roc(&x[r, 0], n, timeperiod, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_roc(&x[r, 0], n, timeperiod, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def mom(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Momentum (TA_MOM)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_mom(&x[r, 0], n, timeperiod, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_mom(&x[r, 0], n, timeperiod, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def willr(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1, out=None):
    """Williams' %R (TA_WILLR)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_willr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_willr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def aroon(const double[:, ::1] high, const double[:, ::1] low, int timeperiod, int num_threads=1, out=None):
    """Aroon (TA_AROON); returns (aroondown, aroonup)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    down_a = _out(out, 0, rows, n)
    up_a = _out(out, 1, rows, n)
    cdef double[:, ::1] down = down_a, up = up_a
    if n == 0:
        return down_a, up_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_aroon(&high[r, 0], &low[r, 0], n, timeperiod, &down[r, 0], &up[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_aroon(&high[r, 0], &low[r, 0], n, timeperiod, &down[r, 0], &up[r, 0])
    if err:
        raise MemoryError()
    return down_a, up_a
