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
#   divide inside the loop. The carried value goes through one fused
#   multiply-add per bar, madd(prev, c, x*k) (x*k is off the dependency chain).
#   madd is C99 fma(): exactly rounded everywhere, so every build gives the same
#   bits. The *_fma modules (same source, compiled for FMA3) inline it as one
#   vfmadd, and nija.core.indicators picks them when the CPU has FMA3; elsewhere
#   it is a libm call (slower, same result). The streaming module calls libm
#   (glibc dispatches it to the FMA instruction), so stream == batch bit for bit.
# * Every module is compiled with -ffp-contract=off (no multiply-add is fused
#   unless madd says so) and -fno-trapping-math (no FP traps are ever enabled
#   here; without it GCC refuses to turn a select after a divide into a blend, so
#   loops like hl_flush's cannot be vectorised). Neither changes a result. Branches that depend on the data (up/down
#   moves, the largest of three ranges) are written as selects the compiler turns
#   into blends/maxsd, keeping the comparison order that fixes NaN propagation.
# * Kernels return 0 on success, 1 when a scratch allocation failed.

from libc.math cimport fabs, sqrt, fma, NAN
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

cdef extern from *:
    """
    #ifndef NIJA_COMMON_C0  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C0
    #ifdef _OPENMP
    #define NIJA_HAVE_OPENMP 1
    #else
    #define NIJA_HAVE_OPENMP 0
    #endif
    #endif
    """
    const int NIJA_HAVE_OPENMP

cdef extern from *:
    """
    #ifndef NIJA_COMMON_C1  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C1
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
    #endif
    """
    double max_sd "nija_max_sd"(double a, double b) noexcept nogil

cdef extern from *:
    """
    #ifndef NIJA_COMMON_C2  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C2
    /* (a < b) ? a : b as one minsd (same NaN rule as nija_max_sd). */
    #if defined(__SSE2__)
    static inline double nija_min_sd(double a, double b) {
        return _mm_cvtsd_f64(_mm_min_sd(_mm_set_sd(a), _mm_set_sd(b)));
    }
    #else
    static inline double nija_min_sd(double a, double b) { return a < b ? a : b; }
    #endif
    #endif
    """
    double min_sd "nija_min_sd"(double a, double b) noexcept nogil

cdef extern from *:
    """
    #ifndef NIJA_COMMON_C3  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C3
    /* (a > b) ? v : 0.0 without a branch: cmpsd mask AND v (false on NaN). */
    #if defined(__SSE2__)
    static inline double nija_sel_gt(double a, double b, double v) {
        __m128d mask = _mm_cmpgt_sd(_mm_set_sd(a), _mm_set_sd(b));
        return _mm_cvtsd_f64(_mm_and_pd(mask, _mm_set_sd(v)));
    }
    #else
    static inline double nija_sel_gt(double a, double b, double v) { return a > b ? v : 0.0; }
    #endif
    #endif
    """
    double sel_gt "nija_sel_gt"(double a, double b, double v) noexcept nogil

cdef extern from *:
    """
    #ifndef NIJA_COMMON_C3P  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C3P
    /* a hint to bring the line at p into L2 (no effect on any value) */
    #if defined(__SSE__) || defined(__x86_64__)
    #include <xmmintrin.h>
    static inline void nija_prefetch(const double *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }
    #else
    static inline void nija_prefetch(const double *p) { (void)p; }
    #endif
    #endif
    """
    void prefetch_l2 "nija_prefetch"(const double* p) noexcept nogil

cdef extern from *:
    """
    #ifndef NIJA_COMMON_C4  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C4
    /* v where the comparison holds, else 0.0, as a compare mask AND v:
       sel_lt: a < b (false on NaN); sel_nlt: !(a < b), sel_nle: !(a <= b)
       (both true on NaN). */
    #if defined(__SSE2__)
    static inline double nija_sel_lt(double a, double b, double v) {
        return _mm_cvtsd_f64(_mm_and_pd(_mm_cmplt_sd(_mm_set_sd(a), _mm_set_sd(b)), _mm_set_sd(v)));
    }
    static inline double nija_sel_nlt(double a, double b, double v) {
        return _mm_cvtsd_f64(_mm_and_pd(_mm_cmpnlt_sd(_mm_set_sd(a), _mm_set_sd(b)), _mm_set_sd(v)));
    }
    static inline double nija_sel_nle(double a, double b, double v) {
        return _mm_cvtsd_f64(_mm_and_pd(_mm_cmpnle_sd(_mm_set_sd(a), _mm_set_sd(b)), _mm_set_sd(v)));
    }
    #else
    static inline double nija_sel_lt(double a, double b, double v) { return a < b ? v : 0.0; }
    static inline double nija_sel_nlt(double a, double b, double v) { return !(a < b) ? v : 0.0; }
    static inline double nija_sel_nle(double a, double b, double v) { return !(a <= b) ? v : 0.0; }
    #endif
    #endif
    """
    double sel_lt "nija_sel_lt"(double a, double b, double v) noexcept nogil
    double sel_nlt "nija_sel_nlt"(double a, double b, double v) noexcept nogil
    double sel_nle "nija_sel_nle"(double a, double b, double v) noexcept nogil


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


