"""nn kernels of the compiled CPU backends: softmax, the class losses, scatter-add, dropout.

Each kernel checks and lays out its inputs for the loops (``loops/nn.py``,
``cython/nn.pyx``), allocates the outputs and raises IndexError for an index a loop
reported out of range. Anything the loops do not cover (integer dtypes, empty arrays,
other index forms, targets of the wrong kind or count) runs the numpy backend's
kernel, so semantics never change. ``L`` maps a dtype character to its loop set.
"""
import math

import numpy as np

from ..reference import BACKEND as NUMPY
from . import _arrays as A


# ------------------------------------------------------------ softmax family
def _three_d(shape, axis):
    """(outer, C, inner) sizes of ``shape`` around ``axis`` (None: everything is one row)."""
    if axis is None:
        return 1, math.prod(shape), 1
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _single_axis(axis, ndim):
    """An int axis in range, None for "all", or False when the loops do not handle it."""
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            return False
        axis = axis[0]
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        return False
    return axis % ndim


def _softmax(L, x, axis, log):
    outer, c, inner = _three_d(x.shape, axis)
    out = np.empty(x.shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)
    lp = L[x.dtype.char]
    if inner == 1:
        lp.softmax_rows_loop(x.reshape(outer, c), out.reshape(outer, c), log)
    else:
        lp.softmax_cols_loop(x.reshape(outer, c, inner), out.reshape(outer, c, inner), log)
    return out


def _softmax_backward(L, y, g, axis, log):
    outer, c, inner = _three_d(y.shape, axis)
    g = A.dense(g, y.shape, y.dtype)
    y = np.ascontiguousarray(y)
    out = np.empty(y.shape, dtype=y.dtype)
    lp = L[y.dtype.char]
    if inner == 1:
        lp.softmax_backward_rows_loop(y.reshape(outer, c), g.reshape(outer, c), out.reshape(outer, c), log)
    else:
        shape = (outer, c, inner)
        lp.softmax_backward_cols_loop(y.reshape(shape), g.reshape(shape), out.reshape(shape), log)
    return out


def softmax(L, x, axis):
    ax = _single_axis(axis, x.ndim)
    if ax is False or not A.is_float(x) or x.size == 0:
        return NUMPY.softmax(x, axis)
    return _softmax(L, x, ax, False)


def log_softmax(L, x, axis):
    ax = _single_axis(axis, x.ndim)
    if ax is False or not A.is_float(x) or x.size == 0:
        return NUMPY.log_softmax(x, axis)
    return _softmax(L, x, ax, True)


def softmax_backward(L, y, g, axis):
    ax = _single_axis(axis, y.ndim)
    if ax is False or not A.is_float(y) or g.dtype != y.dtype or y.size == 0:
        return NUMPY.softmax_backward(y, g, axis)
    return _softmax_backward(L, y, g, ax, False)


def log_softmax_backward(L, y, g, axis):
    ax = _single_axis(axis, y.ndim)
    if ax is False or not A.is_float(y) or g.dtype != y.dtype or y.size == 0:
        return NUMPY.log_softmax_backward(y, g, axis)
    return _softmax_backward(L, y, g, ax, True)


# --------------------------------------------------------------- class losses
def _targets(targets, n):
    """Targets as a flat int64 array of n entries, or None (wrong kind or count: numpy decides)."""
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu" or targets.size != n:
        return None
    return A.int64(targets)


def cross_entropy(L, logits, targets, ignore_index, label_smoothing):
    """logits (N, C), targets (N,) -> (losses (N,), log_probs (N, C))."""
    t = _targets(targets, logits.shape[0]) if logits.ndim == 2 else None
    if t is None or not A.is_float(logits) or logits.size == 0:
        return NUMPY.cross_entropy(logits, targets, ignore_index, label_smoothing)
    n, c = logits.shape
    losses = np.empty(n, dtype=logits.dtype)
    logp = np.empty((n, c), dtype=logits.dtype)
    bad = L[logits.dtype.char].cross_entropy_loop(np.ascontiguousarray(logits), t, int(ignore_index),
                                                  float(label_smoothing), losses, logp)
    A.check_index(bad, "cross_entropy", targets, c)
    return losses, logp


def cross_entropy_backward(L, logp, targets, g, ignore_index, label_smoothing):
    t = _targets(targets, logp.shape[0]) if logp.ndim == 2 else None
    if t is None or not A.is_float(logp) or logp.size == 0:
        return NUMPY.cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing)
    out = np.empty(logp.shape, dtype=logp.dtype)
    g = A.dense(g, (logp.shape[0],), logp.dtype)
    bad = L[logp.dtype.char].cross_entropy_backward_loop(np.ascontiguousarray(logp), t, g, int(ignore_index),
                                                         float(label_smoothing), out)
    A.check_index(bad, "cross_entropy_backward", targets, logp.shape[1])
    return out


