# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""Streaming state for indicators over N markets, one candle per market per update.

Each class holds its state as NumPy arrays (one slot per market), updates every
market in O(1) with the GIL released (in parallel across markets with OpenMP),
and exposes ``get_state()``/``set_state()`` for serialisation. Bounds checking is
off for the whole module: every index is a market index below the validated N,
or a ring position taken modulo the period. Use through
:class:`nija.core.indicators.IndicatorStream`, which validates inputs.
"""

import numpy as np
from cython.parallel cimport prange
from _stream cimport *

OPENMP_ENABLED = bool(NIJA_HAVE_OPENMP)


cdef class EmaStream:
    """EMA seeded with the SMA of the first ``period`` values (after ``skip`` values)."""

    cdef public int period
    cdef public long long skip
    cdef public object seen, acc, out
    cdef double k

    def __init__(self, Py_ssize_t n, int period, long long skip=0):
        self.period = period
        self.skip = skip
        self.k = per_to_k(period)
        self.seen = np.zeros(n, dtype=np.int64)
        self.acc = np.zeros(n)
        self.out = np.full(n, np.nan)

    def update(self, const double[::1] x, int num_threads=1):
        cdef int64_t[::1] seen = self.seen
        cdef double[::1] acc = self.acc, out = self.out
        cdef Py_ssize_t i, n = x.shape[0]
        cdef int p = self.period
        cdef double k = self.k
        cdef int64_t skip = self.skip
        for i in prange(n, nogil=True, num_threads=num_threads, schedule="static"):
            out[i] = ema_step(x[i], p, k, skip, &seen[i], &acc[i])
        return self.out

    def get_state(self):
        return {"seen": self.seen, "acc": self.acc}

    def set_state(self, state):
        self.seen[:] = state["seen"]
        self.acc[:] = state["acc"]


cdef class SmaStream:
    """SMA from a running sum and a ring of the last ``period`` values."""

    cdef public int period
    cdef public object seen, total, ring, out

    def __init__(self, Py_ssize_t n, int period):
        self.period = period
        self.seen = np.zeros(n, dtype=np.int64)
        self.total = np.zeros(n)
        self.ring = np.zeros((n, period))
        self.out = np.full(n, np.nan)

    def update(self, const double[::1] x, int num_threads=1):
        cdef int64_t[::1] seen = self.seen
        cdef double[::1] total = self.total, out = self.out
        cdef double[:, ::1] ring = self.ring
        cdef Py_ssize_t i, n = x.shape[0]
        cdef int p = self.period
        for i in prange(n, nogil=True, num_threads=num_threads, schedule="static"):
            out[i] = sma_step(x[i], p, &seen[i], &total[i], &ring[i, 0])
        return self.out

    def get_state(self):
        return {"seen": self.seen, "total": self.total, "ring": self.ring}

    def set_state(self, state):
        self.seen[:] = state["seen"]
        self.total[:] = state["total"]
        self.ring[:] = state["ring"]


cdef class RsiStream:
    """Wilder's RSI."""

    cdef public int period
    cdef public object seen, prev, gain, loss, out

    def __init__(self, Py_ssize_t n, int period):
        self.period = period
        self.seen = np.zeros(n, dtype=np.int64)
        self.prev = np.zeros(n)
        self.gain = np.zeros(n)
        self.loss = np.zeros(n)
        self.out = np.full(n, np.nan)

    def update(self, const double[::1] x, int num_threads=1):
        cdef int64_t[::1] seen = self.seen
        cdef double[::1] prev = self.prev, gain = self.gain, loss = self.loss, out = self.out
        cdef Py_ssize_t i, n = x.shape[0]
        cdef int p = self.period
        for i in prange(n, nogil=True, num_threads=num_threads, schedule="static"):
            out[i] = rsi_step(x[i], p, &seen[i], &prev[i], &gain[i], &loss[i])
        return self.out

    def get_state(self):
        return {"seen": self.seen, "prev": self.prev, "gain": self.gain, "loss": self.loss}

    def set_state(self, state):
        for key in ("seen", "prev", "gain", "loss"):
            getattr(self, key)[:] = state[key]