cdef enum:
    # A 1-D series of at least NT_MIN points (2 MB of output, the size of an L2)
    # makes mom and trange write their output with non-temporal stores.
    NT_MIN = 262144


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


cdef inline void int_sma_fast(const double* x, Py_ssize_t m, int p, double* out) noexcept nogil:
    """SMA with one add on the carried chain: sum += x[i] - x[i-p+1] (TA_INT_SMA's
    += then -= is two), and a multiply by 1/p for its divide. Agrees with TA-Lib
    to rounding; SMA and BBANDS' middle band use it, STOCH keeps int_sma."""
    cdef double total = 0.0, inv = 1.0 / <double>p
    cdef Py_ssize_t i
    if m < p:
        return
    for i in range(p - 1):
        total += x[i]
    for i in range(p - 1, m):
        out[i] = (total + x[i]) * inv
        total += x[i] - x[i - p + 1]


cdef inline double sum4(const double* x, Py_ssize_t n, double shift, bint absdev) noexcept nogil:
    """sum(x) (absdev False) or sum(|x - shift|) (absdev True) with four
    independent partial sums, i.e. four add chains instead of one. Rounds
    differently from a left-to-right sum: not for sums that later cancel."""
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef Py_ssize_t j = 0
    if absdev:
        while j + 4 <= n:
            a0 += fabs(x[j] - shift)
            a1 += fabs(x[j + 1] - shift)
            a2 += fabs(x[j + 2] - shift)
            a3 += fabs(x[j + 3] - shift)
            j += 4
        while j < n:
            a0 += fabs(x[j] - shift)
            j += 1
    else:
        while j + 4 <= n:
            a0 += x[j]
            a1 += x[j + 1]
            a2 += x[j + 2]
            a3 += x[j + 3]
            j += 4
        while j < n:
            a0 += x[j]
            j += 1
    return (a0 + a1) + (a2 + a3)


cdef inline double madd(double a, double b, double c) noexcept nogil:
    # a*b + c rounded once (see the header)
    return fma(a, b, c)


cdef inline double atr_pair(double prev, double keep, double keep2, double u, double w) noexcept nogil:
    # Two Wilder steps in one multiply-add on the carried chain:
    # a[t+1] = fma(a[t-1], keep**2, fma(u, keep, w)), u = tr[t]/p, w = tr[t+1]/p
    # (the inner fma is off the chain). Every ATR path pairs bars (t, t+1) with t
    # an odd offset from the row's first ATR value (the SMA seed, offset 0); the
    # odd bar's own value is the single step madd(a[t-1], keep, u), and so is a
    # last unpaired bar.
    return madd(prev, keep2, madd(u, keep, w))


cdef inline double ema_c(double k) noexcept nogil:
    # weight of the previous value in an EMA step
    return 1.0 - k


cdef inline double ema_next(double prev, double x, double k, double c) noexcept nogil:
    # One EMA step: prev*c + x*k with one rounding; the carried chain is a single
    # FMA, where TA-Lib's fma(x - prev, k, prev) has a subtraction before it.
    return madd(prev, c, x * k)


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
        prev_gain = madd(prev_gain, c, rsi_up(d) * inv)
        prev_loss = madd(prev_loss, c, rsi_down(d) * inv)
        out[today] = rsi_value(prev_gain, prev_loss)
        today += 1
    return 0


