# Shared C-level helpers for the indicator kernels, textually included by each
# kernel family's .pxd (include_path=["build_ext"]). Everything here is
# `cdef inline ... noexcept nogil` so it can run inside prange.
#
# Conventions used by every kernel:
# * Kernels take raw pointers to one row (n points) and write the whole output
#   row: NaN up to the first computed index, values after it.
# * TA-Lib's Python wrapper skips leading NaN (the first index where every input
#   is a number, "begidx") and runs the C function on the rest; the output is NaN
#   before begidx + lookback. Kernels do the same, so NaN behaves as in TA-Lib.
# * "int_*" helpers are ports of TA-Lib's internal routines (TA_INT_SMA,
#   TA_INT_EMA, ...). They work on a slice that starts at begidx and write their
#   output *aligned* with the input: out[i] belongs to in[i]; indices before the
#   routine's lookback are left untouched.
# * Speed: recurrences are written as TA-Lib 0.8 writes them, multiply-add steps
#   with constants computed once (1/period, 1 - 1/period, 2/(period+1)), never a
#   divide inside the loop. The carried value goes through one multiply and one
#   add per bar (prev*c + x*k), the shortest dependency chain there is without
#   FMA; TA-Lib's build uses FMA, so results agree to a few ulps, not bit for
#   bit (the contract is 1e-9 relative). Branches that depend on the data (up/down
#   moves, the largest of three ranges) are written as selects the compiler turns
#   into blends/maxsd, keeping the comparison order that fixes NaN propagation.
# * Kernels return 0 on success, 1 when a scratch allocation failed.

from libc.math cimport fabs, sqrt, NAN
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

cdef extern from *:
    """
    #ifdef _OPENMP
    #define NIJA_HAVE_OPENMP 1
    #else
    #define NIJA_HAVE_OPENMP 0
    #endif
    """
    const int NIJA_HAVE_OPENMP

cdef extern from *:
    """
    /* (a > b) ? a : b as one maxsd on x86 -- the exact semantics of that
       instruction, NaN included (a NaN in either operand gives b). GCC only
       emits maxsd for the ternary itself when neither operand is a constant,
       and a mispredicted branch costs more than the whole step. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline double nija_max_sd(double a, double b) {
        return _mm_cvtsd_f64(_mm_max_sd(_mm_set_sd(a), _mm_set_sd(b)));
    }
    #else
    static inline double nija_max_sd(double a, double b) { return a > b ? a : b; }
    #endif
    """
    double max_sd "nija_max_sd"(double a, double b) noexcept nogil


cdef inline bint is_zero(double v) noexcept nogil:
    # TA-Lib's TA_IS_ZERO
    return -0.00000000000001 < v and v < 0.00000000000001


cdef inline bint is_zero_or_neg(double v) noexcept nogil:
    # TA-Lib's TA_IS_ZERO_OR_NEG
    return v < 0.00000000000001


cdef inline bint is_zero_scaled(double v, double scale) noexcept nogil:
    # TA-Lib's TA_IS_ZERO_SCALED: zero within 1e-14 of the operands' magnitude
    return fabs(v) <= 0.00000000000001 * scale


cdef inline double per_to_k(int period) noexcept nogil:
    return 2.0 / <double>(period + 1)


cdef inline double true_range(double high, double low, double prev_close) noexcept nogil:
    # Same comparison order as TA-Lib, which decides how NaN propagates; each
    # `a if a > b else b` is exactly x86 maxsd(a, b), so no branch is taken.
    cdef double greatest = high - low
    cdef double v = fabs(prev_close - high)
    greatest = v if v > greatest else greatest
    v = fabs(low - prev_close)
    greatest = v if v > greatest else greatest
    return greatest


