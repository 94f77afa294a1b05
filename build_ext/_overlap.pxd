# Overlap-study kernels (moving averages, Bollinger bands, MACD, rolling VWAP).
# Only `cdef inline` functions live here (see _common.pxi for conventions); the
# Python-facing wrappers are in _overlap.pyx.

include "_common.pxi"


cdef inline int k_sma(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    fill_nan(out, 0, min(n, b + p - 1))
    int_sma_fast(x + b, n - b, p, out + b)
    return 0


cdef inline int k_ema(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    fill_nan(out, 0, min(n, b + p - 1))
    int_ema(x + b, n - b, p, per_to_k(p), out + b)
    return 0


cdef inline int k_wma(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    # TA_WMA: the weighted sum is updated in O(1) by subtracting the plain sum.
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t m = n - b, i, j, trailing = 0, reseed
    cdef double inv_divider = 1.0 / (<double>p * (p + 1) / 2.0)
    cdef double period_sub = 0.0, period_sum = 0.0, trailing_value = 0.0, v, s, nxt
    cdef const double* xs = x + b
    cdef double* o = out + b
    fill_nan(out, 0, min(n, b + p - 1))
    if m < p:
        return 0
    if p == 1:
        memcpy(o, xs, m * sizeof(double))
        return 0
    for i in range(p - 1):
        v = xs[i]
        period_sub += v
        period_sum += v * (i + 1)
    reseed = 8 * p
    # TA-Lib's sums, each with one add on its carried chain: the plain sum takes
    # (new - leaving), the weighted sum (new*p - plain sum); s, the weighted sum
    # of the window, branches off it.
    for i in range(p - 1, m):
        v = xs[i]
        period_sub += v - trailing_value
        # TA-Lib 0.8 rebuilds both running sums from the window every 8*p bars
        # (bounds the rounding residue; also lets the sums recover from a NaN).
        reseed -= 1
        if reseed <= 0:
            reseed = 8 * p
            period_sub = 0.0
            s = 0.0
            for j in range(i - p + 1, i + 1):
                v = xs[j]
                period_sub += v
                s += v * (j - (i - p + 1) + 1)
            nxt = s - period_sub
        else:
            s = period_sum + v * p
            nxt = period_sum + (v * p - period_sub)
        trailing_value = xs[trailing]
        trailing += 1
        o[i] = s * inv_divider
        period_sum = nxt
    return 0


cdef inline int k_dema(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    # TA_DEMA = 2*EMA - EMA(EMA), both EMAs in one pass and no scratch arrays:
    # the second EMA is seeded with the SMA of the first p values of the first.
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t m = n - b, lb = 2 * (p - 1), i
    cdef double k = per_to_k(p), c = ema_c(k), e1 = 0.0, e2 = 0.0
    cdef const double* xs = x + b
    cdef double* o = out + b
    fill_nan(out, 0, min(n, b + lb))
    if m <= lb:
        return 0
    for i in range(p):
        e1 += xs[i]
    e1 = e1 / p
    e2 = e1
    for i in range(p, lb + 1):
        e1 = ema_next(e1, xs[i], k, c)
        e2 += e1
    e2 = e2 / p
    o[lb] = (2.0 * e1) - e2
    for i in range(lb + 1, m):
        e1 = ema_next(e1, xs[i], k, c)
        e2 = ema_next(e2, e1, k, c)
        o[i] = (2.0 * e1) - e2
    return 0


cdef inline int k_tema(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    # TA_TEMA = 3*EMA - 3*EMA(EMA) + EMA(EMA(EMA)) in one pass, no scratch arrays.
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t m = n - b, l1 = p - 1, l2 = 2 * (p - 1), lb = 3 * (p - 1), i
    cdef double k = per_to_k(p), c = ema_c(k), e1 = 0.0, e2 = 0.0, e3 = 0.0
    cdef const double* xs = x + b
    cdef double* o = out + b
    fill_nan(out, 0, min(n, b + lb))
    if m <= lb:
        return 0
    for i in range(p):
        e1 += xs[i]
    e1 = e1 / p
    e2 = e1
    for i in range(l1 + 1, l2 + 1):
        e1 = ema_next(e1, xs[i], k, c)
        e2 += e1
    e2 = e2 / p
    e3 = e2
    for i in range(l2 + 1, lb + 1):
        e1 = ema_next(e1, xs[i], k, c)
        e2 = ema_next(e2, e1, k, c)
        e3 += e2
    e3 = e3 / p
    o[lb] = e3 + ((3.0 * e1) - (3.0 * e2))
    for i in range(lb + 1, m):
        e1 = ema_next(e1, xs[i], k, c)
        e2 = ema_next(e2, e1, k, c)
        e3 = ema_next(e3, e2, k, c)
        o[i] = e3 + ((3.0 * e1) - (3.0 * e2))
    return 0


cdef inline int k_bbands(const double* x, Py_ssize_t n, int p, double nbdevup, double nbdevdn,
                         int matype, double* upper, double* middle, double* lower) noexcept nogil:
    # TA_BBANDS (TA-Lib 0.8): middle = MA; the deviation is the population
    # standard deviation of the window computed on data shifted by a recent mean,
    # re-anchored when cancellation threatens or every 32*p bars; a variance
    # below 1e-14 counts as 0.
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t m = n - b, lb = p - 1, i, j, trailing = 0, reseed
    cdef const double* xs = x + b
    cdef double inv = 1.0 / <double>p
    cdef double shift, t1 = 0.0, t2 = 0.0, mean1, var, t, sd, mid, total = 0.0
    cdef bint sma = matype == 0
    fill_nan(upper, 0, min(n, b + lb))
    fill_nan(middle, 0, min(n, b + lb))
    fill_nan(lower, 0, min(n, b + lb))
    if m <= lb:
        return 0
    if not sma:
        int_ma(xs, m, p, matype, middle + b)
    shift = xs[0]
    for j in range(lb):
        t = xs[j] - shift
        t1 += t
        t *= t
        t2 += t
        total += xs[j]
    reseed = 32 * p
    for i in range(lb, m):
        if sma:
            # the middle band in the same pass, int_sma_fast's operations: its
            # chain runs beside the deviation's instead of in a pass of its own
            mid = (total + xs[i]) * inv
            total += xs[i] - xs[i - lb]
            middle[b + i] = mid
        else:
            mid = middle[b + i]
        t = xs[i] - shift
        t1 += t
        t *= t
        t2 += t
        mean1 = t1 * inv
        var = t2 * inv - mean1 * mean1
        t = xs[trailing] - shift
        t1 -= t
        t *= t
        t2 -= t
        trailing += 1
        reseed -= 1
        if var < 0.000001 * (t2 * inv) or t > 1000000.0 * t2 or reseed <= 0:
            reseed = 32 * p
            t = 0.0
            for j in range(i - lb, i + 1):
                t += xs[j]
            shift = t * inv
            t1 = 0.0
            t2 = 0.0
            for j in range(i - lb, i + 1):
                t = xs[j] - shift
                t1 += t
                t *= t
                t2 += t
            mean1 = t1 * inv
            var = t2 * inv - mean1 * mean1
            t = xs[i - lb] - shift
            t1 -= t
            t *= t
            t2 -= t
        sd = sqrt(var) if var > 0.0 else 0.0
        if nbdevup == nbdevdn:
            t = sd * nbdevup
            upper[b + i] = mid + t
            lower[b + i] = mid - t
        else:
            upper[b + i] = mid + (sd * nbdevup)
            lower[b + i] = mid - (sd * nbdevdn)
    return 0


cdef inline int k_macd(const double* x, Py_ssize_t n, int fast, int slow, int signal,
                       double* macd, double* sig, double* hist) noexcept nogil:
    # TA_INT_MACD in one pass without scratch arrays (as TA-Lib 0.8 does): the
    # fast EMA is seeded so that its first value lands on the same bar as the
    # slow EMA's (SMA of the `fast` bars ending at bar slow-1); the signal EMA is
    # seeded with the SMA of the first `signal` MACD values.
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t m = n - b, lb, i
    cdef const double* xs = x + b
    cdef double kf, ks, kg, cf, cs, cg, ef = 0.0, es = 0.0, eg = 0.0, line
    cdef int t
    if slow < fast:
        t = slow
        slow = fast
        fast = t
    lb = (slow - 1) + (signal - 1)
    fill_nan(macd, 0, min(n, b + lb))
    fill_nan(sig, 0, min(n, b + lb))
    fill_nan(hist, 0, min(n, b + lb))
    if m <= lb:
        return 0
    macd += b
    sig += b
    hist += b
    kf = per_to_k(fast)
    ks = per_to_k(slow)
    kg = per_to_k(signal)
    cf = ema_c(kf)
    cs = ema_c(ks)
    cg = ema_c(kg)
    for i in range(slow - fast, slow):
        ef += xs[i]
    ef = ef / fast
    for i in range(slow):
        es += xs[i]
    es = es / slow
    line = ef - es
    eg = line
    for i in range(slow, lb + 1):
        ef = ema_next(ef, xs[i], kf, cf)
        es = ema_next(es, xs[i], ks, cs)
        line = ef - es
        eg += line
    eg = eg / signal
    macd[lb] = line
    sig[lb] = eg
    hist[lb] = line - eg
    for i in range(lb + 1, m):
        ef = ema_next(ef, xs[i], kf, cf)
        es = ema_next(es, xs[i], ks, cs)
        line = ef - es
        eg = ema_next(eg, line, kg, cg)
        macd[i] = line
        sig[i] = eg
        hist[i] = line - eg
    return 0


cdef inline int k_vwap(const double* high, const double* low, const double* close,
                       const double* volume, Py_ssize_t n, int p, double* out) noexcept nogil:
    # Rolling VWAP over the last p bars with the typical price (h+l+c)/3.
    # Windows whose volumes are all zero have no VWAP: NaN. The count of
    # non-zero volumes is kept exactly so that running-sum residue cannot fake one.
    cdef Py_ssize_t b = first_valid(high, low, close, volume, n)
    cdef Py_ssize_t m = n - b, i, nz = 0
    cdef double spv = 0.0, sv = 0.0, tp, v
    fill_nan(out, 0, min(n, b + p - 1))
    if m < p:
        return 0
    high += b
    low += b
    close += b
    volume += b
    out += b
    for i in range(m):
        v = volume[i]
        tp = (high[i] + low[i] + close[i]) / 3.0
        spv += tp * v
        sv += v
        if v != 0.0:
            nz += 1
        if i >= p:
            v = volume[i - p]
            tp = (high[i - p] + low[i - p] + close[i - p]) / 3.0
            spv -= tp * v
            sv -= v
            if v != 0.0:
                nz -= 1
        if i >= p - 1:
            out[i] = spv / sv if nz > 0 else NAN
    return 0


cdef extern from *:
    """
    /* k_macd on NL = 8 lanes (see "Lane blocks" in _common.pxi): slow >= fast,
       m > lb = (slow-1)+(signal-1); om/os/oh written from bar lb. */
    static void nija_macd_lanes(const double *xt, Py_ssize_t m, int fast, int slow, int signal,
                                double *om, double *os, double *oh) {
        const double kf = 2.0 / (double)(fast + 1), ks = 2.0 / (double)(slow + 1);
        const double kg = 2.0 / (double)(signal + 1);
        const nija_vl vkf = vl_set(kf), vks = vl_set(ks), vkg = vl_set(kg);
        const nija_vl vcf = vl_set(1.0 - kf), vcs = vl_set(1.0 - ks), vcg = vl_set(1.0 - kg);
        const Py_ssize_t lb = (slow - 1) + (signal - 1);
        nija_vl ef[NIJA_NH], es[NIJA_NH], eg[NIJA_NH], x, line;
        Py_ssize_t i, o;
        int h;
        for (h = 0; h < NIJA_NH; h++) {
            ef[h] = vl_set(0.0);
            es[h] = vl_set(0.0);
        }
        for (i = slow - fast; i < slow; i++)
            for (h = 0; h < NIJA_NH; h++)
                ef[h] = ef[h] + VL_LD(xt + i * 8 + NIJA_VW * h);
        for (i = 0; i < slow; i++)
            for (h = 0; h < NIJA_NH; h++)
                es[h] = es[h] + VL_LD(xt + i * 8 + NIJA_VW * h);
        for (h = 0; h < NIJA_NH; h++) {
            ef[h] = ef[h] / vl_set((double)fast);
            es[h] = es[h] / vl_set((double)slow);
            eg[h] = ef[h] - es[h];
        }
        for (i = slow; i <= lb; i++)
            for (h = 0; h < NIJA_NH; h++) {
                x = VL_LD(xt + i * 8 + NIJA_VW * h);
                ef[h] = vl_fma(ef[h], vcf, x * vkf);
                es[h] = vl_fma(es[h], vcs, x * vks);
                eg[h] = eg[h] + (ef[h] - es[h]);
            }
        for (h = 0; h < NIJA_NH; h++) {
            o = lb * 8 + NIJA_VW * h;
            line = ef[h] - es[h];
            eg[h] = eg[h] / vl_set((double)signal);
            VL_ST(om + o, line);
            VL_ST(os + o, eg[h]);
            VL_ST(oh + o, line - eg[h]);
        }
        for (i = lb + 1; i < m; i++)
            for (h = 0; h < NIJA_NH; h++) {
                o = i * 8 + NIJA_VW * h;
                x = VL_LD(xt + o);
                ef[h] = vl_fma(ef[h], vcf, x * vkf);
                es[h] = vl_fma(es[h], vcs, x * vks);
                line = ef[h] - es[h];
                eg[h] = vl_fma(eg[h], vcg, line * vkg);
                VL_ST(om + o, line);
                VL_ST(os + o, eg[h]);
                VL_ST(oh + o, line - eg[h]);
            }
    }
    """
    void macd_lanes "nija_macd_lanes"(const double* xt, Py_ssize_t m, int fast, int slow, int signal,
                                      double* om, double* os, double* oh) noexcept nogil


cdef inline int kb_macd(const double* x, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t r0,
                        int fast, int slow, int signal, double* macd, double* sig,
                        double* hist, double* scratch, bint stream) noexcept nogil:
    """MACD of rows r0 .. r0+NL-1 (fewer at the end); scratch holds 4*n*NL doubles."""
    cdef const double* src[NL]
    cdef Py_ssize_t b, j, m, lb, nreal = min(<Py_ssize_t>NL, rows - r0)
    cdef int err = 0, f = fast, s = slow
    if s < f:
        f = slow
        s = fast
    lb = (s - 1) + (signal - 1)
    lanes_rows(x, rows, n, r0, src)
    b = lanes_begin(src, NULL, NULL, n)
    if b < 0 or n - b <= lb:
        for j in range(nreal):
            err += k_macd(src[j], n, fast, slow, signal, macd + (r0 + j) * n,
                          sig + (r0 + j) * n, hist + (r0 + j) * n)
        return err
    m = n - b
    lanes_in(src, b, n, scratch, rows, r0)
    macd_lanes(scratch, m, f, s, signal, scratch + m * NL, scratch + 2 * m * NL, scratch + 3 * m * NL)
    lanes_out(scratch + m * NL, nreal, macd, n, r0, b, lb, stream)
    lanes_out(scratch + 2 * m * NL, nreal, sig, n, r0, b, lb, stream)
    lanes_out(scratch + 3 * m * NL, nreal, hist, n, r0, b, lb, stream)
    return 0


cdef extern from *:
    """
    /* k_bbands with matype 0 on NL = 8 lanes (see "Lane blocks" in _common.pxi),
       m > p - 1; ou/om/ol written from bar p-1. Every lane runs the common step;
       a lane whose step asks for re-anchoring (or whose 32*p-bar counter ran
       out; kept per lane as a double, exact) then has its sums rebuilt from the
       window and its bands recomputed, operation for operation as k_bbands does
       within the same step. */
    static void nija_bbands_reseed(const double *xt, Py_ssize_t i, int p, double inv, double up_k,
                                   double dn_k, int j, double *shift, double *t1, double *t2,
                                   const double *om, double *ou, double *ol) {
        const Py_ssize_t lb = p - 1;
        Py_ssize_t k;
        double t = 0.0, sh, a1 = 0.0, a2 = 0.0, mean1, var, sd;
        for (k = i - lb; k < i + 1; k++)
            t += xt[k * 8 + j];
        sh = t * inv;
        for (k = i - lb; k < i + 1; k++) {
            t = xt[k * 8 + j] - sh;
            a1 += t;
            t *= t;
            a2 += t;
        }
        mean1 = a1 * inv;
        var = a2 * inv - mean1 * mean1;
        t = xt[(i - lb) * 8 + j] - sh;
        a1 -= t;
        t *= t;
        a2 -= t;
        shift[j] = sh;
        t1[j] = a1;
        t2[j] = a2;
        sd = var > 0.0 ? sqrt(var) : 0.0;
        ou[i * 8 + j] = om[i * 8 + j] + (sd * up_k);
        ol[i * 8 + j] = om[i * 8 + j] - (sd * dn_k);
    }
    static void nija_bbands_lanes(const double *xt, Py_ssize_t m, int p, double up_k, double dn_k,
                                  double *ou, double *om, double *ol) {
        const Py_ssize_t lb = p - 1;
        const double inv = 1.0 / (double)p;
        const nija_vl vinv = vl_set(inv), vup = vl_set(up_k), vdn = vl_set(dn_k), zero = vl_set(0.0);
        const nija_vl one = vl_set(1.0), lo_c = vl_set(0.000001), hi_c = vl_set(1000000.0);
        const int same_k = up_k == dn_k;  /* one multiply for both bands, as k_bbands */
        nija_vl shift[NIJA_NH], t1[NIJA_NH], t2[NIJA_NH], tot[NIJA_NH], rs[NIJA_NH];
        nija_vl x, xo, t, a1, a2, mean1, var, sd, md;
        nija_ml fl[NIJA_NH];
        double sh_s[8], t1_s[8], t2_s[8];
        Py_ssize_t i, o;
        int h, j, any;
        for (h = 0; h < NIJA_NH; h++) {
            shift[h] = VL_LD(xt + NIJA_VW * h);
            t1[h] = zero;
            t2[h] = zero;
            tot[h] = zero;
            rs[h] = vl_set(32.0 * p);
        }
        for (i = 0; i < lb; i++)
            for (h = 0; h < NIJA_NH; h++) {
                x = VL_LD(xt + i * 8 + NIJA_VW * h);
                t = x - shift[h];
                t1[h] = t1[h] + t;
                t = t * t;
                t2[h] = t2[h] + t;
                tot[h] = tot[h] + x;
            }
        for (i = lb; i < m; i++) {
            any = 0;
            for (h = 0; h < NIJA_NH; h++) {
                o = i * 8 + NIJA_VW * h;
                x = VL_LD(xt + o);
                xo = VL_LD(xt + o - lb * 8);
                /* middle band: int_sma_fast */
                md = (tot[h] + x) * vinv;
                tot[h] = tot[h] + (x - xo);
                t = x - shift[h];
                a1 = t1[h] + t;
                t = t * t;
                a2 = t2[h] + t;
                mean1 = a1 * vinv;
                var = a2 * vinv - mean1 * mean1;
                t = xo - shift[h];
                a1 = a1 - t;
                t = t * t;
                a2 = a2 - t;
                t1[h] = a1;
                t2[h] = a2;
                rs[h] = rs[h] - one;
                fl[h] = vl_lt(var, lo_c * (a2 * vinv)) | vl_gt(t, hi_c * a2) | vl_le(rs[h], zero);
                any |= vl_any(fl[h]);
                sd = vl_sel(vl_gt(var, zero), vl_sqrt(var), zero);
                VL_ST(om + o, md);
                t = sd * vup;
                VL_ST(ou + o, md + t);
                VL_ST(ol + o, md - (same_k ? t : sd * vdn));
            }
            if (any) {
                for (h = 0; h < NIJA_NH; h++) {
                    VL_ST(sh_s + NIJA_VW * h, shift[h]);
                    VL_ST(t1_s + NIJA_VW * h, t1[h]);
                    VL_ST(t2_s + NIJA_VW * h, t2[h]);
                }
                for (j = 0; j < 8; j++) {
                    if (vl_lane(fl[j / NIJA_VW], j % NIJA_VW)) {
                        rs[j / NIJA_VW][j % NIJA_VW] = 32.0 * p;
                        nija_bbands_reseed(xt, i, p, inv, up_k, dn_k, j, sh_s, t1_s, t2_s, om, ou, ol);
                    }
                }
                for (h = 0; h < NIJA_NH; h++) {
                    shift[h] = VL_LD(sh_s + NIJA_VW * h);
                    t1[h] = VL_LD(t1_s + NIJA_VW * h);
                    t2[h] = VL_LD(t2_s + NIJA_VW * h);
                }
            }
        }
    }
    """
    void bbands_lanes "nija_bbands_lanes"(const double* xt, Py_ssize_t m, int p, double nbdevup,
                                          double nbdevdn, double* up, double* mid, double* lo) noexcept nogil


cdef inline int kb_bbands(const double* x, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t r0, int p,
                          double nbdevup, double nbdevdn, int matype, double* upper,
                          double* middle, double* lower, double* scratch, bint stream) noexcept nogil:
    """BBANDS of rows r0 .. r0+NL-1 (fewer at the end); scratch holds 4*n*NL doubles."""
    cdef const double* src[NL]
    cdef Py_ssize_t b = -1, j, m, nreal = min(<Py_ssize_t>NL, rows - r0)
    cdef int err = 0
    lanes_rows(x, rows, n, r0, src)
    if matype == 0:
        b = lanes_begin(src, NULL, NULL, n)
    if b < 0 or n - b <= p - 1:
        for j in range(nreal):
            err += k_bbands(src[j], n, p, nbdevup, nbdevdn, matype, upper + (r0 + j) * n,
                            middle + (r0 + j) * n, lower + (r0 + j) * n)
        return err
    m = n - b
    lanes_in(src, b, n, scratch, rows, r0)
    bbands_lanes(scratch, m, p, nbdevup, nbdevdn, scratch + m * NL, scratch + 2 * m * NL,
                 scratch + 3 * m * NL)
    lanes_out(scratch + m * NL, nreal, upper, n, r0, b, p - 1, stream)
    lanes_out(scratch + 2 * m * NL, nreal, middle, n, r0, b, p - 1, stream)
    lanes_out(scratch + 3 * m * NL, nreal, lower, n, r0, b, p - 1, stream)
    return 0
