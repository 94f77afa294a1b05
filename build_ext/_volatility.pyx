# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""Volatility and directional movement: trange, atr, natr, adx, plus_di, minus_di.

Low-level entry points used by :mod:`nija.core.indicators`; they expect validated
C-contiguous float64 2-D arrays (one row per market) and do no argument checks.
Bounds checking and negative indexing are off for the whole module: every index
is derived from the array shapes read here, and the wrappers validate inputs.
Rows run in parallel with OpenMP when the module was built with it (serially
otherwise); the GIL is released for the whole computation.
"""

import numpy as np
from cython.parallel cimport prange
from _volatility cimport *

OPENMP_ENABLED = bool(NIJA_HAVE_OPENMP)


def trange(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int num_threads=1):
    """True range (TA_TRANGE)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = np.empty((rows, n))
    cdef double[:, ::1] out = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_trange(&high[r, 0], &low[r, 0], &close[r, 0], n, &out[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_trange(&high[r, 0], &low[r, 0], &close[r, 0], n, &out[r, 0])
    if err:
        raise MemoryError()
    return out_a

def atr(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1):
    """Average true range (TA_ATR)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = np.empty((rows, n))
    cdef double[:, ::1] out = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, False, &out[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, False, &out[r, 0])
    if err:
        raise MemoryError()
    return out_a

def natr(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1):
    """Normalized average true range in percent of close (TA_NATR)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = np.empty((rows, n))
    cdef double[:, ::1] out = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, True, &out[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_atr(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, True, &out[r, 0])
    if err:
        raise MemoryError()
    return out_a

def adx(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1):
    """Average directional movement index (TA_ADX)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = np.empty((rows, n))
    cdef double[:, ::1] out = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 0, &out[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 0, &out[r, 0])
    if err:
        raise MemoryError()
    return out_a

def plus_di(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1):
    """Plus directional indicator (TA_PLUS_DI)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = np.empty((rows, n))
    cdef double[:, ::1] out = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 1, &out[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 1, &out[r, 0])
    if err:
        raise MemoryError()
    return out_a

def minus_di(const double[:, ::1] high, const double[:, ::1] low, const double[:, ::1] close, int timeperiod, int num_threads=1):
    """Minus directional indicator (TA_MINUS_DI)."""
    cdef Py_ssize_t rows = high.shape[0], n = high.shape[1], r
    cdef int err = 0
    out_a = np.empty((rows, n))
    cdef double[:, ::1] out = out_a
    if n == 0:
        return out_a
    with nogil:
        if rows == 1 or num_threads <= 1:
            for r in range(rows):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 2, &out[r, 0])
        else:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                err += k_dm(&high[r, 0], &low[r, 0], &close[r, 0], n, timeperiod, 2, &out[r, 0])
    if err:
        raise MemoryError()
    return out_a