def nll(L, logp, targets, ignore_index):
    t = _targets(targets, logp.shape[0]) if logp.ndim == 2 else None
    if t is None or not A.is_float(logp):
        return NUMPY.nll(logp, targets, ignore_index)
    out = np.empty(logp.shape[0], dtype=logp.dtype)
    bad = L[logp.dtype.char].nll_loop(np.ascontiguousarray(logp), t, int(ignore_index), out)
    A.check_index(bad, "nll", targets, logp.shape[1])
    return out


def nll_backward(L, shape, targets, g, ignore_index, dtype):
    dtype = np.dtype(dtype)
    t = _targets(targets, shape[0]) if len(shape) == 2 else None
    if t is None or dtype.char not in "fd":
        return NUMPY.nll_backward(shape, targets, g, ignore_index, dtype)
    out = np.zeros(shape, dtype=dtype)
    bad = L[dtype.char].nll_backward_loop(t, A.dense(g, (shape[0],), dtype), int(ignore_index), out)
    A.check_index(bad, "nll_backward", targets, shape[1])
    return out


def _same_shape_floats(*arrays):
    """The arrays broadcast to one shape, as flat C-contiguous arrays of their common float dtype."""
    first = arrays[0]
    if all(a.shape == first.shape and a.dtype == first.dtype for a in arrays):  # the usual case
        shape, dtype = first.shape, first.dtype
    else:
        shape, dtype = np.broadcast_shapes(*(a.shape for a in arrays)), np.result_type(*arrays)
    return shape, dtype, [A.dense(a, shape, dtype).reshape(-1) for a in arrays]


def bce_with_logits(L, x, y):
    if not A.is_float(x, y):
        return NUMPY.bce_with_logits(x, y)
    shape, dtype, (xf, yf) = _same_shape_floats(x, y)
    out = np.empty(shape, dtype=dtype)
    L[dtype.char].bce_with_logits_loop(xf, yf, out.reshape(-1))
    return out


def bce_with_logits_backward(L, x, y, g):
    if not A.is_float(x, y, g):
        return NUMPY.bce_with_logits_backward(x, y, g)
    shape, dtype, (xf, yf, gf) = _same_shape_floats(x, y, g)
    gx, gy = np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype)
    L[dtype.char].bce_with_logits_backward_loop(xf, yf, gf, gx.reshape(-1), gy.reshape(-1))
    return gx, gy


# --------------------------------------------------------------- scatter-add
def embedding_backward(L, indices, g, num_embeddings, padding_idx):
    """Scatter-add rows of g (*indices.shape, D) into a (V, D) zero matrix; padding row stays 0."""
    indices = np.asarray(indices)
    v, d = num_embeddings, (g.shape[-1] if g.ndim else 0)
    if (indices.dtype.kind not in "iu" or not A.is_float(g) or g.size == 0 or v == 0
            or g.shape != indices.shape + (d,) or (padding_idx is not None and not -v <= padding_idx < v)):
        return NUMPY.embedding_backward(indices, g, num_embeddings, padding_idx)
    out = np.zeros((num_embeddings, d), dtype=g.dtype)
    skip = -1 if padding_idx is None else padding_idx % num_embeddings  # numpy's out[-1] is the last row
    bad = L[g.dtype.char].scatter_add_rows_loop(A.int64(indices), np.ascontiguousarray(g).reshape(-1, d), out, skip)
    A.check_index(bad, "embedding_backward", indices, num_embeddings)
    return out


def scatter_add(L, shape, index, g, dtype, accumulate):
    """Backward of getitem. The loop handles the common case ``x[int_array]`` (rows of axis 0)
    with accumulation; every other index form keeps numpy's exact semantics."""
    idx = index[0] if isinstance(index, tuple) and len(index) == 1 else index
    dtype = np.dtype(dtype)
    row = math.prod(shape[1:])
    if not (accumulate and isinstance(idx, np.ndarray) and idx.dtype.kind in "iu" and len(shape) >= 1
            and dtype.char in "fd" and g.shape == idx.shape + tuple(shape[1:]) and row and idx.size):
        return NUMPY.scatter_add(shape, index, g, dtype, accumulate)
    out = np.zeros(shape, dtype=dtype)
    g2 = np.ascontiguousarray(g, dtype=dtype).reshape(-1, row)
    bad = L[dtype.char].scatter_add_rows_loop(A.int64(idx), g2, out.reshape(-1, row), -1)
    A.check_index(bad, "scatter_add", idx, shape[0])
    return out


# ------------------------------------------------------------------- dropout
def dropout_mask(L, shape, p, rng, dtype):
    """Inverted-dropout mask. The uniforms are drawn exactly as the numpy kernel draws them
    (``rng.random(shape)``, float64), so the same seed gives the same mask on every backend."""
    dtype = np.dtype(dtype)
    if dtype.char not in "fd":
        return NUMPY.dropout_mask(shape, p, rng, dtype)
    u = rng.random(shape)
    out = np.empty(u.shape, dtype=dtype)
    L[dtype.char].dropout_mask_loop(u.reshape(-1), float(p), dtype.type(1.0 / (1.0 - p)), out.reshape(-1))
    return out