cdef inline int int_rsi_talib(const double* x, Py_ssize_t m, int p, double* out) noexcept nogil:
    """TA_RSI of TA-Lib 0.8 in its own operation order, bit for bit; out[p..m-1].

    STOCHRSI's stochastic divides RSI differences by the RSI's range over a few
    bars, which turns int_rsi's last-ulp differences from TA-Lib (~5e-14) into
    ~1e-8 near 0 and 100; with TA-Lib's operations the RSI, and so the STOCHRSI,
    is TA-Lib's. The steps, as TA-Lib 0.8's compiled TA_RSI performs them:
    seeds sum(move) * (1/p); then avg = (avg*(p-1) + move) * (1/p) with three
    roundings (a multiply, an add and a multiply on the carried chain, where
    int_rsi has one FMA: it is the slower form, so rsi() keeps int_rsi).
    The loss's move is up - d (0 - d down, d - d up) and up is (0 < d) ? d : 0,
    so a NaN move goes to the loss, as in TA-Lib 0.8 (the output is 0 from there
    on either way: gain + loss is NaN, not > 0).
    """
    cdef double prev_value, prev_gain = 0.0, prev_loss = 0.0, v, d, up
    cdef double inv = 1.0 / <double>p, pm1 = <double>(p - 1)
    cdef Py_ssize_t today
    if m <= p:
        return 0
    prev_value = x[0]
    for today in range(1, p + 1):
        v = x[today]
        d = v - prev_value
        prev_value = v
        up = d if 0.0 < d else 0.0
        prev_gain += up
        prev_loss += up - d
    prev_gain *= inv
    prev_loss *= inv
    out[p] = rsi_value(prev_gain, prev_loss)
    for today in range(p + 1, m):
        v = x[today]
        d = v - prev_value
        prev_value = v
        up = d if 0.0 < d else 0.0
        prev_gain = (prev_gain * pm1 + up) * inv
        prev_loss = ((up - d) + prev_loss * pm1) * inv
        out[today] = rsi_value(prev_gain, prev_loss)
    return 0


cdef inline void roll_max(const double* a, Py_ssize_t today, Py_ssize_t trailing, bint ties_recent,
                          Py_ssize_t* idx, double* val) noexcept nogil:
    """Highest of a[trailing..today] and its index, from the previous window's.

    TA-Lib's incremental scheme: the window is rescanned only when its extreme
    has left it, else only the new value is compared. The comparisons are
    TA-Lib's (`>` in a rescan, `>=` for a new value; `>=` in both when
    ties_recent, as AROON does), so NaN and ties behave as in TA-Lib, but they
    are written as selects (maxsd / cmov): on market data "is this a new high"
    is a coin flip, and a mispredicted branch costs more than the whole step.
    """
    cdef Py_ssize_t i, j = idx[0]
    cdef double v = val[0], t
    if j < trailing:
        j = trailing
        v = a[trailing]
        for i in range(trailing + 1, today + 1):
            t = a[i]
            if ties_recent:
                j = i if t >= v else j
            else:
                j = i if t > v else j
            v = max_sd(t, v)
    else:
        t = a[today]
        j = today if t >= v else j
        v = max_sd(t, v)
    idx[0] = j
    val[0] = v


cdef inline void roll_min(const double* a, Py_ssize_t today, Py_ssize_t trailing, bint ties_recent,
                          Py_ssize_t* idx, double* val) noexcept nogil:
    """Lowest of a[trailing..today] and its index; see roll_max."""
    cdef Py_ssize_t i, j = idx[0]
    cdef double v = val[0], t
    if j < trailing:
        j = trailing
        v = a[trailing]
        for i in range(trailing + 1, today + 1):
            t = a[i]
            if ties_recent:
                j = i if t <= v else j
            else:
                j = i if t < v else j
            v = min_sd(t, v)
    else:
        t = a[today]
        j = today if t <= v else j
        v = min_sd(t, v)
    idx[0] = j
    val[0] = v


cdef inline double hl_value(int kind, double hi, double lo, double c) noexcept nogil:
    # kind 0: Williams' %R; 1: fast %K of TA_STOCH; 2: fast %K of TA_STOCHF.
    # %K keeps TA-Lib's exact arithmetic: STOCH's running sums over %K must see
    # TA-Lib's values to the last bit (see int_sma).
    cdef double diff
    if kind == 0:
        diff = hi - lo
        return ((hi - c) / diff) * -100.0 if diff != 0.0 else 0.0
    diff = (hi - lo) / 100.0
    if kind == 1:
        if is_zero_scaled(hi - lo, fabs(hi) + fabs(lo)):
            return 0.0
    elif is_zero(diff):
        return 0.0
    return (c - lo) / diff


cdef enum:
    HL_CHUNK = 256  # bars per batch of hl_flush


