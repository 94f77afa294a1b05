# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""Volatility and directional movement: trange, atr, natr, adx, plus_di, minus_di.

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
from _volatility cimport *

OPENMP_ENABLED = bool(NIJA_HAVE_OPENMP)


cdef object _out(object out, int k, Py_ssize_t rows, Py_ssize_t n):
    """Output k of a call: a fresh array, or the caller's validated buffer
    (``out`` is one array for a one-output function, a tuple otherwise)."""
    if out is None:
        return np.empty((rows, n))
    return out[k] if isinstance(out, tuple) else out



def trange(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int num_threads=1, out=None):
    """True range (TA_TRANGE)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_trange(&high[r, 0], &low[r, 0], &close[r, 0], n, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_trange(&high[r, 0], &low[r, 0], &close[r, 0], n, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def atr(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1, out=None):
    """Average true range (TA_ATR)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef Py_ssize_t blk, nblk = (rows + NL - 1) // NL
    cdef double* buf
    cdef bint stream = out is not None
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows < NL or n > LANE_MAX_N:
            if rows == 1 or num_threads <= 1:
                for r in range(rows):
                    err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, False, &ov[r, 0])
            else:
                for r in prange(rows, num_threads=num_threads, schedule="static"):
                    err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, False, &ov[r, 0])
        else:
            # blocks of NL markets in lockstep, a scratch block per thread; handed
            # out dynamically, so a thread sharing its core with another process
            # does not hold up the call (the machine is shared)
            with parallel(num_threads=max(1, num_threads)):
                buf = <double*>malloc(4 * n * NL * sizeof(double))
                for blk in prange(nblk, schedule="dynamic", chunksize=4):
                    if buf == NULL:
                        err += 1
                    else:
                        err += kb_atr(&high[0, 0], &low[0, 0], &close[0, 0], rows, n, blk * NL,
                                      timeperiod, &ov[0, 0], buf, stream)
                free(buf)
    if err:
        raise MemoryError()
    return out_a

def natr(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1, out=None):
    """Normalized average true range in percent of close (TA_NATR)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, True, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, True, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def adx(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1, out=None):
    """Average directional movement index (TA_ADX)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 0, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 0, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def plus_di(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1, out=None):
    """Plus directional indicator (TA_PLUS_DI)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 1, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 1, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a

def minus_di(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1, out=None):
    """Minus directional indicator (TA_MINUS_DI)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = _out(out, 0, rows, n)
    cdef double[:, ::1] ov = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 2, &ov[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 2, &ov[r, 0])
    if err:
        raise MemoryError()
    return out_a