cdef class AtrStream:
    """Wilder's ATR seeded with the SMA of the first ``period`` true ranges, two
    bars per chain step as in the batch kernel: ``acc`` is the chain value (the
    ATR at the last even offset from the first ATR), ``pend`` the true range / p
    of an odd bar whose pair is not complete yet."""

    cdef public int period
    cdef public object seen, prev_close, acc, pend, out

    def __init__(self, Py_ssize_t n, int period):
        self.period = period
        self.seen = np.zeros(n, dtype=np.int64)
        self.prev_close = np.zeros(n)
        self.acc = np.zeros(n)
        self.pend = np.zeros(n)
        self.out = np.full(n, np.nan)

    def update(self, const double[::1] high, const double[::1] low, const double[::1] close,
               int num_threads=1):
        cdef int64_t[::1] seen = self.seen
        cdef double[::1] pc = self.prev_close, acc = self.acc, pend = self.pend, out = self.out
        cdef Py_ssize_t i, n = close.shape[0]
        cdef int p = self.period
        for i in prange(n, nogil=True, num_threads=num_threads, schedule="static"):
            out[i] = atr_step(high[i], low[i], close[i], p, &seen[i], &pc[i], &acc[i], &pend[i])
        return self.out

    def get_state(self):
        return {"seen": self.seen, "prev_close": self.prev_close, "acc": self.acc, "pend": self.pend}

    def set_state(self, state):
        """Load a state. One saved before ``pend`` existed (single-step ATR) holds
        the last ATR in ``acc``: that is the chain value when the next bar is at an
        odd offset (or the market is still warming up), so such a state loads;
        a market whose last bar was at an odd offset lacks the chain value and
        raises ValueError."""
        if "pend" not in state:
            seen = np.asarray(state["seen"], dtype=np.int64)
            p = self.period
            off = seen - 1 - p
            if p > 1 and np.any((off >= 1) & (off % 2 == 1)):
                raise ValueError(
                    "atr state saved by an older version (one Wilder step per bar) in the "
                    "middle of a two-bar step; seed the stream from history again")
            pend = np.zeros(len(seen))
        else:
            pend = state["pend"]
        for key in ("seen", "prev_close", "acc"):
            getattr(self, key)[:] = state[key]
        self.pend[:] = pend


cdef class MacdStream:
    """MACD from three EMA states; the fast EMA ignores the first slow-fast values
    so that it is seeded on the same bar as the slow one, as in TA-Lib."""

    cdef public int fast, slow, signal
    cdef public object seen_f, acc_f, seen_s, acc_s, seen_g, acc_g, macd, sig, hist

    def __init__(self, Py_ssize_t n, int fast, int slow, int signal):
        if slow < fast:
            fast, slow = slow, fast
        self.fast, self.slow, self.signal = fast, slow, signal
        for name in ("seen_f", "seen_s", "seen_g"):
            setattr(self, name, np.zeros(n, dtype=np.int64))
        for name in ("acc_f", "acc_s", "acc_g"):
            setattr(self, name, np.zeros(n))
        self.macd = np.full(n, np.nan)
        self.sig = np.full(n, np.nan)
        self.hist = np.full(n, np.nan)

    def update(self, const double[::1] x, int num_threads=1):
        cdef int64_t[::1] sf = self.seen_f, ss = self.seen_s, sg = self.seen_g
        cdef double[::1] af = self.acc_f, as_ = self.acc_s, ag = self.acc_g
        cdef double[::1] m = self.macd, g = self.sig, h = self.hist
        cdef Py_ssize_t i, n = x.shape[0]
        cdef int fp = self.fast, sp = self.slow, gp = self.signal
        cdef double kf = per_to_k(fp), ks = per_to_k(sp), kg = per_to_k(gp)
        cdef int64_t skip = sp - fp
        cdef double vf, vs, line, sgl
        for i in prange(n, nogil=True, num_threads=num_threads, schedule="static"):
            vf = ema_step(x[i], fp, kf, skip, &sf[i], &af[i])
            vs = ema_step(x[i], sp, ks, 0, &ss[i], &as_[i])
            line = vf - vs
            sgl = ema_step(line, gp, kg, 0, &sg[i], &ag[i])
            if sgl != sgl and sg[i] == 0:
                line = NAN
            if ss[i] < sp + gp - 1:
                m[i] = NAN
                g[i] = NAN
                h[i] = NAN
            else:
                m[i] = line
                g[i] = sgl
                h[i] = line - sgl
        return self.macd, self.sig, self.hist

    def get_state(self):
        return {k: getattr(self, k) for k in ("seen_f", "acc_f", "seen_s", "acc_s", "seen_g", "acc_g")}

    def set_state(self, state):
        for key, value in state.items():
            getattr(self, key)[:] = value


