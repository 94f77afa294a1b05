# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""The batch entry point compiled for CPUs with AVX-512 (x86-64): the lane-block
kernels step all NL = 8 markets of a block as one zmm vector (see "nija_vl" in
_common.pxi) instead of two ymm halves, which halves the instructions of every
recurrence step. Same source and the same element-wise IEEE operations as the
FMA3 build, so the same results bit for bit (-ffp-contract=off: no multiply-add
is fused unless the source says fma). nija.core.indicators imports this module
only when the CPU reports AVX512F, FMA3 and AVX; on other compilers or
architectures it is a plain copy.
"""

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
    #pragma GCC target("fma,avx512f")
    #endif
    """

include "_batch.pyx"