cdef inline void hl_flush(int kind, const double* hb, const double* lb, const double* close,
                          double* out, Py_ssize_t k) noexcept nogil:
    """out[j] = hl_value(kind, hb[j], lb[j], close[j]) for j < k, as one loop the
    compiler vectorises: the divides (the cost of these indicators) run four to a
    vdivpd. Each divide runs whatever the flat-window test says (its divisor is
    swapped for 1.0 where the result is not used), so no lane needs a branch."""
    cdef Py_ssize_t j
    cdef double hi, lo, diff, q
    cdef bint flat
    for j in range(k):
        hi = hb[j]
        lo = lb[j]
        if kind == 0:
            diff = hi - lo
            flat = diff == 0.0
            q = ((hi - close[j]) / (1.0 if flat else diff)) * -100.0
        else:
            diff = (hi - lo) / 100.0
            if kind == 1:
                flat = fabs(hi - lo) <= 0.00000000000001 * (fabs(hi) + fabs(lo))
            else:
                flat = (-0.00000000000001 < diff) & (diff < 0.00000000000001)
            q = (close[j] - lo) / (1.0 if flat else diff)
        out[j] = 0.0 if flat else q


cdef inline int hl_blocks(const double* high, const double* low, const double* close,
                          Py_ssize_t m, int p, int kind, double* out) noexcept nogil:
    """out[p-1..m-1] = hl_value(highest, lowest, close) over each p-bar window.

    Van Herk / Gil-Werman: with blocks of p bars, a window is the suffix of one
    block plus the prefix of the next, so its extremes cost three max/min per
    bar whatever p is, with no branch on the data (TA-Lib's incremental scheme
    rescans the window each time its extreme leaves it, ~30% of the bars on
    market data, behind a mispredicted branch). The extremes are exact, so the
    result equals the incremental one -- except with NaN, whose effect depends
    on the order of comparisons: returns 2 when a NaN is seen, and the caller
    reruns the row with the incremental scheme. Returns 1 if malloc fails.
    """
    cdef double* sh
    cdef double* sl
    cdef double* hb
    cdef double* lb
    cdef double gh, gl, h, l
    cdef Py_ssize_t bs, i, j, end, last, k = 0, first = p - 1
    cdef bint bad = False
    if m < p:
        return 0
    sh = <double*>malloc((2 * p + 2 * HL_CHUNK) * sizeof(double))
    if sh == NULL:
        return 1
    sl = sh + p
    # window extremes are buffered and turned into values HL_CHUNK at a time
    hb = sl + p
    lb = hb + HL_CHUNK
    bs = 0
    while bs < m:
        end = min(bs + p, m)
        if bs > 0:
            # suffix extremes of the previous block
            # (running values in registers: reading back sh[j + 1] would put a
            # store-to-load forwarding delay on the chain)
            h = high[bs - 1]
            l = low[bs - 1]
            sh[p - 1] = h
            sl[p - 1] = l
            j = p - 2
            while j >= 0:
                gh = high[bs - p + j]
                gl = low[bs - p + j]
                h = gh if gh > h else h
                l = gl if gl < l else l
                sh[j] = h
                sl[j] = l
                j -= 1
        gh = high[bs]
        gl = low[bs]
        # (h - l is NaN iff h or l is, or both are the same infinity: rerun too)
        h = gh - gl
        bad |= h != h
        # bars bs..last-1 close windows that start in the previous block
        last = min(end, bs + p - 1)
        for i in range(bs, last):
            h = high[i]
            l = low[i]
            bad |= (h - l) != (h - l)
            gh = h if h > gh else gh
            gl = l if l < gl else gl
            if ((i - bs) & 7) == 0:
                # hl_flush reads close only in bursts of HL_CHUNK bars, too
                # short for the hardware prefetcher: request it with high and
                # low, two bursts ahead (a prefetch past the end of the row is
                # harmless: it never faults)
                prefetch_l2(close + i + 2 * HL_CHUNK)
            if bs > 0:
                j = i - bs + 1
                h = sh[j]
                l = sl[j]
                hb[k] = h if h > gh else gh
                lb[k] = l if l < gl else gl
                k += 1
                if k == HL_CHUNK:
                    hl_flush(kind, hb, lb, close + first, out + first, k)
                    first += k
                    k = 0
        if end == bs + p:
            # the last bar of a block closes the window that is the whole block
            i = end - 1
            h = high[i]
            l = low[i]
            bad |= (h - l) != (h - l)
            gh = h if h > gh else gh
            gl = l if l < gl else gl
            hb[k] = gh
            lb[k] = gl
            k += 1
            if k == HL_CHUNK:
                hl_flush(kind, hb, lb, close + first, out + first, k)
                first += k
                k = 0
        bs += p
    if k:
        hl_flush(kind, hb, lb, close + first, out + first, k)
    free(sh)
    return 2 if bad else 0


