"""Scatter-add loop kernel: the backward of an embedding lookup and of ``x[int_array]``.

Why a loop wins here: scatter-add is a plain loop over rows, while ``np.add.at`` is a
general, unbuffered ufunc method and 5-30x slower.

Not here, on purpose: the embedding *forward* (a row gather, ``weight[indices]``). numpy's
fancy indexing already copies whole rows with memcpy and there is nothing to fuse; a loop
measured 0.8-0.9x numpy's speed on small batches, so the numba backend keeps numpy's.
"""
import math

import numpy as np

from .. import _arrays as A
from . import kernel


# ---------------------------------------------------- gather / scatter-add
@kernel
def scatter_add_rows_loop(idx, g, out, skip):
    """out[idx[k], :] += g[k, :] for g (K, D), out (V, D); repeated indices accumulate.

    Rows whose (wrapped) index equals ``skip`` are left out (an embedding's padding row;
    pass -1 for none). Negative indices count from the end, as in numpy. Returns -1, or
    the position of an index out of range.
    """
    n = out.shape[0]
    for k in range(idx.size):
        j = idx[k]
        if j < 0:
            j += n
        if j < 0 or j >= n:
            return k
        if j == skip:
            continue
        for d in range(g.shape[1]):
            out[j, d] += g[k, d]
    return -1


class GatherKernels:
    """Kernel-set entries implemented with the scatter-add loop (``cls.loops`` picks compiled or interpreted).

    Anything the loop does not cover (integer dtypes, other index forms) goes to the
    numpy reference through ``super()``, so semantics never change.
    """

    @classmethod
    def embedding_backward(cls, indices, g, num_embeddings, padding_idx):
        """Scatter-add rows of g (*indices.shape, D) into a (V, D) zero matrix; padding row stays 0."""
        indices = np.asarray(indices)
        v, d = num_embeddings, (g.shape[-1] if g.ndim else 0)
        if (indices.dtype.kind not in "iu" or not A.is_float(g) or g.size == 0 or v == 0
                or g.shape != indices.shape + (d,) or (padding_idx is not None and not -v <= padding_idx < v)):
            return super().embedding_backward(indices, g, num_embeddings, padding_idx)
        out = np.zeros((num_embeddings, d), dtype=g.dtype)
        skip = -1 if padding_idx is None else padding_idx % num_embeddings  # numpy's out[-1] is the last row
        bad = cls.loops.scatter_add_rows_loop(A.int64(indices), np.ascontiguousarray(g).reshape(-1, d), out, skip)
        A.check_index(bad, "embedding_backward", indices, num_embeddings)
        return out

    @classmethod
    def scatter_add(cls, shape, index, g, dtype, accumulate):
        """Backward of getitem. The loop handles the common case ``x[int_array]`` (rows of axis 0)
        with accumulation; every other index form keeps numpy's exact semantics."""
        idx = index[0] if isinstance(index, tuple) and len(index) == 1 else index
        dtype = np.dtype(dtype)
        if not (accumulate and isinstance(idx, np.ndarray) and idx.dtype.kind in "iu" and len(shape) >= 1
                and dtype.char in "fd" and g.shape == idx.shape + tuple(shape[1:])):
            return super().scatter_add(shape, index, g, dtype, accumulate)
        row = math.prod(shape[1:])
        if row == 0 or idx.size == 0:
            return super().scatter_add(shape, index, g, dtype, accumulate)
        out = np.zeros(shape, dtype=dtype)
        g2 = np.ascontiguousarray(g, dtype=dtype).reshape(-1, row)
        bad = cls.loops.scatter_add_rows_loop(A.int64(idx), g2, out.reshape(-1, row), -1)
        A.check_index(bad, "scatter_add", idx, shape[0])
        return out
