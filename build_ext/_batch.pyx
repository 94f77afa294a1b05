# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""Several indicators over the same 2-D candles in one native call.

Low-level entry point of :func:`nija.core.indicators.batch`; it expects
validated C-contiguous float64 2-D arrays and output buffers and does no
argument checks. Markets run in blocks of NL in lockstep as in the single
2-D calls (see "Lane blocks" in _common.pxi), but each block's candles are
transposed once for all the indicators, which then read it from cache: the
inputs are read from memory once per call instead of once per indicator.
Each row of each output is bit-identical to the 1-D result of that row.
"""

from cython.parallel cimport parallel, prange
from libc.stdlib cimport malloc, free
from _overlap cimport NL, LANE_MAX_N, lanes_rows, lanes_begin, lanes_in, lanes_out
from _overlap cimport k_macd, k_bbands, macd_lanes, bbands_lanes
from _momentum cimport k_rsi, rsi_lanes, rsi2_lanes
from _volatility cimport k_atr, atr_lanes

cdef extern from *:
    int NIJA_VW  # doubles per lane vector (_common.pxi)

#: doubles per lane vector in this build: 8 where it was compiled for AVX-512
#: (_batch_avx512 with GCC on x86-64), 4 otherwise
LANE_WIDTH = NIJA_VW

# indicator kinds (the Python side maps names to these)
RSI = 0
MACD = 1
BBANDS = 2
ATR = 3
MAX_SPECS = 64

cdef enum:
    K_RSI = 0
    K_MACD = 1
    K_BBANDS = 2
    K_ATR = 3
    NSPEC = 64


cdef int kb_batch(const double* c, const double* h, const double* l, Py_ssize_t rows,
                  Py_ssize_t n, Py_ssize_t r0, int ns, const int* kind, const int* ip,
                  const double* dp, double** op, const int* st, bint need_hl,
                  double* scratch) noexcept nogil:
    """Every spec on rows r0 .. r0+NL-1; scratch holds 6*n*NL doubles."""
    cdef const double* sc[NL]
    cdef const double* sh[NL]
    cdef const double* sl[NL]
    cdef Py_ssize_t bc, bh = -1, m = 0, j, lb, nreal = min(<Py_ssize_t>NL, rows - r0)
    cdef double* xt = scratch
    cdef double* ht = scratch + n * NL
    cdef double* lt = scratch + 2 * n * NL
    cdef double* ot = scratch + 3 * n * NL
    cdef int s, k, p, f, sw, g, err = 0
    cdef bint hl_ready = False
    cdef double** o
    cdef bint done[NSPEC]  # rsi specs already computed by the pass of an earlier one
    cdef int s2
    for s in range(ns):
        done[s] = False
    lanes_rows(c, rows, n, r0, sc)
    bc = lanes_begin(sc, NULL, NULL, n)
    if bc >= 0:
        m = n - bc
        lanes_in(sc, bc, n, xt, rows, r0)
    if need_hl:
        lanes_rows(h, rows, n, r0, sh)
        lanes_rows(l, rows, n, r0, sl)
        bh = lanes_begin(sh, sl, sc, n)
        if bc >= 0 and bh == bc:
            lanes_in(sh, bc, n, ht, rows, r0)
            lanes_in(sl, bc, n, lt, rows, r0)
            hl_ready = True
    for s in range(ns):
        k = kind[s]
        o = op + 3 * s
        if k == K_RSI:
            p = ip[3 * s]
            if bc >= 0 and m > p:
                # the next rsi spec, if any, shares this pass (rsi2_lanes)
                s2 = s + 1
                while s2 < ns and kind[s2] != K_RSI:
                    s2 += 1
                if s2 < ns and not done[s] and m > ip[3 * s2]:
                    rsi2_lanes(xt, m, p, ip[3 * s2], ot, ot + m * NL)
                    lanes_out(ot, nreal, o[0], n, r0, bc, p, st[s] != 0)
                    lanes_out(ot + m * NL, nreal, op[3 * s2], n, r0, bc, ip[3 * s2], st[s2] != 0)
                    done[s2] = True
                elif not done[s]:
                    rsi_lanes(xt, m, p, ot)
                    lanes_out(ot, nreal, o[0], n, r0, bc, p, st[s] != 0)
            else:
                for j in range(nreal):
                    err += k_rsi(sc[j], n, p, o[0] + (r0 + j) * n)
        elif k == K_MACD:
            f = ip[3 * s]
            sw = ip[3 * s + 1]
            g = ip[3 * s + 2]
            lb = (max(f, sw) - 1) + (g - 1)
            if bc >= 0 and m > lb:
                macd_lanes(xt, m, min(f, sw), max(f, sw), g, ot, ot + m * NL, ot + 2 * m * NL)
                lanes_out(ot, nreal, o[0], n, r0, bc, lb, st[s] != 0)
                lanes_out(ot + m * NL, nreal, o[1], n, r0, bc, lb, st[s] != 0)
                lanes_out(ot + 2 * m * NL, nreal, o[2], n, r0, bc, lb, st[s] != 0)
            else:
                for j in range(nreal):
                    err += k_macd(sc[j], n, f, sw, g, o[0] + (r0 + j) * n, o[1] + (r0 + j) * n,
                                  o[2] + (r0 + j) * n)
        elif k == K_BBANDS:
            p = ip[3 * s]
            if ip[3 * s + 1] == 0 and bc >= 0 and m > p - 1:
                bbands_lanes(xt, m, p, dp[2 * s], dp[2 * s + 1], ot, ot + m * NL, ot + 2 * m * NL)
                lanes_out(ot, nreal, o[0], n, r0, bc, p - 1, st[s] != 0)
                lanes_out(ot + m * NL, nreal, o[1], n, r0, bc, p - 1, st[s] != 0)
                lanes_out(ot + 2 * m * NL, nreal, o[2], n, r0, bc, p - 1, st[s] != 0)
            else:
                for j in range(nreal):
                    err += k_bbands(sc[j], n, p, dp[2 * s], dp[2 * s + 1], ip[3 * s + 1],
                                    o[0] + (r0 + j) * n, o[1] + (r0 + j) * n, o[2] + (r0 + j) * n)
        elif k == K_ATR:
            p = ip[3 * s]
            if hl_ready and p > 1 and m > p:
                atr_lanes(ht, lt, xt, m, p, ot)
                lanes_out(ot, nreal, o[0], n, r0, bc, p, st[s] != 0)
            else:
                for j in range(nreal):
                    err += k_atr(sh[j], sl[j], sc[j], n, p, False, o[0] + (r0 + j) * n)
    return err


cdef int kr_batch(const double* c, const double* h, const double* l, Py_ssize_t n, Py_ssize_t r,
                  int ns, const int* kind, const int* ip, const double* dp, double** op) noexcept nogil:
    """Every spec on row r with the 1-D kernels (rows longer than LANE_MAX_N)."""
    cdef int s, err = 0
    cdef Py_ssize_t o = r * n
    c += o
    h += o
    l += o
    for s in range(ns):
        if kind[s] == K_RSI:
            err += k_rsi(c, n, ip[3 * s], op[3 * s] + o)
        elif kind[s] == K_MACD:
            err += k_macd(c, n, ip[3 * s], ip[3 * s + 1], ip[3 * s + 2], op[3 * s] + o,
                          op[3 * s + 1] + o, op[3 * s + 2] + o)
        elif kind[s] == K_BBANDS:
            err += k_bbands(c, n, ip[3 * s], dp[2 * s], dp[2 * s + 1], ip[3 * s + 1], op[3 * s] + o,
                            op[3 * s + 1] + o, op[3 * s + 2] + o)
        elif kind[s] == K_ATR:
            err += k_atr(h, l, c, n, ip[3 * s], False, op[3 * s] + o)
    return err


def batch(const double[:, ::1] close, const double[:, ::1] high, const double[:, ::1] low,
          kinds, iparams, dparams, outs, streams=None, int num_threads=1):
    """Compute ``len(kinds)`` indicators into ``outs`` (one tuple of 1 or 3 arrays each).

    ``kinds[s]`` is RSI, MACD, BBANDS or ATR; ``iparams[s]`` its integer parameters
    (rsi/atr: (timeperiod,), macd: (fast, slow, signal), bbands: (timeperiod, matype)),
    ``dparams[s]`` its real ones (bbands: (nbdevup, nbdevdn)). ``high``/``low`` are read
    only by ATR (pass ``close`` when there is none). ``streams[s]`` true: spec s writes
    with non-temporal stores (buffers the caller passed as out=). At most MAX_SPECS
    indicators.
    """
    cdef Py_ssize_t rows = close.shape[0], n = close.shape[1], blk, nblk = (rows + NL - 1) // NL
    cdef int ns = len(kinds), s, q, err = 0
    cdef int kind[NSPEC]
    cdef int ip[3 * NSPEC]
    cdef double dp[2 * NSPEC]
    cdef double* op[3 * NSPEC]
    cdef int st[NSPEC]
    cdef double[:, ::1] view
    cdef bint need_hl = False
    cdef double* buf
    if ns > NSPEC:
        raise ValueError(f"at most {NSPEC} indicators per call")
    keep = []  # the memoryviews whose pointers are in op
    for s in range(ns):
        kind[s] = kinds[s]
        st[s] = 1 if streams is not None and streams[s] else 0
        need_hl |= kind[s] == K_ATR
        for q in range(3):
            ip[3 * s + q] = iparams[s][q] if q < len(iparams[s]) else 0
            op[3 * s + q] = NULL
        for q in range(2):
            dp[2 * s + q] = dparams[s][q] if q < len(dparams[s]) else 0.0
        for q in range(len(outs[s])):
            view = outs[s][q]
            keep.append(view)
            op[3 * s + q] = &view[0, 0]
    if n == 0 or rows == 0 or ns == 0:
        return
    cdef Py_ssize_t r
    if n > LANE_MAX_N:
        with nogil:
            for r in prange(rows, num_threads=max(1, num_threads), schedule="dynamic"):
                err += kr_batch(&close[0, 0], &high[0, 0], &low[0, 0], n, r, ns, kind, ip, dp, op)
        if err:
            raise MemoryError()
        return
    with nogil:
        # a scratch block per thread; blocks handed out dynamically, so a thread
        # sharing its core with another process does not hold up the call
        with parallel(num_threads=max(1, num_threads)):
            buf = <double*>malloc(6 * n * NL * sizeof(double))
            for blk in prange(nblk, schedule="dynamic", chunksize=4):
                if buf == NULL:
                    err += 1
                else:
                    err += kb_batch(&close[0, 0], &high[0, 0], &low[0, 0], rows, n, blk * NL, ns,
                                    kind, ip, dp, op, st, need_hl, buf)
            free(buf)
    if err:
        raise MemoryError()
