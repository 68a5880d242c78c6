"""Matrix products of the loop backends: the hand-written loop with numpy's ``@`` semantics.

numba takes numpy's ``matmul`` (OpenBLAS); the python backend, which cannot call BLAS
from an interpreted loop, multiplies with ``matmul_loop`` run uncompiled (its own
``matmul`` below). Both also offer ``matmul_loop(a, b)`` outside the contract, for the
benchmarks that time the loop against BLAS (``loops/matmul.py`` says why BLAS wins).
"""
import numpy as np


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
