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
import numpy as np

from . import kernel


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


def _batched(loop, a, b):
    """``a @ b`` with numpy's rules, built from the 2-D ``loop``.

    1-D operands become a row (1, K) / a column (K, 1) and that axis is dropped from the
    result; leading (batch) dimensions broadcast against each other.
    """
    dtype = np.result_type(a, b)
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:  # the common case, without the batch plumbing
        out = np.empty((a.shape[0], b.shape[1]), dtype=dtype)
        loop(np.ascontiguousarray(a, dtype=dtype), np.ascontiguousarray(b, dtype=dtype), out)
        return out
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                         f"({a2.shape[-1]} != {b2.shape[-2]})")
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    nb = int(np.prod(batch))  # explicit: reshape(-1, ...) cannot infer a size when some dim is 0
    a3 = np.ascontiguousarray(np.broadcast_to(a2, batch + (m, k)), dtype=dtype).reshape(nb, m, k)
    b3 = np.ascontiguousarray(np.broadcast_to(b2, batch + (k, n)), dtype=dtype).reshape(nb, k, n)
    out = np.empty(batch + (m, n), dtype=dtype)
    o3 = out.reshape(nb, m, n)
    for i in range(nb):
        loop(a3[i], b3[i], o3[i])
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


def loop_matmul(loop, a, b):
    """``a @ b`` (numpy semantics, float or integer) computed by ``loop`` (``matmul_loop`` or
    its py_func); for the benchmark harness and the python backend."""
    return _batched(loop, np.asarray(a), np.asarray(b))


class MatmulKernels:
    """Matmul entries shared by the loop backends. numba defines no ``matmul`` here, so
    its matmul is visibly numpy's BLAS call (see the module docstring); the python
    backend sets ``matmul = interpreted_matmul`` itself."""

    @classmethod
    def matmul_loop(cls, a, b):
        """``a @ b`` by the hand-written loop (compiled or not, as ``cls.loops`` is): for benchmarks."""
        return loop_matmul(cls.loops.matmul_loop, a, b)


def interpreted_matmul(cls, a, b):
    """matmul for a backend that cannot call BLAS: the hand loop, interpreted."""
    if np.result_type(a, b).kind not in "iuf" or a.ndim == 0 or b.ndim == 0:
        return np.matmul(a, b)  # complex, bool, object, 0-d: numpy's rules (and its error message)
    return loop_matmul(cls.loops.matmul_loop, a, b)