cdef inline void int_fastk(const double* high, const double* low, const double* close,
                           Py_ssize_t m, int p, bint scaled, double* out) noexcept nogil:
    """Fast %K of TA_STOCH (scaled=True) / TA_STOCHF (scaled=False): out[p-1..m-1].

    The two differ only in their flat-window test: TA_STOCH compares the range to
    the prices' magnitude, TA_STOCHF to TA-Lib's fixed 1e-14 band.
    """
    cdef Py_ssize_t today = p - 1, trailing = 0, lowest_idx = -1, highest_idx = -1
    cdef double lowest = 0.0, highest = 0.0
    cdef int kind = 1 if scaled else 2
    if hl_blocks(high, low, close, m, p, kind, out) == 0:
        return
    # NaN in the row (or no memory for the block scratch): TA-Lib's incremental
    # scheme, whose comparison order decides where a NaN wins
    while today < m:
        roll_min(low, today, trailing, False, &lowest_idx, &lowest)
        roll_max(high, today, trailing, False, &highest_idx, &highest)
        out[today] = hl_value(kind, highest, lowest, close[today])
        trailing += 1
        today += 1


# ---------------------------------------------------------------------------
# Lane blocks: NL markets computed in lockstep (2-D calls).
#
# A 2-D call runs rows (markets) in blocks of NL. The block is transposed into a
# time-major scratch (xt[t*NL + j] is market j at bar t) so that one step of a
# recurrence is NL independent lanes over contiguous doubles: GCC turns the
# `for j in range(NL)` loops into vector instructions (two ymm per step in the
# FMA3 builds), where the row-by-row kernels run one dependent chain at a time.
# Each lane performs the same IEEE operations in the same order as the 1-D
# kernel (selects written as the same ternaries, fma() as fma()), so a row of
# a 2-D result is bit-identical to the 1-D result of that row.
# Lanes of a block must agree on where the data starts (first_valid): a block
# whose rows start at different bars runs row by row with the 1-D kernels. A
# last block with fewer than NL rows repeats its last row in the unused lanes
# (computed, never written back).
# ---------------------------------------------------------------------------

cdef enum:
    NL = 8  # markets per lane block
    # Longest rows run in lane blocks: a block's scratch is a few arrays of
    # n*NL doubles per thread (6 MB at most here); longer rows (few markets,
    # long histories) run row by row, where the 1-D kernels are at their best.
    LANE_MAX_N = 16384


cdef inline void lanes_rows(const double* base, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t r0,
                            const double** src) noexcept nogil:
    """Row pointers of block r0.. (the last row repeated past the end)."""
    cdef Py_ssize_t j, r
    for j in range(NL):
        r = r0 + j
        if r > rows - 1:
            r = rows - 1
        src[j] = base + r * n


