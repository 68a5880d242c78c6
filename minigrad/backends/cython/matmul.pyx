# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Matrix multiplication in Cython: the hand-written loop, and BLAS split across OpenMP threads.

The twin of ``loops/matmul.py`` (same names, parameters and loop order); the glue that
allocates ``out`` and checks shapes is ``backends/wrappers/matmul.py``, the contract
``backends/kernel_set.py``.

``matmul_loop`` is the hand-written loop, to learn from and to measure. C = A B does
2 M N K flops on only M K + K N + M N numbers, so a good kernel is limited by
arithmetic, not memory, and OpenBLAS gets there with register tiles, cache blocking,
packed copies of the tiles, hand-written FMA assembly and threads. This loop has none
of that: gcc vectorises its inner loop and nothing more, so it is several times slower
than OpenBLAS from about 64 x 64 on. The benchmarks time it against numpy's BLAS and
against numba's identical loop (C compiler vs LLVM).

``matmul_split`` is what the matmul *op* of the cython backend runs for large products:
numpy's OpenBLAS, one single-threaded call per OpenMP thread, so that the whole training
step runs on one pool of threads, the one the split recurrences use
(``recurrent.pyx``). With OpenBLAS's own threads for the products and OpenMP's for the
recurrences, each pool's threads spin on the cores while the other works: a 2-core LSTM
layer step at (8, 100, 32, 64) took 8 ms instead of 1.8 (docs/kernels.md).
"""
from cython.parallel cimport parallel

from minigrad.backends.cython._common cimport real

include "_blas.pxi"     # _gemm
include "_openmp.pxi"   # mg_thread, mg_team, threads()


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


cdef Py_ssize_t _row_stride(const real[:, :] x, str name) except -1:
    """The distance between x's rows in elements; its rows must be contiguous (BLAS reads them so)."""
    if x.shape[1] > 1 and x.strides[1] != sizeof(real):
        raise ValueError(f"matmul_split: {name} needs contiguous rows, got strides ({x.strides[0]}, {x.strides[1]})")
    return max(x.strides[0] // <Py_ssize_t>sizeof(real), x.shape[1], 1)


def matmul_split(const real[:, :] a, const real[:, :] b, real[:, :] out, bint trans_a, bint trans_b,
                 Py_ssize_t parts):
    """out = op(a) @ op(b) (op: transpose where the flag says), split across ``parts`` threads.

    a, b, out are 2-D blocks with contiguous rows. Each thread takes a block of the
    output's rows -- or of its columns, when it has fewer rows than columns -- and makes
    one BLAS call for it; the wrapper has set BLAS to run each call on the calling thread.
    Row block r0..r1 of out needs rows r0..r1 of op(a) (columns of a when it is transposed)
    and all of op(b); a column block, the reverse.
    """
    cdef Py_ssize_t m = out.shape[0], n = out.shape[1], k = a.shape[0] if trans_a else a.shape[1]
    cdef Py_ssize_t lda = _row_stride(a, "a"), ldb = _row_stride(b, "b"), ldo = _row_stride(out, "out")
    cdef bint by_rows = m >= n
    cdef Py_ssize_t size = m if by_rows else n, p, lo, hi, chunk
    if parts < 1:
        raise ValueError(f"matmul_split: parts must be >= 1, got {parts}")
    if m == 0 or n == 0:
        return
    chunk = (size + parts - 1) // parts
    with nogil, parallel(num_threads=parts):
        p = mg_thread()
        while p < parts:
            lo, hi = min(size, p * chunk), min(size, p * chunk + chunk)
            if lo < hi and by_rows:
                _gemm(trans_a, trans_b, hi - lo, n, k, &a[0, lo] if trans_a else &a[lo, 0], lda, &b[0, 0], ldb,
                      &out[lo, 0], ldo)
            elif lo < hi:
                _gemm(trans_a, trans_b, m, hi - lo, k, &a[0, 0], lda, &b[lo, 0] if trans_b else &b[0, lo], ldb,
                      &out[0, lo], ldo)
            p = p + mg_team()
