# cython: boundscheck=False, wraparound=False
# distutils: extra_compile_args = -ffp-contract=off -fno-trapping-math
"""The batch entry point compiled for CPUs with FMA3 (x86-64): madd() becomes one
vfmadd instead of a libm call. Same source, same results bit for bit (fma() is
exactly rounded either way, and -ffp-contract=off stops the compiler from fusing
any other multiply-add). nija.core.indicators imports this module only when the
CPU reports FMA3 and AVX; on other compilers/architectures it is a plain copy.
"""

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
    #pragma GCC target("fma")
    #endif
    """

include "_batch.pyx"