cdef extern from *:
    """
    #ifndef NIJA_COMMON_C5  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C5
    /* Block transposes between NL = 8 rows and a time-major lane block, 4 bars x
       4 rows per step as in-register 4x4 transposes when AVX is on (the *_fma
       builds), one double at a time otherwise. Only data movement: no result
       depends on which path ran. */
    #if defined(__AVX__)
    #include <immintrin.h>
    #endif
    /* ahead: when not 0, how far (in doubles) the rows of the block this thread
       runs next are: their lines are prefetched into L2 while this block is
       transposed. A block's rows are only n doubles long, too short for the
       hardware prefetcher to ramp up on, and the compute between two blocks'
       reads would otherwise leave the memory system idle. */
    static inline void nija_lanes_in(const double **src, Py_ssize_t b, Py_ssize_t n, double *xt,
                                     Py_ssize_t ahead) {
        Py_ssize_t m = n - b, t = 0, j, g;
    #if defined(__AVX__)
        for (; t + 4 <= m; t += 4) {
            if (ahead && ((t & 7) == 0))
                for (j = 0; j < 8; j++)
                    _mm_prefetch((const char *)(src[j] + b + t + ahead), _MM_HINT_T1);
            for (g = 0; g < 8; g += 4) {
                __m256d r0 = _mm256_loadu_pd(src[g] + b + t), r1 = _mm256_loadu_pd(src[g + 1] + b + t);
                __m256d r2 = _mm256_loadu_pd(src[g + 2] + b + t), r3 = _mm256_loadu_pd(src[g + 3] + b + t);
                __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
                __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
                double *o = xt + t * 8 + g;
                _mm256_storeu_pd(o, _mm256_permute2f128_pd(t0, t2, 0x20));
                _mm256_storeu_pd(o + 8, _mm256_permute2f128_pd(t1, t3, 0x20));
                _mm256_storeu_pd(o + 16, _mm256_permute2f128_pd(t0, t2, 0x31));
                _mm256_storeu_pd(o + 24, _mm256_permute2f128_pd(t1, t3, 0x31));
            }
        }
    #endif
        for (; t < m; t++)
            for (j = 0; j < 8; j++)
                xt[t * 8 + j] = src[j][b + t];
    }
    /* dst[j][t] = ot[t*8 + j] for t in [t0, t1), j < nreal.
       With `stream`, AVX and all 8 rows equally aligned (rows of n % 4 == 0
       doubles), the 4x4 blocks go out as non-temporal stores: a 2-D call writes
       tens of MB, far more than the caches hold, and a regular store first reads
       the line it overwrites (read-for-ownership). The callers stream into
       buffers passed as out= (reused, cold); fresh arrays get regular stores:
       their pages were zeroed by the kernel a moment before, through the cache,
       and streaming past them measured slower. */
    static inline void nija_lanes_out(const double *ot, Py_ssize_t nreal, double **dst,
                                      Py_ssize_t t0, Py_ssize_t t1, int stream) {
        Py_ssize_t t = t0, j, g, u;
    #if defined(__AVX__)
        if (nreal == 8) {
            int aligned = stream;
            for (j = 1; j < 8; j++)
                aligned &= (((uintptr_t)dst[j] - (uintptr_t)dst[0]) & 31) == 0;
            if (aligned)  /* scalar head up to a 32-byte boundary */
                for (; t < t1 && (((uintptr_t)(dst[0] + t)) & 31) != 0; t++)
                    for (j = 0; j < 8; j++)
                        dst[j][t] = ot[t * 8 + j];
            /* rows g..g+3 to the end, then g+4..g+7: four write streams at a
               time rather than eight (measured ~8% faster on one thread) */
            Py_ssize_t th = t;
            for (g = 0; g < 8; g += 4) {
                for (t = th; t + 4 <= t1; t += 4) {
                    const double *s = ot + t * 8 + g;
                    __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + 8);
                    __m256d r2 = _mm256_loadu_pd(s + 16), r3 = _mm256_loadu_pd(s + 24);
                    __m256d u0 = _mm256_unpacklo_pd(r0, r1), u1 = _mm256_unpackhi_pd(r0, r1);
                    __m256d u2 = _mm256_unpacklo_pd(r2, r3), u3 = _mm256_unpackhi_pd(r2, r3);
                    __m256d c0 = _mm256_permute2f128_pd(u0, u2, 0x20), c1 = _mm256_permute2f128_pd(u1, u3, 0x20);
                    __m256d c2 = _mm256_permute2f128_pd(u0, u2, 0x31), c3 = _mm256_permute2f128_pd(u1, u3, 0x31);
                    if (aligned) {
                        _mm256_stream_pd(dst[g] + t, c0);
                        _mm256_stream_pd(dst[g + 1] + t, c1);
                        _mm256_stream_pd(dst[g + 2] + t, c2);
                        _mm256_stream_pd(dst[g + 3] + t, c3);
                    } else {
                        _mm256_storeu_pd(dst[g] + t, c0);
                        _mm256_storeu_pd(dst[g + 1] + t, c1);
                        _mm256_storeu_pd(dst[g + 2] + t, c2);
                        _mm256_storeu_pd(dst[g + 3] + t, c3);
                    }
                }
            }
            t = th + ((t1 - th) / 4) * 4;
            /* streamed stores are weakly ordered: drain them before the block
               is reported done */
            if (aligned)
                _mm_sfence();
        }
    #endif
        for (j = 0; j < nreal; j++)
            for (u = t; u < t1; u++)
                dst[j][u] = ot[u * 8 + j];
    }
    #endif
    """
    void nija_lanes_in(const double** src, Py_ssize_t b, Py_ssize_t n, double* xt,
                       Py_ssize_t ahead) noexcept nogil
    void nija_lanes_out(const double* ot, Py_ssize_t nreal, double** dst, Py_ssize_t t0,
                        Py_ssize_t t1, int stream) noexcept nogil


