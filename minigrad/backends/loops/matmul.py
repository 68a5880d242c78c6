"""Matrix multiplication: BLAS for real work, and a hand-written loop to learn from and to measure.

Why BLAS wins: C = A B with A (M, K), B (K, N) does 2 M N K flops on only M K + K N + M N
numbers, so a good kernel is limited by arithmetic, not memory. OpenBLAS gets there with
register tiles (a small block of C kept in registers while A and B stream past), cache
blocking (tiles of A and B sized to L1/L2), packed copies of the tiles, hand-written FMA
assembly and threads. ``matmul_loop`` below has none of that: it vectorises the inner
loop and nothing more, so it is several times slower than OpenBLAS from about 64 x 64 on.

How each backend multiplies:

* ``"numba"`` multiplies with numpy's own OpenBLAS (``loops/_blas.py`` calls it from
  compiled code), but on numba's threads: ``matmul_split`` below gives each thread a
  block of rows (or columns) of the output and one single-threaded BLAS call. The fused
  recurrent kernels split their steps over the same threads (``recurrent_parallel.py``),
  and a training step then has ONE pool of threads: OpenBLAS's own threads, which keep
  spinning for a while after each product, measured 3-4x slower recurrences when they
  fought numba's for the two cores (docs/kernels.md). numba's own ``np.dot`` would need
  SciPy, which loads a second OpenBLAS.
  Compiled code that needs a product *inside* a loop (the fused recurrent kernels, one
  product per time step) calls the same BLAS through ``loops/_blas.py``.
* ``"cython"`` does the same with OpenMP's threads (``cython/matmul.pyx``), for the same
  reason: its recurrences split over OpenMP's threads (``cython/recurrent.pyx``).
* ``"python"`` runs ``matmul_loop`` uncompiled: an interpreter cannot call BLAS "by hand",
  and the point of that backend is to show what the loop costs without a compiler.
* the benchmark harness times ``matmul_loop`` compiled against numpy's BLAS and against
  itself uncompiled.
"""
from ._blas import gemm
from ._jit import kernel, prange


@kernel
def matmul_loop(a, b, out):
    """out = a @ b for 2-D a (M, K), b (K, N), out (M, N): out[i, j] = sum_k a[i, k] b[k, j].

    The loops run i, k, j (not the textbook i, j, k): the innermost loop then walks a row
    of b and a row of out, both contiguous, with a[i, k] fixed in a register, so LLVM turns
    it into vector multiply-adds. In i, j, k order it would walk a *column* of b, one cache
    line per element.
    """
    m, kk = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            out[i, j] = 0
        for k in range(kk):
            aik = a[i, k]
            for j in range(n):
                out[i, j] += aik * b[k, j]


@kernel(parallel=True)
def matmul_split(a, b, out, trans_a, trans_b, parts):
    """out = op(a) @ op(b) (op: transpose where the flag says), split across ``parts`` threads.

    a, b, out are 2-D blocks with contiguous rows (``_blas.gemm``). Each thread takes a
    block of the output's rows -- or of its columns, when it has fewer rows than columns --
    and makes one BLAS call for it; the wrapper has set BLAS to run each call on the
    calling thread. Row block r0..r1 of out needs rows r0..r1 of op(a) (columns of a when
    it is transposed) and all of op(b); a column block, the reverse.
    """
    m, n = out.shape
    by_rows = m >= n
    size = m if by_rows else n
    chunk = (size + parts - 1) // parts
    for p in prange(parts):
        lo, hi = min(size, p * chunk), min(size, (p + 1) * chunk)
        if lo < hi:
            if by_rows:
                gemm(a[:, lo:hi] if trans_a else a[lo:hi], b, out[lo:hi], trans_a, trans_b)
            else:
                gemm(a, b[lo:hi] if trans_b else b[:, lo:hi], out[:, lo:hi], trans_a, trans_b)
