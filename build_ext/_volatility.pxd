# Volatility and directional-movement kernels: trange, atr, natr, adx,
# plus_di, minus_di. Only `cdef inline` functions (see _common.pxi); the
# Python-facing wrappers are in _volatility.pyx.

include "_common.pxi"


cdef extern from *:
    """
    /* out[s..e-1] = true_range(high[i], low[i], close[i-1]), the aligned part as
       non-temporal stores (AVX builds; the plain loop elsewhere). For long
       series: the output does not go through the cache, so it neither reads
       the lines it overwrites nor evicts the inputs. Same selects, same
       comparison order as true_range, so the same bits. */
    static void nija_trange_nt(const double *high, const double *low, const double *close,
                               Py_ssize_t s, Py_ssize_t e, double *out) {
        Py_ssize_t i = s;
    #if defined(__AVX__)
        for (; i < e && (((uintptr_t)(out + i)) & 31) != 0; i++) {
            double g = high[i] - low[i], v = fabs(close[i - 1] - high[i]);
            g = v > g ? v : g;
            v = fabs(low[i] - close[i - 1]);
            out[i] = v > g ? v : g;
        }
        for (; i + 4 <= e; i += 4) {
            nija_v4 h = V4_LD(high + i), l = V4_LD(low + i), pc = V4_LD(close + i - 1);
            nija_v4 g = h - l, v = v4_abs(pc - h);
            g = v4_sel(v > g, v, g);
            v = v4_abs(l - pc);
            _mm256_stream_pd(out + i, (__m256d)v4_sel(v > g, v, g));
        }
        _mm_sfence();
    #endif
        for (; i < e; i++) {
            double g = high[i] - low[i], v = fabs(close[i - 1] - high[i]);
            g = v > g ? v : g;
            v = fabs(low[i] - close[i - 1]);
            out[i] = v > g ? v : g;
        }
    }
    """
    void trange_nt "nija_trange_nt"(const double* high, const double* low, const double* close,
                                   Py_ssize_t s, Py_ssize_t e, double* out) noexcept nogil


cdef inline int k_trange(const double* high, const double* low, const double* close,
                         Py_ssize_t n, double* out) noexcept nogil:
    cdef Py_ssize_t b = first_valid(high, low, close, NULL, n)
    cdef Py_ssize_t i
    fill_nan(out, 0, min(n, b + 1))
    if n >= NT_MIN:
        trange_nt(high, low, close, b + 1, n, out)
        return 0
    for i in range(b + 1, n):
        out[i] = true_range(high[i], low[i], close[i - 1])
    return 0


cdef inline void natr_scale(double* out, const double* close, Py_ssize_t k) noexcept nogil:
    # out[j] = (out[j] / close[j]) * 100, 0 where close is 0 (TA_NATR)
    cdef Py_ssize_t j
    cdef double c
    cdef bint zero
    for j in range(k):
        c = close[j]
        zero = c == 0.0
        c = (out[j] / (1.0 if zero else c)) * 100.0
        out[j] = 0.0 if zero else c


cdef enum:
    # Bars per atr_run step. Short runs let the out-of-order core compute the
    # next run's true ranges (a vectorised pass) while the current run's pairs
    # still wait on the multiply-add chain; with 256 the two phases ran one
    # after the other (1M points: atr ~0.81 -> ~0.65 ms). Even, so no pair
    # straddles two runs.
    ATR_RUN = 64


cdef inline Py_ssize_t atr_run(const double* high, const double* low, const double* close,
                               Py_ssize_t i, Py_ssize_t end, double* prev, double inv,
                               double keep, double keep2, double* out) noexcept nogil:
    # ATR of bars i .. end-1, i an odd offset from the first ATR value; prev is
    # the chain value a[i-1] in, a[end-1] (or a[end-2] if end-i is odd) out.
    # Runs of ATR_RUN bars: tr/p of the run first, in a loop GCC vectorises,
    # then the pairs. Returns end.
    cdef double t[ATR_RUN]
    cdef double a = prev[0], u, w
    cdef Py_ssize_t j, k, e
    while i < end:
        e = min(i + ATR_RUN, end)
        k = e - i
        for j in range(k):
            t[j] = true_range(high[i + j], low[i + j], close[i + j - 1]) * inv
        j = 0
        while j + 1 < k:
            u = t[j]
            w = t[j + 1]
            out[i + j] = madd(a, keep, u)
            a = atr_pair(a, keep, keep2, u, w)
            out[i + j + 1] = a
            j += 2
        if j < k:
            out[i + j] = madd(a, keep, t[j])
        i = e
    prev[0] = a
    return i