cdef extern from *:
    """
    #ifndef NIJA_COMMON_C6  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C6
    /* Four lanes as one GCC vector (one ymm in the *_fma builds, two xmm in the
       portable one). Element-wise IEEE operations, so a lane computes exactly
       what the scalar kernel computes; the multiply-add is fma() per lane (one
       vfmadd in the FMA3 builds, libm's exactly rounded fma() otherwise). */
    #include <stdint.h>
    #include <math.h>
    typedef double nija_v4 __attribute__((vector_size(32)));
    typedef double nija_v4u __attribute__((vector_size(32), aligned(8)));
    typedef long long nija_m4 __attribute__((vector_size(32)));
    #define V4_LD(p) ((nija_v4)(*(const nija_v4u *)(p)))
    #define V4_ST(p, v) (*(nija_v4u *)(p) = (v))
    static inline nija_v4 v4_set(double x) { nija_v4 r = {x, x, x, x}; return r; }
    #if defined(__FMA__)
    static inline nija_v4 v4_fma(nija_v4 a, nija_v4 b, nija_v4 c) { return _mm256_fmadd_pd(a, b, c); }
    #else
    static inline nija_v4 v4_fma(nija_v4 a, nija_v4 b, nija_v4 c) {
        nija_v4 r = {fma(a[0], b[0], c[0]), fma(a[1], b[1], c[1]), fma(a[2], b[2], c[2]), fma(a[3], b[3], c[3])};
        return r;
    }
    #endif
    #if defined(__AVX__)
    static inline nija_v4 v4_sqrt(nija_v4 a) { return _mm256_sqrt_pd(a); }
    /* m ? a : b per lane (m all ones or all zeros) */
    static inline nija_v4 v4_sel(nija_m4 m, nija_v4 a, nija_v4 b) { return _mm256_blendv_pd(b, a, (__m256d)m); }
    static inline int v4_any(nija_m4 m) { return _mm256_movemask_pd((__m256d)m) != 0; }
    #else
    static inline nija_v4 v4_sqrt(nija_v4 a) { nija_v4 r = {sqrt(a[0]), sqrt(a[1]), sqrt(a[2]), sqrt(a[3])}; return r; }
    static inline nija_v4 v4_sel(nija_m4 m, nija_v4 a, nija_v4 b) {
        return (nija_v4)(((nija_m4)a & m) | ((nija_m4)b & ~m));
    }
    static inline int v4_any(nija_m4 m) { return (m[0] | m[1] | m[2] | m[3]) != 0; }
    #endif
    /* fabs: the sign bit cleared, as fabs() does */
    static inline nija_v4 v4_abs(nija_v4 a) {
        const nija_m4 mask = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
        return (nija_v4)((nija_m4)a & mask);
    }
    #endif
    """


