# Momentum / oscillator kernels: rsi, stoch, stochrsi, cci, mfi, obv, roc, mom,
# willr, aroon. Only `cdef inline` functions (see _common.pxi for conventions);
# the Python-facing wrappers are in _momentum.pyx.

include "_common.pxi"


cdef inline int k_rsi(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    fill_nan(out, 0, min(n, b + p))
    return int_rsi(x + b, n - b, p, out + b)


cdef inline int k_stoch(const double* high, const double* low, const double* close, Py_ssize_t n,
                        int fastk_period, int slowk_period, int slowk_matype,
                        int slowd_period, int slowd_matype,
                        double* slowk, double* slowd) noexcept nogil:
    # TA_STOCH: fast %K, then slow %K = MA(fast %K), slow %D = MA(slow %K).
    cdef Py_ssize_t b = first_valid(high, low, close, NULL, n)
    cdef Py_ssize_t m = n - b, i
    cdef Py_ssize_t lk = fastk_period - 1
    cdef Py_ssize_t lks = lk + ma_lookback(slowk_period, slowk_matype)
    cdef Py_ssize_t lb = lks + ma_lookback(slowd_period, slowd_matype)
    cdef double* fk
    cdef double* sk
    cdef double* sd
    fill_nan(slowk, 0, min(n, b + lb))
    fill_nan(slowd, 0, min(n, b + lb))
    if m <= lb:
        return 0
    fk = <double*>malloc(3 * m * sizeof(double))
    if fk == NULL:
        return 1
    sk = fk + m
    sd = sk + m
    int_fastk(high + b, low + b, close + b, m, fastk_period, True, fk)
    int_ma(fk + lk, m - lk, slowk_period, slowk_matype, sk + lk)
    int_ma(sk + lks, m - lks, slowd_period, slowd_matype, sd + lks)
    for i in range(lb, m):
        slowk[b + i] = sk[i]
        slowd[b + i] = sd[i]
    free(fk)
    return 0


cdef inline int k_stochrsi(const double* x, Py_ssize_t n, int p, int fastk_period,
                           int fastd_period, int fastd_matype,
                           double* fastk, double* fastd) noexcept nogil:
    # TA_STOCHRSI: TA_STOCHF applied to the RSI series (as high, low and close).
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t m = n - b, i
    cdef Py_ssize_t lk = p + fastk_period - 1
    cdef Py_ssize_t lb = lk + ma_lookback(fastd_period, fastd_matype)
    cdef double* r
    cdef double* fk
    cdef double* fd
    fill_nan(fastk, 0, min(n, b + lb))
    fill_nan(fastd, 0, min(n, b + lb))
    if m <= lb:
        return 0
    r = <double*>malloc(3 * m * sizeof(double))
    if r == NULL:
        return 1
    fk = r + m
    fd = fk + m
    # TA-Lib's own RSI steps: see int_rsi_talib
    int_rsi_talib(x + b, m, p, r)
    int_fastk(r + p, r + p, r + p, m - p, fastk_period, False, fk + p)
    int_ma(fk + lk, m - lk, fastd_period, fastd_matype, fd + lk)
    for i in range(lb, m):
        fastk[b + i] = fk[i]
        fastd[b + i] = fd[i]
    free(r)
    return 0


cdef inline int k_cci(const double* high, const double* low, const double* close, Py_ssize_t n,
                      int p, double* out) noexcept nogil:
    # TA_CCI: mean and mean deviation recomputed over a circular buffer of
    # typical prices (so a NaN leaves with its window, as in TA-Lib). The mean is
    # summed in buffer order exactly as TA-Lib does: CCI divides (price - mean),
    # which cancels when CCI is near 0, so the mean must match to the last bit.
    # That sum is kept as prefix sums pre[j] = ((0 + buf[0]) + ...) + buf[j-1]:
    # a new price in slot k leaves pre[0..k] as they were, so only the adds from
    # slot k on are redone -- the same adds, in the same order, on the same
    # values, hence the same bits, with half the chain on average.
    # The deviation (a sum of magnitudes, no cancellation) uses four partial sums
    # instead of one chain of p dependent adds.
    cdef Py_ssize_t b = first_valid(high, low, close, NULL, n)
    cdef Py_ssize_t m = n - b, i, j, circ = 0
    cdef double last, avg, dev, d, t
    cdef double* buf
    cdef double* pre
    fill_nan(out, 0, min(n, b + p - 1))
    if m < p:
        return 0
    buf = <double*>malloc((2 * p + 1) * sizeof(double))
    if buf == NULL:
        return 1
    pre = buf + p
    pre[0] = 0.0
    high += b
    low += b
    close += b
    out += b
    for i in range(p - 1):
        buf[circ] = (high[i] + low[i] + close[i]) / 3
        circ += 1
    for i in range(p - 1, m):
        last = (high[i] + low[i] + close[i]) / 3
        buf[circ] = last
        j = 0 if i == p - 1 else circ
        t = pre[j]
        while j < p:
            t += buf[j]
            pre[j + 1] = t
            j += 1
        avg = t / p
        dev = sum4(buf, p, avg, True) / p
        d = last - avg
        # flatness relative to the window's price level (TA-Lib #253)
        if not is_zero_scaled(d, fabs(avg)) and not is_zero_scaled(dev, fabs(avg)):
            out[i] = d / (0.015 * dev)
        else:
            out[i] = 0.0
        circ += 1
        if circ > p - 1:
            circ = 0
    free(buf)
    return 0


cdef inline int k_mfi(const double* high, const double* low, const double* close,
                      const double* volume, Py_ssize_t n, int p, double* out) noexcept nogil:
    # TA_MFI (TA-Lib 0.8): a typical-price move within 1e-14 of the prices'
    # magnitude is "no move"; a window that received no money flow at all (counted
    # exactly, since the running sums keep rounding residue) gives 0.
    cdef Py_ssize_t b = first_valid(high, low, close, volume, n)
    cdef Py_ssize_t m = n - b, today, circ = 0, null_run = 0
    cdef double prev, tp, d, scale, mf, pf, nf, pos_sum = 0.0, neg_sum = 0.0, tot, pc
    cdef double* pos
    cdef double* neg
    fill_nan(out, 0, min(n, b + p))
    if m <= p:
        return 0
    pos = <double*>malloc(2 * p * sizeof(double))
    if pos == NULL:
        return 1
    neg = pos + p
    high += b
    low += b
    close += b
    volume += b
    out += b
    prev = (high[0] + low[0] + close[0]) / 3.0
    for today in range(1, m):
        if today > p:
            pos_sum -= pos[circ]
            neg_sum -= neg[circ]
        tp = (high[today] + low[today] + close[today]) / 3.0
        d = tp - prev
        scale = fabs(tp) + fabs(prev)
        prev = tp
        tp *= volume[today]
        # TA-Lib's `mf = 0 if is_zero_scaled(d) else tp`, `pf = 0 if d < 0 else mf`,
        # `nf = mf if d < 0 else 0` as mask selects: up or down is a coin flip
        # on market data, too costly as a branch. NaN routes as in TA-Lib.
        mf = sel_nle(fabs(d), 0.00000000000001 * scale, tp)
        pf = sel_nlt(d, 0.0, mf)
        nf = sel_lt(d, 0.0, mf)
        pos[circ] = pf
        neg[circ] = nf
        pos_sum += pf
        neg_sum += nf
        null_run = null_run + 1 if mf == 0.0 else 0
        if null_run >= p:
            null_run = p
            pos_sum = 0.0
            neg_sum = 0.0
        if today >= p:
            tot = pos_sum + neg_sum
            pc = 0.0 if pos_sum < 0.0 else (tot if pos_sum > tot else pos_sum)
            out[today] = 0.0 if tot <= 0.0 else 100.0 * (pc / tot)
        circ += 1
        if circ > p - 1:
            circ = 0
    free(pos)
    return 0


cdef inline int k_obv(const double* close, const double* volume, Py_ssize_t n,
                      double* out) noexcept nogil:
    cdef Py_ssize_t b = first_valid(close, volume, NULL, NULL, n)
    cdef Py_ssize_t i
    cdef double prev_obv, prev_real, v
    fill_nan(out, 0, b)
    if b >= n:
        return 0
    prev_obv = volume[b]
    prev_real = close[b]
    for i in range(b, n):
        v = close[i]
        # TA-Lib's `if v > prev: obv += vol elif v < prev: obv -= vol` without
        # the coin-flip branch: at most one of the two selects is non-zero, so
        # obv + (up - down) is exactly obv + vol, obv - vol or obv.
        prev_obv += sel_gt(v, prev_real, volume[i]) - sel_lt(v, prev_real, volume[i])
        out[i] = prev_obv
        prev_real = v
    return 0


cdef inline int k_roc(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t i
    cdef double t
    fill_nan(out, 0, min(n, b + p))
    for i in range(b + p, n):
        t = x[i - p]
        out[i] = ((x[i] / t) - 1.0) * 100.0 if t != 0.0 else 0.0
    return 0


cdef extern from *:
    """
    /* out[s..e-1] = x[i] - x[i-p], the aligned part as non-temporal stores (AVX
       builds; the plain loop elsewhere): for long series, the output does not go
       through the cache, so it neither reads the lines it overwrites nor evicts
       the input. */
    static void nija_mom_nt(const double *x, Py_ssize_t s, Py_ssize_t e, int p, double *out) {
        Py_ssize_t i = s;
    #if defined(__AVX__)
        for (; i < e && (((uintptr_t)(out + i)) & 31) != 0; i++)
            out[i] = x[i] - x[i - p];
        for (; i + 4 <= e; i += 4)
            _mm256_stream_pd(out + i, (__m256d)(V4_LD(x + i) - V4_LD(x + i - p)));
        _mm_sfence();
    #endif
        for (; i < e; i++)
            out[i] = x[i] - x[i - p];
    }
    """
    void mom_nt "nija_mom_nt"(const double* x, Py_ssize_t s, Py_ssize_t e, int p, double* out) noexcept nogil


cdef inline int k_mom(const double* x, Py_ssize_t n, int p, double* out) noexcept nogil:
    cdef Py_ssize_t b = first_valid(x, NULL, NULL, NULL, n)
    cdef Py_ssize_t i
    fill_nan(out, 0, min(n, b + p))
    if n >= NT_MIN:
        mom_nt(x, b + p, n, p, out)
        return 0
    for i in range(b + p, n):
        out[i] = x[i] - x[i - p]
    return 0


cdef inline int k_willr(const double* high, const double* low, const double* close, Py_ssize_t n,
                        int p, double* out) noexcept nogil:
    # TA_WILLR: highest/lowest tracked incrementally (see roll_max in _common.pxi).
    cdef Py_ssize_t b = first_valid(high, low, close, NULL, n)
    cdef Py_ssize_t today, trailing = 0, lowest_idx = -1, highest_idx = -1
    cdef double lowest = 0.0, highest = 0.0
    fill_nan(out, 0, min(n, b + p - 1))
    if n - b < p:
        return 0
    high += b
    low += b
    close += b
    out += b
    if hl_blocks(high, low, close, n - b, p, 0, out) == 0:
        return 0
    # NaN in the row (or no scratch memory): the incremental scheme
    today = p - 1
    while today < n - b:
        roll_min(low, today, trailing, False, &lowest_idx, &lowest)
        roll_max(high, today, trailing, False, &highest_idx, &highest)
        out[today] = hl_value(0, highest, lowest, close[today])
        trailing += 1
        today += 1
    return 0


cdef inline int aroon_blocks(const double* high, const double* low, Py_ssize_t m, int p,
                             double* down, double* up) noexcept nogil:
    """AROON over windows of w = p+1 bars by van Herk/Gil-Werman blocks of w
    (see hl_blocks), carrying the index of each extreme: AROON wants the most
    recent one on ties, so a forward (prefix) scan takes a new extreme on >=, a
    backward (suffix) scan only on >, and a window takes its prefix part's
    extreme unless the suffix part's is strictly beyond it. Returns 2 when a NaN
    is seen (the caller reruns the row incrementally), 1 if malloc fails."""
    cdef Py_ssize_t w = p + 1, bs, end, last, i, j, hi_i, lo_i, shj, slj
    cdef Py_ssize_t* si
    cdef double* sv
    cdef double gh, gl, h, l, factor = 100.0 / <double>p
    cdef bint bad = False
    if m < w:
        return 0
    sv = <double*>malloc(2 * w * sizeof(double))
    if sv == NULL:
        return 1
    si = <Py_ssize_t*>malloc(2 * w * sizeof(Py_ssize_t))
    if si == NULL:
        free(sv)
        return 1
    bs = 0
    while bs < m:
        end = min(bs + w, m)
        if bs > 0:
            # suffix extremes of the previous block: values sv[0..w), sv[w..2w),
            # indices si[0..w), si[w..2w) for high and low
            h = high[bs - 1]
            l = low[bs - 1]
            hi_i = bs - 1
            lo_i = bs - 1
            sv[w - 1] = h
            sv[2 * w - 1] = l
            si[w - 1] = hi_i
            si[2 * w - 1] = lo_i
            j = w - 2
            while j >= 0:
                gh = high[bs - w + j]
                gl = low[bs - w + j]
                hi_i = bs - w + j if gh > h else hi_i
                h = gh if gh > h else h
                lo_i = bs - w + j if gl < l else lo_i
                l = gl if gl < l else l
                sv[j] = h
                sv[w + j] = l
                si[j] = hi_i
                si[w + j] = lo_i
                j -= 1
        gh = high[bs]
        gl = low[bs]
        hi_i = bs
        lo_i = bs
        bad |= (gh - gl) != (gh - gl)
        last = min(end, bs + w - 1)
        for i in range(bs, last):
            h = high[i]
            l = low[i]
            bad |= (h - l) != (h - l)
            hi_i = i if h >= gh else hi_i
            gh = h if h >= gh else gh
            lo_i = i if l <= gl else lo_i
            gl = l if l <= gl else gl
            if bs > 0:
                j = i - bs + 1
                shj = si[j] if sv[j] > gh else hi_i
                slj = si[w + j] if sv[w + j] < gl else lo_i
                up[i] = factor * (p - (i - shj))
                down[i] = factor * (p - (i - slj))
        if end == bs + w:
            i = end - 1
            h = high[i]
            l = low[i]
            bad |= (h - l) != (h - l)
            hi_i = i if h >= gh else hi_i
            gh = h if h >= gh else gh
            lo_i = i if l <= gl else lo_i
            gl = l if l <= gl else gl
            up[i] = factor * (p - (i - hi_i))
            down[i] = factor * (p - (i - lo_i))
        bs += w
    free(sv)
    free(si)
    return 2 if bad else 0


cdef inline int k_aroon(const double* high, const double* low, Py_ssize_t n, int p,
                        double* down, double* up) noexcept nogil:
    # TA_AROON: ties go to the most recent extreme (<= / >=).
    cdef Py_ssize_t b = first_valid(high, low, NULL, NULL, n)
    cdef Py_ssize_t m = n - b, today, trailing = 0, lowest_idx = -1, highest_idx = -1
    cdef double lowest = 0.0, highest = 0.0
    cdef double factor = 100.0 / <double>p
    fill_nan(down, 0, min(n, b + p))
    fill_nan(up, 0, min(n, b + p))
    if m <= p:
        return 0
    high += b
    low += b
    down += b
    up += b
    if aroon_blocks(high, low, m, p, down, up) == 0:
        return 0
    # NaN in the row (or no scratch memory): TA-Lib's incremental scheme
    today = p
    while today < m:
        roll_min(low, today, trailing, True, &lowest_idx, &lowest)
        roll_max(high, today, trailing, True, &highest_idx, &highest)
        up[today] = factor * (p - (today - highest_idx))
        down[today] = factor * (p - (today - lowest_idx))
        trailing += 1
        today += 1
    return 0


cdef inline void rsi_lanes(const double* xt, Py_ssize_t m, int p, double* ot) noexcept nogil:
    """int_rsi on NL lanes (see "Lane blocks" in _common.pxi): time-major xt
    (m > p bars), ot[p*NL ..] written. The seeding branch `if d < 0: loss -= d
    else: gain += d` becomes adds of d or 0.0 to each sum, which leave the other
    sum's bits as they were (both sums start at +0.0 and never turn -0.0)."""
    cdef double gain[NL]
    cdef double loss[NL]
    cdef double inv = 1.0 / <double>p, c = 1.0 - inv, d, s, g, l
    cdef Py_ssize_t i, j
    for j in range(NL):
        gain[j] = 0.0
        loss[j] = 0.0
    for i in range(1, p + 1):
        for j in range(NL):
            d = xt[i * NL + j] - xt[(i - 1) * NL + j]
            loss[j] = loss[j] - (d if d < 0 else 0.0)
            gain[j] = gain[j] + (0.0 if d < 0 else d)
    for j in range(NL):
        l = loss[j] / p
        g = gain[j] / p
        loss[j] = l
        gain[j] = g
        s = g + l
        ot[p * NL + j] = 100.0 * (g / s) if s > 0.0 else 0.0
    for i in range(p + 1, m):
        for j in range(NL):
            d = xt[i * NL + j] - xt[(i - 1) * NL + j]
            # rsi_up / rsi_down as the ternaries maxsd implements
            g = fma(gain[j], c, (0.0 if 0.0 > d else d) * inv)
            l = fma(loss[j], c, (-d if -d > 0.0 else 0.0) * inv)
            gain[j] = g
            loss[j] = l
            s = g + l
            ot[i * NL + j] = 100.0 * (g / s) if s > 0.0 else 0.0


cdef extern from *:
    """
    /* One step of rsi_lanes for NIJA_VW lanes at bar i (see rsi_lanes): seeding
       up to bar p, the first value at p, Wilder's smoothing after it. sg/sl are
       the seeding adds, dn the smoothing's down move; the smoothing's up move is
       sg ((0 > d) ? 0 : d is (d < 0) ? 0 : d). */
    static inline void nija_rsi_step(Py_ssize_t i, int p, nija_vl vinv, nija_vl vc, nija_vl *g,
                                     nija_vl *l, nija_vl sg, nija_vl sl, nija_vl dn, double *o) {
        const nija_vl zero = vl_set(0.0), hundred = vl_set(100.0);
        nija_vl s;
        if (i <= p) {
            *l = *l - sl;
            *g = *g + sg;
            if (i < p)
                return;
            *l = *l / vl_set((double)p);
            *g = *g / vl_set((double)p);
        } else {
            *g = vl_fma(*g, vc, sg * vinv);
            *l = vl_fma(*l, vc, dn * vinv);
        }
        s = *g + *l;
        VL_ST(o, vl_sel(vl_gt(s, zero), hundred * (*g / s), zero));
    }
    /* Two RSIs of one lane block in one pass (batch() with two rsi specs): the
       move and its up/down parts are computed once; each RSI's operations are
       rsi_lanes', so the bits are. m > max(pa, pb); oa/ob written from pa/pb. */
    static void nija_rsi2_lanes(const double *xt, Py_ssize_t m, int pa, int pb, double *oa,
                                double *ob) {
        const double ia = 1.0 / (double)pa, ib = 1.0 / (double)pb;
        const nija_vl via = vl_set(ia), vca = vl_set(1.0 - ia), vib = vl_set(ib), vcb = vl_set(1.0 - ib);
        const nija_vl zero = vl_set(0.0);
        nija_vl ga[NIJA_NH], la[NIJA_NH], gb[NIJA_NH], lb[NIJA_NH], d, nd, sg, sl, dn;
        nija_ml neg;
        Py_ssize_t i, o;
        int h;
        for (h = 0; h < NIJA_NH; h++) {
            ga[h] = zero;
            la[h] = zero;
            gb[h] = zero;
            lb[h] = zero;
        }
        for (i = 1; i < m; i++)
            for (h = 0; h < NIJA_NH; h++) {
                o = i * 8 + NIJA_VW * h;
                d = VL_LD(xt + o) - VL_LD(xt + o - 8);
                nd = -d;
                neg = vl_lt(d, zero);
                sg = vl_sel(neg, zero, d);
                sl = vl_sel(neg, d, zero);
                dn = vl_sel(vl_gt(nd, zero), nd, zero);
                nija_rsi_step(i, pa, via, vca, &ga[h], &la[h], sg, sl, dn, oa + o);
                nija_rsi_step(i, pb, vib, vcb, &gb[h], &lb[h], sg, sl, dn, ob + o);
            }
    }
    """
    void rsi2_lanes "nija_rsi2_lanes"(const double* xt, Py_ssize_t m, int pa, int pb, double* oa,
                                      double* ob) noexcept nogil


cdef inline int kb_rsi(const double* x, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t r0, int p,
                       double* out, double* scratch, bint stream) noexcept nogil:
    """RSI of rows r0 .. r0+NL-1 (fewer at the end); scratch holds 2*n*NL doubles."""
    cdef const double* src[NL]
    cdef Py_ssize_t b, j, m, nreal = min(<Py_ssize_t>NL, rows - r0)
    cdef int err = 0
    lanes_rows(x, rows, n, r0, src)
    b = lanes_begin(src, NULL, NULL, n)
    if b < 0 or n - b <= p:
        for j in range(nreal):
            err += k_rsi(src[j], n, p, out + (r0 + j) * n)
        return err
    m = n - b
    lanes_in(src, b, n, scratch, rows, r0)
    rsi_lanes(scratch, m, p, scratch + m * NL)
    lanes_out(scratch + m * NL, nreal, out, n, r0, b, p, stream)
    return 0