cdef inline int k_atr(const double* high, const double* low, const double* close,
                      Py_ssize_t n, int p, bint normalized, double* out) noexcept nogil:
    # TA_ATR / TA_NATR with unstable period 0: the first ATR is the SMA of the
    # first p true ranges, then Wilder's smoothing a = a*(1 - 1/p) + tr/p, two
    # bars per multiply-add on the carried chain (atr_pair).
    cdef Py_ssize_t b = first_valid(high, low, close, NULL, n)
    cdef Py_ssize_t m = n - b, i
    cdef double prev = 0.0, inv, keep, keep2
    cdef Py_ssize_t end
    fill_nan(out, 0, min(n, b + p))
    if m <= p:
        return 0
    high += b
    low += b
    close += b
    out += b
    if p <= 1:
        # TA-Lib runs the Wilder step with weights (1, 0) here, so a NaN true
        # range poisons every later value (0 * NaN); NATR(1) is not normalized.
        prev = true_range(high[1], low[1], close[0])
        out[1] = prev
        for i in range(2, m):
            prev = 1.0 * true_range(high[i], low[i], close[i - 1]) + 0.0 * prev
            out[i] = prev
        return 0
    for i in range(1, p + 1):
        prev += true_range(high[i], low[i], close[i - 1])
    prev = prev / p
    inv = 1.0 / <double>p
    keep = 1.0 - inv
    keep2 = keep * keep
    out[p] = prev
    if normalized:
        # ATR into out, then out/close*100 over the same ATR_RUN bars while they
        # are in L1, in a loop GCC vectorises (the divides run as vdivpd)
        natr_scale(out + p, close + p, 1)
        i = p + 1
        while i < m:
            end = min(i + ATR_RUN, m)
            atr_run(high, low, close, i, end, &prev, inv, keep, keep2, out)
            natr_scale(out + i, close + i, end - i)
            i = end
    else:
        atr_run(high, low, close, p + 1, m, &prev, inv, keep, keep2, out)
    return 0


cdef inline int k_dm(const double* high, const double* low, const double* close,
                     Py_ssize_t n, int p, int which, double* out) noexcept nogil:
    # which: 0 = ADX, 1 = +DI, 2 = -DI. Ports of TA_ADX, TA_PLUS_DI and
    # TA_MINUS_DI (unstable period 0), including the period-1 special case of the
    # DIs (a raw ratio, not scaled by 100) and TA-Lib's 1e-14 zero tests.
    cdef Py_ssize_t b = first_valid(high, low, close, NULL, n)
    cdef Py_ssize_t m = n - b, today, lb, i
    cdef double prev_high, prev_low, prev_close, dp, dm, tr, t
    cdef double pdm = 0.0, mdm = 0.0, ptr = 0.0, sum_dx = 0.0, adx = 0.0, inv, keep
    if which == 0:
        lb = 2 * p - 1
    else:
        lb = p if p > 1 else 1
    fill_nan(out, 0, min(n, b + lb))
    if m <= lb:
        return 0
    high += b
    low += b
    close += b
    out += b
    prev_high = high[0]
    prev_low = low[0]
    prev_close = close[0]
    if which != 0 and p <= 1:
        for today in range(1, m):
            t = high[today]
            dp = t - prev_high
            prev_high = t
            t = low[today]
            dm = prev_low - t
            prev_low = t
            if which == 1 and dp > 0 and dp > dm:
                tr = true_range(prev_high, prev_low, prev_close)
                out[today] = 0.0 if is_zero(tr) else dp / tr
            elif which == 2 and dm > 0 and dm > dp:
                tr = true_range(prev_high, prev_low, prev_close)
                out[today] = 0.0 if is_zero(tr) else dm / tr
            else:
                out[today] = 0.0
            prev_close = close[today]
        return 0
    # initial sums over p-1 bars
    for today in range(1, p):
        t = high[today]
        dp = t - prev_high
        prev_high = t
        t = low[today]
        dm = prev_low - t
        prev_low = t
        if which == 0:
            if dm > 0 and dp < dm:
                mdm += dm
            elif dp > 0 and dp > dm:
                pdm += dp
        elif which == 1:
            if dp > 0 and dp > dm:
                pdm += dp
        else:
            if dm > 0 and dp < dm:
                mdm += dm
        ptr += true_range(prev_high, prev_low, prev_close)
        prev_close = close[today]
    # Main loop: TA-Lib's `x - x/p + v` smoothing as x*(1 - 1/p) + v (no divide
    # on the carried chain) and its up/down-move tests as branch-free selects:
    # +DM counts when dp > 0 and dp > dm, i.e. dp > max(0, dm); -DM when
    # dm > 0 and dm > dp. max_sd(0.0, x) keeps a NaN x, so a NaN move counts for
    # neither, as in TA-Lib. DX = 100*|-DI - +DI|/(-DI + +DI) is computed from
    # the DMs directly (the common 100/TR cancels): one divide instead of three.
    inv = 1.0 / <double>p
    keep = 1.0 - inv
    for today in range(p, m):
        t = high[today]
        dp = t - prev_high
        prev_high = t
        t = low[today]
        dm = prev_low - t
        prev_low = t
        tr = true_range(prev_high, prev_low, prev_close)
        prev_close = close[today]
        ptr = madd(ptr, keep, tr)
        if which != 2:
            pdm = madd(pdm, keep, sel_gt(dp, max_sd(0.0, dm), dp))
        if which != 1:
            mdm = madd(mdm, keep, sel_gt(dm, max_sd(0.0, dp), dm))
        if which == 1:
            out[today] = (100.0 * (pdm / ptr)) if ptr > 0.0 else 0.0
        elif which == 2:
            out[today] = (100.0 * (mdm / ptr)) if ptr > 0.0 else 0.0
        else:
            if ptr > 0.0:
                t = mdm + pdm
                if t > 0.0:
                    t = 100.0 * (fabs(mdm - pdm) / t)
                    if today <= 2 * p - 1:
                        sum_dx += t
                    else:
                        adx = madd(adx, keep, t * inv)
            if today == 2 * p - 1:
                adx = sum_dx / p
            if today >= 2 * p - 1:
                out[today] = adx
    return 0