cdef extern from *:
    """
    #ifndef NIJA_COMMON_C7  /* once per module, however many families it cimports */
    #define NIJA_COMMON_C7
    /* The vector the lane-block kernels step with: NIJA_NH vectors of NIJA_VW
       lanes cover the NL = 8 lanes of a block (element h covers lanes
       NIJA_VW*h ..). In the AVX-512 build (_batch_avx512) that is one zmm, so
       each step of a recurrence is one instruction where the FMA3/portable
       builds run two nija_v4 (ymm) halves; comparisons give an __mmask8 there
       (a vector of all-ones/zero lanes otherwise). Same element-wise IEEE
       operations in both cases, the same ordered comparisons (false on NaN),
       so every lane has the same bits whichever width ran it. */
    #if defined(__AVX512F__)
    typedef double nija_vl __attribute__((vector_size(64)));
    typedef double nija_vlu __attribute__((vector_size(64), aligned(8)));
    typedef long long nija_vli __attribute__((vector_size(64)));
    typedef __mmask8 nija_ml;
    #define NIJA_NH 1
    #define NIJA_VW 8
    #define VL_LD(p) ((nija_vl)(*(const nija_vlu *)(p)))
    #define VL_ST(p, v) (*(nija_vlu *)(p) = (v))
    static inline nija_vl vl_set(double x) { return (nija_vl)_mm512_set1_pd(x); }
    static inline nija_vl vl_fma(nija_vl a, nija_vl b, nija_vl c) {
        return (nija_vl)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
    }
    static inline nija_vl vl_sqrt(nija_vl a) { return (nija_vl)_mm512_sqrt_pd((__m512d)a); }
    static inline nija_ml vl_gt(nija_vl a, nija_vl b) { return _mm512_cmp_pd_mask((__m512d)a, (__m512d)b, _CMP_GT_OQ); }
    static inline nija_ml vl_lt(nija_vl a, nija_vl b) { return _mm512_cmp_pd_mask((__m512d)a, (__m512d)b, _CMP_LT_OQ); }
    static inline nija_ml vl_le(nija_vl a, nija_vl b) { return _mm512_cmp_pd_mask((__m512d)a, (__m512d)b, _CMP_LE_OQ); }
    /* m ? a : b per lane */
    static inline nija_vl vl_sel(nija_ml m, nija_vl a, nija_vl b) {
        return (nija_vl)_mm512_mask_blend_pd(m, (__m512d)b, (__m512d)a);
    }
    static inline int vl_any(nija_ml m) { return m != 0; }
    static inline int vl_lane(nija_ml m, int j) { return (m >> j) & 1; }
    static inline nija_vl vl_abs(nija_vl a) {
        const nija_vli mask = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX,
                               INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
        return (nija_vl)((nija_vli)a & mask);
    }
    #else
    typedef nija_v4 nija_vl;
    typedef nija_m4 nija_ml;
    #define NIJA_NH 2
    #define NIJA_VW 4
    #define VL_LD(p) V4_LD(p)
    #define VL_ST(p, v) V4_ST(p, v)
    static inline nija_vl vl_set(double x) { return v4_set(x); }
    static inline nija_vl vl_fma(nija_vl a, nija_vl b, nija_vl c) { return v4_fma(a, b, c); }
    static inline nija_vl vl_sqrt(nija_vl a) { return v4_sqrt(a); }
    static inline nija_ml vl_gt(nija_vl a, nija_vl b) { return a > b; }
    static inline nija_ml vl_lt(nija_vl a, nija_vl b) { return a < b; }
    static inline nija_ml vl_le(nija_vl a, nija_vl b) { return a <= b; }
    static inline nija_vl vl_sel(nija_ml m, nija_vl a, nija_vl b) { return v4_sel(m, a, b); }
    static inline int vl_any(nija_ml m) { return v4_any(m); }
    static inline int vl_lane(nija_ml m, int j) { return m[j] != 0; }
    static inline nija_vl vl_abs(nija_vl a) { return v4_abs(a); }
    #endif
    #endif
    """


cdef inline void lanes_in(const double** src, Py_ssize_t b, Py_ssize_t n, double* xt,
                          Py_ssize_t rows, Py_ssize_t r0) noexcept nogil:
    """xt[(t-b)*NL + j] = src[j][t] for t in [b, n); prefetches the next block's rows
    (r0+NL .., when they are all there) on the way."""
    nija_lanes_in(src, b, n, xt, NL * n if r0 + 2 * NL <= rows else 0)


cdef inline void lanes_out(double* ot, Py_ssize_t nreal, double* base, Py_ssize_t n,
                           Py_ssize_t r0, Py_ssize_t b, Py_ssize_t first, bint stream) noexcept nogil:
    """Write a block's lane results back: row r0+j gets NaN before bar b+first and
    ot[(t-b)*NL + j] from there. The NaN head is written into the (cached)
    scratch first, so each row goes out as one contiguous stream."""
    cdef Py_ssize_t j, t, m = n - b, stop = min(m, first)
    cdef double* dst[NL]
    for t in range(stop * NL):
        ot[t] = NAN
    for j in range(nreal):
        dst[j] = base + (r0 + j) * n + b
        for t in range(b):
            base[(r0 + j) * n + t] = NAN
    nija_lanes_out(ot, nreal, dst, 0, m, stream)


cdef inline Py_ssize_t lanes_begin(const double** a, const double** b2, const double** c,
                                   Py_ssize_t n) noexcept nogil:
    """The common first_valid of the block's lanes, or -1 when they differ."""
    cdef Py_ssize_t j, b0, bj
    b0 = first_valid(a[0], NULL if b2 == NULL else b2[0], NULL if c == NULL else c[0], NULL, n)
    for j in range(1, NL):
        bj = first_valid(a[j], NULL if b2 == NULL else b2[j], NULL if c == NULL else c[j], NULL, n)
        if bj != b0:
            return -1
    return b0
