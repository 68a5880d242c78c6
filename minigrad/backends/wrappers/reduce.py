"""Reductions of the compiled CPU backends: any (shape, axis) onto the loops' block shapes.

Every reduction loop runs on one of two C-contiguous block shapes, "rows" (P, N) or
"cols" (P, N, Q) (``loops/reduce.py``, ``cython/reduce.pyx``); ``_layout.py`` says how any
(x.shape, axis) pair becomes one of them, copying only when it must. Empty and 0-d
inputs have nothing to loop over: for them, and for integer dtypes, the numpy
backend's kernel runs, with numpy's results, errors and warnings. ``L`` maps a dtype
character to its loop set (``wrappers/elementwise.py``).
"""
import math

import numpy as np

from ..reference import BACKEND as NUMPY
from ._layout import (broadcast_axes, flat_any_order, memory_order, plan, reduced_blocks, run_backward,
                      run_forward, unpermute)


def _loopable(x):
    """True if the loops handle x: a non-empty float32/float64 array with at least one axis."""
    return x.dtype.char in "fd" and x.ndim > 0 and x.size > 0


def _count(x, axis):
    return x.size if axis is None else math.prod(x.shape[a] for a in axis)


# ------------------------------------------------------------ forward
def sum(L, x, axis, keepdims):
    if not _loopable(x):
        return np.asarray(NUMPY.sum(x, axis, keepdims))
    lp = L[x.dtype.char]
    return run_forward(lp.sum_rows_loop, lp.sum_cols_loop, x, axis, keepdims, 1)


def mean(L, x, axis, keepdims):
    if not _loopable(x):
        return np.asarray(NUMPY.mean(x, axis, keepdims))
    lp = L[x.dtype.char]
    return run_forward(lp.sum_rows_loop, lp.sum_cols_loop, x, axis, keepdims, _count(x, axis))


def max(L, x, axis, keepdims):
    if not _loopable(x):
        return np.asarray(NUMPY.max(x, axis, keepdims))
    lp = L[x.dtype.char]
    return run_forward(lp.max_rows_loop, lp.max_cols_loop, x, axis, keepdims)


def min(L, x, axis, keepdims):
    if not _loopable(x):
        return np.asarray(NUMPY.min(x, axis, keepdims))
    lp = L[x.dtype.char]
    return run_forward(lp.min_rows_loop, lp.min_cols_loop, x, axis, keepdims)


def var(L, x, axis, ddof, keepdims):
    if not _loopable(x) or _count(x, axis) - ddof <= 0:  # numpy's inf/nan and warning for no degrees of freedom
        return np.asarray(NUMPY.var(x, axis, ddof, keepdims))
    lp = L[x.dtype.char]
    return run_forward(lp.var_rows_loop, lp.var_cols_loop, x, axis, keepdims, ddof)


# ----------------------------------------------------------- backward
def sum_to_shape(L, g, shape):
    """Undo broadcasting: sum g (the broadcast shape) down to ``shape``."""
    if g.shape == shape:
        return g
    if not _loopable(g):
        return NUMPY.sum_to_shape(g, shape)
    return sum(L, g, broadcast_axes(g.shape, tuple(shape)), True).reshape(shape)


def expand_reduced(L, g, shape, axis, keepdims):
    """Backward of sum: g (the reduced shape) copied over the reduced axes of ``shape``."""
    g = np.asarray(g)
    shape = tuple(shape)
    pl = plan(shape, axis)
    if g.dtype.char not in "fd" or pl.P * pl.N * pl.Q == 0 or not shape:
        return NUMPY.expand_reduced(g, shape, axis, keepdims)
    lp = L[g.dtype.char]
    gb = reduced_blocks(g, pl, g.dtype)
    if pl.Q == 1:
        out = np.empty((pl.P, pl.N), dtype=g.dtype)
        lp.expand_rows_loop(gb, out)
    else:
        out = np.empty((pl.P, pl.N, pl.Q), dtype=g.dtype)
        lp.expand_cols_loop(gb, out)
    return unpermute(out, shape, pl)


def minmax_backward(L, x, y, g, axis, keepdims):
    """Backward of max/min: g shared equally by the elements of x that attain y."""
    if not _loopable(x):
        return NUMPY.minmax_backward(x, y, g, axis, keepdims)
    lp = L[x.dtype.char]
    pl = plan(x.shape, axis, memory_order(x))
    yb, gb = reduced_blocks(y, pl, x.dtype), reduced_blocks(g, pl, x.dtype)
    return run_backward(lp.minmax_backward_rows_loop, lp.minmax_backward_cols_loop, x, pl, yb, gb)


def var_backward(L, x, g, axis, ddof, keepdims):
    """d var / dx_i = 2 (x_i - mean) / (N - ddof), times g."""
    n = _count(x, axis)
    if not _loopable(x) or n - ddof <= 0:
        return NUMPY.var_backward(x, g, axis, ddof, keepdims)
    dtype = np.result_type(x, g)  # numpy's promotion, if g's dtype differs from x's
    x = x.astype(dtype, copy=False)
    lp = L[dtype.char]
    pl = plan(x.shape, axis, memory_order(x))
    gb = reduced_blocks(g, pl, dtype)
    return run_backward(lp.var_backward_rows_loop, lp.var_backward_cols_loop, x, pl, gb, 2.0 / (n - ddof))


# ------------------------------------------------------ whole-array checks
def any_nonfinite(L, x):
    if not _loopable(x):
        return NUMPY.any_nonfinite(x)
    return bool(L[x.dtype.char].any_nonfinite_loop(flat_any_order(x)))


def sumsq(L, x):
    """Sum of squares in float64, as a Python float (for gradient norms)."""
    if not _loopable(x):
        return NUMPY.sumsq(x)
    return float(L[x.dtype.char].sumsq_loop(flat_any_order(x)))