cdef inline void fill_nan(double* out, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = NAN


cdef inline bint isnan_(double v) noexcept nogil:
    return v != v


cdef inline Py_ssize_t first_valid(const double* a, const double* b, const double* c,
                                   const double* d, Py_ssize_t n) noexcept nogil:
    """First index where every non-NULL input is a number (TA-Lib's begidx)."""
    cdef Py_ssize_t i
    for i in range(n):
        if isnan_(a[i]):
            continue
        if b != NULL and isnan_(b[i]):
            continue
        if c != NULL and isnan_(c[i]):
            continue
        if d != NULL and isnan_(d[i]):
            continue
        return i
    return n


cdef inline void int_sma(const double* x, Py_ssize_t m, int p, double* out) noexcept nogil:
    """TA_INT_SMA: running sum; out[p-1..m-1]. The divide stays (as in TA-Lib):
    STOCH's slow %D averages slow %K, and a 1-ulp difference in %K would leave a
    different rounding residue in that running sum."""
    cdef double total = 0.0, tmp
    cdef Py_ssize_t i = 0, trailing = 0
    if m < p:
        return
    if p > 1:
        while i < p - 1:
            total += x[i]
            i += 1
    while i < m:
        total += x[i]
        tmp = total
        total -= x[trailing]
        trailing += 1
        out[i] = tmp / p
        i += 1


cdef inline double ema_c(double k) noexcept nogil:
    # weight of the previous value in an EMA step
    return 1.0 - k


cdef inline double ema_next(double prev, double x, double k, double c) noexcept nogil:
    # One EMA step. prev*c + x*k (x*k is off the dependency chain) instead of
    # TA-Lib's ((x - prev) * k) + prev, whose chain is sub+mul+add.
    return prev * c + x * k


cdef inline void int_ema(const double* x, Py_ssize_t m, int p, double k, double* out) noexcept nogil:
    """TA_INT_EMA, default compatibility: seeded with the SMA of the first p values."""
    cdef double prev = 0.0, c = ema_c(k)
    cdef Py_ssize_t i
    if m < p:
        return
    for i in range(p):
        prev += x[i]
    prev = prev / p
    out[p - 1] = prev
    for i in range(p, m):
        prev = ema_next(prev, x[i], k, c)
        out[i] = prev


cdef inline int ma_lookback(int p, int matype) noexcept nogil:
    return p - 1


cdef inline void int_ma(const double* x, Py_ssize_t m, int p, int matype, double* out) noexcept nogil:
    """TA_MA restricted to matype 0 (SMA) and 1 (EMA); period 1 copies the input."""
    cdef Py_ssize_t i
    if p == 1:
        for i in range(m):
            out[i] = x[i]
    elif matype == 1:
        int_ema(x, m, p, per_to_k(p), out)
    else:
        int_sma(x, m, p, out)


cdef inline double rsi_up(double d) noexcept nogil:
    # TA-Lib's `if d < 0: loss -= d else: gain += d` without a branch:
    # (0 > d) ? 0 : d, so a NaN move goes to the gain as in TA-Lib.
    return max_sd(0.0, d)


cdef inline double rsi_down(double d) noexcept nogil:
    # (-d > 0) ? -d : 0; a NaN move adds nothing to the loss.
    return max_sd(-d, 0.0)


cdef inline double rsi_value(double gain, double loss) noexcept nogil:
    cdef double s = gain + loss
    return 100.0 * (gain / s) if s > 0.0 else 0.0


cdef inline int int_rsi(const double* x, Py_ssize_t m, int p, double* out) noexcept nogil:
    """TA_RSI with unstable period 0; out[p..m-1].

    Wilder smoothing as multiply-adds: avg = avg*(1 - 1/p) + move*(1/p).
    """
    cdef double prev_value, prev_gain = 0.0, prev_loss = 0.0, v, d
    cdef double inv = 1.0 / <double>p, c = 1.0 - inv
    cdef Py_ssize_t today = 0, i
    if m <= p:
        return 0
    prev_value = x[0]
    today = 1
    for i in range(p):
        v = x[today]
        today += 1
        d = v - prev_value
        prev_value = v
        if d < 0:
            prev_loss -= d
        else:
            prev_gain += d
    prev_loss /= p
    prev_gain /= p
    out[p] = rsi_value(prev_gain, prev_loss)
    while today < m:
        v = x[today]
        d = v - prev_value
        prev_value = v
        prev_gain = prev_gain * c + rsi_up(d) * inv
        prev_loss = prev_loss * c + rsi_down(d) * inv
        out[today] = rsi_value(prev_gain, prev_loss)
        today += 1
    return 0


cdef inline void int_fastk(const double* high, const double* low, const double* close,
                           Py_ssize_t m, int p, bint scaled, double* out) noexcept nogil:
    """Fast %K of TA_STOCH (scaled=True) / TA_STOCHF (scaled=False): out[p-1..m-1].

    The two differ only in their flat-window test: TA_STOCH compares the range to
    the prices' magnitude, TA_STOCHF to TA-Lib's fixed 1e-14 band.
    """
    cdef bint flat
    cdef Py_ssize_t today = p - 1, trailing = 0, lowest_idx = -1, highest_idx = -1, i
    cdef double lowest = 0.0, highest = 0.0, diff = 0.0, tmp
    while today < m:
        tmp = low[today]
        if lowest_idx < trailing:
            lowest_idx = trailing
            lowest = low[lowest_idx]
            i = lowest_idx + 1
            while i <= today:
                tmp = low[i]
                if tmp < lowest:
                    lowest_idx = i
                    lowest = tmp
                i += 1
            diff = (highest - lowest) / 100.0
        elif tmp <= lowest:
            lowest_idx = today
            lowest = tmp
            diff = (highest - lowest) / 100.0
        tmp = high[today]
        if highest_idx < trailing:
            highest_idx = trailing
            highest = high[highest_idx]
            i = highest_idx + 1
            while i <= today:
                tmp = high[i]
                if tmp > highest:
                    highest_idx = i
                    highest = tmp
                i += 1
            diff = (highest - lowest) / 100.0
        elif tmp >= highest:
            highest_idx = today
            highest = tmp
            diff = (highest - lowest) / 100.0
        if scaled:
            flat = is_zero_scaled(highest - lowest, fabs(highest) + fabs(lowest))
        else:
            flat = is_zero(diff)
        if not flat:
            out[today] = (close[today] - lowest) / diff
        else:
            out[today] = 0.0
        trailing += 1
        today += 1
