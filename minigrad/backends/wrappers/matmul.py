"""Matrix products of the loop backends: the hand-written loop with numpy's ``@`` semantics.

numba and Cython multiply on their own threads (numba's, OpenMP's), one single-threaded
OpenBLAS call per thread (``threaded_matmul`` below; ``loops/matmul.py`` says why); the python backend, which
cannot call BLAS from an interpreted loop, multiplies with ``matmul_loop`` run
uncompiled (``interpreted_matmul``). Both also offer ``matmul_loop(a, b)`` outside the contract, for the
benchmarks that time the loop against BLAS (``loops/matmul.py`` says why BLAS wins).
"""
import numpy as np

from .. import _blas_lib
from ._recurrent_plan import loop_threads

# Products of fewer multiply-adds (M * K * N) run as one call on the calling thread: below
# this, starting the other threads costs more than it saves.
SPLIT_MIN_WORK = 1 << 18


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
    """``a @ b`` (numpy semantics, float or integer) computed by the 2-D ``loop``."""
    return _batched(loop, np.asarray(a), np.asarray(b))


def interpreted_matmul(L, a, b):
    """The python backend's ``matmul``: the hand loop, interpreted (it cannot call BLAS)."""
    if np.result_type(a, b).kind not in "iuf" or a.ndim == 0 or b.ndim == 0:
        return np.matmul(a, b)  # complex, bool, object, 0-d: numpy's rules (and its error message)
    return loop_matmul(L["d"].matmul_loop, a, b)


def _blas_operand(x):
    """(x or its transpose, transposed?) as a block BLAS can read (contiguous rows); a copy if neither."""
    item = x.itemsize
    if x.strides[1] == item and x.strides[0] >= x.shape[1] * item:
        return x, False
    if x.strides[0] == item and x.strides[1] >= x.shape[0] * item:
        return x.T, True
    return np.ascontiguousarray(x), False


def threaded_matmul(L, a, b):
    """numba's and Cython's ``matmul``: float products of (..., M, K) @ (K, N) split across the
    loop set's threads (``loops.matmul_split``: numba's, or OpenMP's).

    Leading axes of a fold into M (one product instead of one per batch entry); a
    transposed operand is read as such (BLAS's transpose flag), not copied. Everything
    else -- integer or mixed dtypes, 1-D operands, a batched b -- is numpy's matmul.
    """
    a, b = np.asarray(a), np.asarray(b)
    if (a.dtype != b.dtype or a.dtype.char not in "fd" or a.ndim < 2 or b.ndim != 2
            or a.shape[-1] != b.shape[0] or 0 in a.shape or 0 in b.shape):
        return np.matmul(a, b)
    a2 = a if a.ndim == 2 else a.reshape(-1, a.shape[-1])
    m, k = a2.shape
    n = b.shape[1]
    out = np.empty((m, n), a.dtype)
    loops = L[a.dtype.char]
    threads = loop_threads(loops)
    pa, ta = _blas_operand(a2)
    pb, tb = _blas_operand(b)
    with _blas_lib.single_threaded():
        if threads > 1 and m * k * n >= SPLIT_MIN_WORK:
            loops.matmul_split(pa, pb, out, ta, tb, min(threads, max(m, n)))
        else:
            np.matmul(a2, b, out=out)
    return out.reshape(a.shape[:-1] + (n,))