cdef extern from *:
    """
    /* true_range on NIJA_VW lanes, same comparison order (selects as maxsd does) */
    static inline nija_vl vl_true_range(nija_vl h, nija_vl l, nija_vl pc) {
        nija_vl g = h - l, v = vl_abs(pc - h);
        g = vl_sel(vl_gt(v, g), v, g);
        v = vl_abs(l - pc);
        return vl_sel(vl_gt(v, g), v, g);
    }
    /* k_atr (not normalized, p > 1) on NL = 8 lanes (see "Lane blocks" in
       _common.pxi), m > p; ot written from bar p. */
    static void nija_atr_lanes(const double *ht, const double *lt, const double *ct, Py_ssize_t m,
                               int p, double *ot) {
        const double inv = 1.0 / (double)p;
        const double keep = 1.0 - inv;
        const nija_vl vinv = vl_set(inv), vkeep = vl_set(keep), vkeep2 = vl_set(keep * keep);
        nija_vl prev[NIJA_NH], u, w;
        Py_ssize_t i, o;
        int h;
        for (h = 0; h < NIJA_NH; h++)
            prev[h] = vl_set(0.0);
        for (i = 1; i < p + 1; i++)
            for (h = 0; h < NIJA_NH; h++) {
                o = i * 8 + NIJA_VW * h;
                prev[h] = prev[h] + vl_true_range(VL_LD(ht + o), VL_LD(lt + o), VL_LD(ct + o - 8));
            }
        for (h = 0; h < NIJA_NH; h++) {
            prev[h] = prev[h] / vl_set((double)p);
            VL_ST(ot + p * 8 + NIJA_VW * h, prev[h]);
        }
        /* atr_run's pairing: bars (i, i+1), i an odd offset from bar p */
        for (i = p + 1; i + 1 < m; i += 2)
            for (h = 0; h < NIJA_NH; h++) {
                o = i * 8 + NIJA_VW * h;
                u = vl_true_range(VL_LD(ht + o), VL_LD(lt + o), VL_LD(ct + o - 8)) * vinv;
                w = vl_true_range(VL_LD(ht + o + 8), VL_LD(lt + o + 8), VL_LD(ct + o)) * vinv;
                VL_ST(ot + o, vl_fma(prev[h], vkeep, u));
                prev[h] = vl_fma(prev[h], vkeep2, vl_fma(u, vkeep, w));
                VL_ST(ot + o + 8, prev[h]);
            }
        if (i < m)
            for (h = 0; h < NIJA_NH; h++) {
                o = i * 8 + NIJA_VW * h;
                u = vl_true_range(VL_LD(ht + o), VL_LD(lt + o), VL_LD(ct + o - 8)) * vinv;
                VL_ST(ot + o, vl_fma(prev[h], vkeep, u));
            }
    }
    """
    void atr_lanes "nija_atr_lanes"(const double* ht, const double* lt, const double* ct, Py_ssize_t m,
                                    int p, double* ot) noexcept nogil


cdef inline int kb_atr(const double* high, const double* low, const double* close, Py_ssize_t rows,
                       Py_ssize_t n, Py_ssize_t r0, int p, double* out, double* scratch, bint stream) noexcept nogil:
    """ATR of rows r0 .. r0+NL-1 (fewer at the end); scratch holds 4*n*NL doubles."""
    cdef const double* sh[NL]
    cdef const double* sl[NL]
    cdef const double* sc[NL]
    cdef Py_ssize_t b = -1, j, m, nreal = min(<Py_ssize_t>NL, rows - r0)
    cdef int err = 0
    lanes_rows(high, rows, n, r0, sh)
    lanes_rows(low, rows, n, r0, sl)
    lanes_rows(close, rows, n, r0, sc)
    if p > 1:
        b = lanes_begin(sh, sl, sc, n)
    if b < 0 or n - b <= p:
        for j in range(nreal):
            err += k_atr(sh[j], sl[j], sc[j], n, p, False, out + (r0 + j) * n)
        return err
    m = n - b
    lanes_in(sh, b, n, scratch, rows, r0)
    lanes_in(sl, b, n, scratch + m * NL, rows, r0)
    lanes_in(sc, b, n, scratch + 2 * m * NL, rows, r0)
    atr_lanes(scratch, scratch + m * NL, scratch + 2 * m * NL, m, p, scratch + 3 * m * NL)
    lanes_out(scratch + 3 * m * NL, nreal, out, n, r0, b, p, stream)
    return 0
