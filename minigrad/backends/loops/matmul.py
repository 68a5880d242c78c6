"""Matrix multiplication: BLAS for real work, and a hand-written loop to learn from and to measure.

Why BLAS wins: C = A B with A (M, K), B (K, N) does 2 M N K flops on only M K + K N + M N
numbers, so a good kernel is limited by arithmetic, not memory. OpenBLAS gets there with
register tiles (a small block of C kept in registers while A and B stream past), cache
blocking (tiles of A and B sized to L1/L2), packed copies of the tiles, hand-written FMA
assembly and threads. ``matmul_loop`` below has none of that: it vectorises the inner
loop and nothing more, so it is several times slower than OpenBLAS from about 64 x 64 on.

How each backend multiplies:

* ``"numba"`` uses numpy's ``np.matmul`` (OpenBLAS) for the matmul op. numba's own
  ``np.dot`` inside ``@njit`` needs SciPy, which minigrad does not depend on (with SciPy
  installed it measured no faster than ``np.matmul`` -- the same BLAS routine -- and it
  loads a second OpenBLAS whose threads fight numpy's on 2 cores). For a standalone
  matmul a compiled call gains nothing, so the registry reports matmul as numpy's.
  Compiled code that needs a product *inside* a loop (the fused recurrent kernels, one
  product per time step) calls numpy's own OpenBLAS directly through ``loops/_blas.py``.
* ``"python"`` runs ``matmul_loop`` uncompiled: an interpreter cannot call BLAS "by hand",
  and the point of that backend is to show what the loop costs without a compiler.
* the benchmark harness times ``matmul_loop`` compiled against numpy's BLAS and against
  itself uncompiled.
"""
from ._jit import kernel


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
