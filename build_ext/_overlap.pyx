# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""Overlap studies: sma, ema, wma, dema, tema, bbands, macd and a rolling vwap.

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
from _overlap cimport *

OPENMP_ENABLED = bool(NIJA_HAVE_OPENMP)


cdef object _out(object out, int k, Py_ssize_t rows, Py_ssize_t n):
    """Output k of a call: a fresh array, or the caller's validated buffer
    (``out`` is one array for a one-output function, a tuple otherwise)."""
    if out is None:
        return np.empty((rows, n))
    return out[k] if isinstance(out, tuple) else out


cdef tuple _out3(object out, Py_ssize_t rows, Py_ssize_t n):
    """The three outputs of bbands or macd: the caller's validated buffers, or fresh
    arrays that are the three parts of one allocation. Three separate arrays of a
    few MB are each just under glibc's mmap threshold, and their frees together
    trim the heap, so every call page-faults them in anew (measured: 4.9 ms per
    call for three 8 MB arrays, 0.56 ms for one 24 MB block); one block is reused."""
    if out is not None:
        return out[0], out[1], out[2]
    blk = np.empty((3, rows, n))
    return blk[0], blk[1], blk[2]



def sma(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Simple moving average of each row (TA_SMA)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    out = _out(out, 0, rows, n)
    cdef double[:, ::1] o = out
    if n == 0:
        return out
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_sma(&x[r, 0], n, timeperiod, &o[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_sma(&x[r, 0], n, timeperiod, &o[r, 0])
    if err:
        raise MemoryError()
    return out


def ema(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Exponential moving average seeded with the SMA of the first period (TA_EMA)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    out = _out(out, 0, rows, n)
    cdef double[:, ::1] o = out
    if n == 0:
        return out
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_ema(&x[r, 0], n, timeperiod, &o[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_ema(&x[r, 0], n, timeperiod, &o[r, 0])
    if err:
        raise MemoryError()
    return out


def wma(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Linearly weighted moving average (TA_WMA)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    out = _out(out, 0, rows, n)
    cdef double[:, ::1] o = out
    if n == 0:
        return out
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_wma(&x[r, 0], n, timeperiod, &o[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_wma(&x[r, 0], n, timeperiod, &o[r, 0])
    if err:
        raise MemoryError()
    return out


def dema(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Double exponential moving average (TA_DEMA)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    out = _out(out, 0, rows, n)
    cdef double[:, ::1] o = out
    if n == 0:
        return out
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_dema(&x[r, 0], n, timeperiod, &o[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_dema(&x[r, 0], n, timeperiod, &o[r, 0])
    if err:
        raise MemoryError()
    return out


def tema(const double[:, ::1] x, int timeperiod, int num_threads=1, out=None):
    """Triple exponential moving average (TA_TEMA)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef int err = 0
    out = _out(out, 0, rows, n)
    cdef double[:, ::1] o = out
    if n == 0:
        return out
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_tema(&x[r, 0], n, timeperiod, &o[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_tema(&x[r, 0], n, timeperiod, &o[r, 0])
    if err:
        raise MemoryError()
    return out


def bbands(const double[:, ::1] x, int timeperiod, double nbdevup, double nbdevdn,
           int matype, int num_threads=1, out=None):
    """Bollinger bands (TA_BBANDS); returns (upper, middle, lower)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef Py_ssize_t blk, nblk = (rows + NL - 1) // NL
    cdef double* buf
    cdef bint stream = out is not None
    cdef int err = 0
    up, mid, lo = _out3(out, rows, n)
    cdef double[:, ::1] u = up, md = mid, l = lo
    if n == 0:
        return up, mid, lo
    with nogil:
        if rows < NL or n > LANE_MAX_N:
            if rows == 1 or num_threads <= 1:
                for r in range(rows):
                    err += k_bbands(&x[r, 0], n, timeperiod, nbdevup, nbdevdn, matype,
                                    &u[r, 0], &md[r, 0], &l[r, 0])
            else:
                for r in prange(rows, num_threads=num_threads, schedule="static"):
                    err += k_bbands(&x[r, 0], n, timeperiod, nbdevup, nbdevdn, matype,
                                    &u[r, 0], &md[r, 0], &l[r, 0])
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
                        err += kb_bbands(&x[0, 0], rows, n, blk * NL, timeperiod, nbdevup, nbdevdn,
                                         matype, &u[0, 0], &md[0, 0], &l[0, 0], buf, stream)
                free(buf)
    if err:
        raise MemoryError()
    return up, mid, lo


def macd(const double[:, ::1] x, int fastperiod, int slowperiod, int signalperiod,
         int num_threads=1, out=None):
    """MACD (TA_MACD); returns (macd, signal, hist)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef Py_ssize_t blk, nblk = (rows + NL - 1) // NL
    cdef double* buf
    cdef bint stream = out is not None
    cdef int err = 0
    a, s, h = _out3(out, rows, n)
    cdef double[:, ::1] av = a, sv = s, hv = h
    if n == 0:
        return a, s, h
    with nogil:
        if rows < NL or n > LANE_MAX_N:
            if rows == 1 or num_threads <= 1:
                for r in range(rows):
                    err += k_macd(&x[r, 0], n, fastperiod, slowperiod, signalperiod,
                                  &av[r, 0], &sv[r, 0], &hv[r, 0])
            else:
                for r in prange(rows, num_threads=num_threads, schedule="static"):
                    err += k_macd(&x[r, 0], n, fastperiod, slowperiod, signalperiod,
                                  &av[r, 0], &sv[r, 0], &hv[r, 0])
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
                        err += kb_macd(&x[0, 0], rows, n, blk * NL, fastperiod, slowperiod,
                                       signalperiod, &av[0, 0], &sv[0, 0], &hv[0, 0], buf, stream)
                free(buf)
    if err:
        raise MemoryError()
    return a, s, h


def vwap(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close,
         const double[:, ::1] volume, int timeperiod, int num_threads=1, out=None):
    """Rolling volume-weighted average of the typical price over `timeperiod` bars."""
    cdef Py_ssize_t rows = close.shape[0], n = close.shape[1], r
    cdef int err = 0
    out = _out(out, 0, rows, n)
    cdef double[:, ::1] o = out
    if n == 0:
        return out
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_vwap(&high[r, 0], &low[r, 0], &close[r, 0], &volume[r, 0], n,
                              timeperiod, &o[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_vwap(&high[r, 0], &low[r, 0], &close[r, 0], &volume[r, 0], n,
                              timeperiod, &o[r, 0])
    if err:
        raise MemoryError()
    return out
