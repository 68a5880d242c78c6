# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Matrix multiplication in Cython: the hand-written loop, to learn from and to measure.

The twin of ``loops/matmul.py`` (same name, parameters and loop order); the glue that
allocates ``out`` and checks shapes is ``backends/wrappers/matmul.py``, the contract
``backends/kernel_set.py``. As on the numba side, the matmul *op* of the cython backend
is numpy's (OpenBLAS): C = A B does 2 M N K flops on only M K + K N + M N numbers, so a
good kernel is limited by arithmetic, not memory, and OpenBLAS gets there with register
tiles, cache blocking, packed copies of the tiles, hand-written FMA assembly and
threads. This loop has none of that: gcc vectorises its inner loop and nothing more,
so it is several times slower than OpenBLAS from about 64 x 64 on. The benchmarks
time it against numpy's BLAS and against numba's identical loop (C compiler vs LLVM).
"""
from minigrad.backends.cython._common cimport real


def matmul_loop(const real[:, ::1] a, const real[:, ::1] b, real[:, ::1] out):
    """out = a @ b for 2-D a (M, K), b (K, N), out (M, N): out[i, j] = sum_k a[i, k] b[k, j].

    The loops run i, k, j (not the textbook i, j, k): the innermost loop then walks a row
    of b and a row of out, both contiguous, with a[i, k] fixed in a register, so gcc turns
    it into vector multiply-adds. In i, j, k order it would walk a *column* of b, one cache
    line per element. ``out`` is zeroed here first; the caller's contents are ignored.
    """
    cdef Py_ssize_t i, j, k, m = a.shape[0], kk = a.shape[1], n = b.shape[1]
    cdef real aik
    cdef real* outr
    cdef const real* br
    with nogil:
        for i in range(m):
            outr = &out[i, 0]
            for j in range(n):
                outr[j] = 0
            for k in range(kk):
                aik = a[i, k]
                br = &b[k, 0]
                # outr and br are plain pointers: gcc tests at the loop's entry that the two
                # runs do not overlap, then runs its vectorised version of the loop
                for j in range(n):
                    outr[j] += aik * br[j]
