# Per-market O(1) update steps for the streaming indicators. Only `cdef inline`
# functions; the state-holding classes are in _stream.pyx. Every step mirrors
# the arithmetic of the batch kernel (see _overlap.pxd / _common.pxi) so that a
# stream fed the same candles produces bit-identical values. A step returns NaN
# while warming up; a NaN before the first valid input is skipped, as the batch
# kernels skip leading NaN.

include "_common.pxi"

from libc.stdint cimport int64_t


cdef inline double ema_step(double x, int p, double k, int64_t skip,
                            int64_t* seen, double* acc) noexcept nogil:
    cdef int64_t s = seen[0]
    if s == 0 and x != x:
        return NAN
    seen[0] = s + 1
    if s < skip:
        return NAN
    s -= skip
    if s < p:
        acc[0] += x
        if s == p - 1:
            acc[0] = acc[0] / p
            return acc[0]
        return NAN
    acc[0] = ema_next(acc[0], x, k, ema_c(k))
    return acc[0]


cdef inline double sma_step(double x, int p, int64_t* seen, double* total,
                            double* ring) noexcept nogil:
    cdef int64_t s = seen[0]
    cdef double tmp
    if s == 0 and x != x:
        return NAN
    seen[0] = s + 1
    ring[s % p] = x
    if s < p - 1:
        total[0] += x
        return NAN
    # int_sma_fast's arithmetic; the value leaving, x[s-p+1], is at ring[(s+1) % p]
    tmp = (total[0] + x) * (1.0 / <double>p)
    total[0] += x - ring[(s + 1) % p]
    return tmp


cdef inline double rsi_step(double x, int p, int64_t* seen, double* prev,
                            double* gain, double* loss) noexcept nogil:
    cdef int64_t s = seen[0]
    cdef double d, inv, c
    if s == 0 and x != x:
        return NAN
    seen[0] = s + 1
    if s == 0:
        prev[0] = x
        return NAN
    d = x - prev[0]
    prev[0] = x
    if s <= p:
        if d < 0:
            loss[0] -= d
        else:
            gain[0] += d
        if s < p:
            return NAN
        loss[0] /= p
        gain[0] /= p
    else:
        inv = 1.0 / <double>p
        c = 1.0 - inv
        gain[0] = madd(gain[0], c, rsi_up(d) * inv)
        loss[0] = madd(loss[0], c, rsi_down(d) * inv)
    return rsi_value(gain[0], loss[0])


cdef inline double atr_step(double h, double l, double c, int p, int64_t* seen,
                            double* prev_close, double* acc, double* pend) noexcept nogil:
    # k_atr's pairing (atr_pair in _common.pxi): acc is the chain value at the
    # last even offset from the first ATR (bar p), pend the odd bar's tr/p while
    # its pair is incomplete; the offset's parity is that of seen - p.
    cdef int64_t s = seen[0]
    cdef double tr, inv, keep
    if s == 0 and (h != h or l != l or c != c):
        return NAN
    seen[0] = s + 1
    if s == 0:
        prev_close[0] = c
        return NAN
    tr = true_range(h, l, prev_close[0])
    prev_close[0] = c
    if s <= p:
        acc[0] += tr
        if s < p:
            return NAN
        acc[0] = acc[0] / p
        return acc[0]
    if p <= 1:
        acc[0] = 1.0 * tr + 0.0 * acc[0]
        return acc[0]
    inv = 1.0 / <double>p
    keep = 1.0 - inv
    if (s - p) % 2 == 1:
        pend[0] = tr * inv
        return madd(acc[0], keep, pend[0])
    acc[0] = atr_pair(acc[0], keep, keep * keep, pend[0], tr * inv)
    return acc[0]