cdef class BbandsStream:
    """Bollinger bands around the SMA; the deviation uses the same shifted,
    periodically re-anchored running sums as the batch kernel."""

    cdef public int period
    cdef public double nbdevup, nbdevdn
    cdef public object seen, total, ring, shift, t1, t2, reseed, upper, middle, lower

    def __init__(self, Py_ssize_t n, int period, double nbdevup, double nbdevdn):
        self.period = period
        self.nbdevup = nbdevup
        self.nbdevdn = nbdevdn
        self.seen = np.zeros(n, dtype=np.int64)
        self.reseed = np.zeros(n, dtype=np.int64)
        self.total = np.zeros(n)
        self.ring = np.zeros((n, period))
        self.shift = np.zeros(n)
        self.t1 = np.zeros(n)
        self.t2 = np.zeros(n)
        self.upper = np.full(n, np.nan)
        self.middle = np.full(n, np.nan)
        self.lower = np.full(n, np.nan)

    def update(self, const double[::1] x, int num_threads=1):
        cdef int64_t[::1] seen = self.seen, reseed = self.reseed
        cdef double[::1] total = self.total, shift = self.shift, t1 = self.t1, t2 = self.t2
        cdef double[::1] up = self.upper, mid = self.middle, lo = self.lower
        cdef double[:, ::1] ring = self.ring
        cdef Py_ssize_t i, n = x.shape[0]
        cdef int p = self.period
        cdef double du = self.nbdevup, dd = self.nbdevdn
        for i in prange(n, nogil=True, num_threads=num_threads, schedule="static"):
            _bb_step(x[i], p, du, dd, &seen[i], &reseed[i], &total[i], &ring[i, 0],
                     &shift[i], &t1[i], &t2[i], &up[i], &mid[i], &lo[i])
        return self.upper, self.middle, self.lower

    def get_state(self):
        return {k: getattr(self, k) for k in ("seen", "reseed", "total", "ring", "shift", "t1", "t2")}

    def set_state(self, state):
        for key, value in state.items():
            getattr(self, key)[:] = value


cdef inline void _bb_step(double x, int p, double du, double dd, int64_t* seen, int64_t* reseed,
                          double* total, double* ring, double* shift, double* t1, double* t2,
                          double* up, double* mid, double* lo) noexcept nogil:
    cdef int64_t s = seen[0], j
    cdef double inv = 1.0 / <double>p, t, mean1, var, sd, m
    m = sma_step(x, p, seen, total, ring)
    if seen[0] == s:  # leading NaN skipped
        up[0] = NAN
        mid[0] = NAN
        lo[0] = NAN
        return
    if s == 0:
        shift[0] = x
    t = x - shift[0]
    t1[0] += t
    t2[0] += t * t
    if s < p - 1:
        up[0] = NAN
        mid[0] = NAN
        lo[0] = NAN
        return
    if s == p - 1:
        reseed[0] = 32 * p
    mean1 = t1[0] * inv
    var = t2[0] * inv - mean1 * mean1
    # trailing value x[s-p+1] is at ring[(s+1) % p] (not yet overwritten)
    t = ring[(s + 1) % p] - shift[0]
    t1[0] -= t
    t = t * t
    t2[0] -= t
    reseed[0] -= 1
    if var < 0.000001 * (t2[0] * inv) or t > 1000000.0 * t2[0] or reseed[0] <= 0:
        reseed[0] = 32 * p
        t = 0.0
        for j in range(s - p + 1, s + 1):
            t += ring[j % p]
        shift[0] = t * inv
        t1[0] = 0.0
        t2[0] = 0.0
        for j in range(s - p + 1, s + 1):
            t = ring[j % p] - shift[0]
            t1[0] += t
            t = t * t
            t2[0] += t
        mean1 = t1[0] * inv
        var = t2[0] * inv - mean1 * mean1
        t = ring[(s - p + 1) % p] - shift[0]
        t1[0] -= t
        t = t * t
        t2[0] -= t
    sd = sqrt(var) if var > 0.0 else 0.0
    mid[0] = m
    if du == dd:
        t = sd * du
        up[0] = m + t
        lo[0] = m - t
    else:
        up[0] = m + (sd * du)
        lo[0] = m - (sd * dd)
