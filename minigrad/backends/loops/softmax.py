"""Loop kernels for softmax and log-softmax, forward and backward.

Why loops win here:

* softmax and friends are *row* operations (max, sum of exponentials, normalise). numpy
  does each step as a separate pass over the whole array with a temporary in between;
  the loops below do all steps on one row while it sits in L1 cache.
* ``exp`` is the other half of the cost. numba's LLVM has no SVML vector math library,
  so ``math.exp`` in a loop is a scalar libm call (numpy's float64 ``np.exp`` measured no
  faster here: ~6 ns per element). ``_exp_poly`` (``_scalar.py``) is the classic Cephes
  algorithm written with multiply-adds, one division and a bit trick, so LLVM vectorises
  it (~1 ns per element, float32 or float64 input).

Layout convention: a "rows" loop sees a C-contiguous (R, C) array and reduces over C;
a "cols" loop sees (O, C, I) and reduces over the middle axis, with the innermost
(contiguous, length I) axis as the vectorised one. The wrappers reshape any input
into one of the two without copying when it is already contiguous, so softmax over
``axis=0`` needs no transpose.
"""
import math

import numpy as np

from .. import _arrays as A
from . import kernel
from ._scalar import _exp_poly


# ------------------------------------------------------------ softmax family
@kernel
def softmax_rows_loop(x, out, log):
    """Softmax (log=False) or log-softmax (log=True) of each row of x (R, C), into out (R, C).

    softmax:     y = e^{x - m} / sum e^{x - m},   m = max of the row (so exp never overflows)
    log-softmax: y = (x - m) - log sum e^{x - m}  (in this order: x - m is exact, which keeps
                 full relative precision even for logits like 1e4)
    """
    rows, cols = x.shape
    for r in range(rows):
        m = x[r, 0]
        for c in range(1, cols):
            m = max(m, x[r, c])
        s = 0.0
        if log:
            for c in range(cols):
                s += _exp_poly(x[r, c] - m)
            ls = math.log(s)
            for c in range(cols):
                out[r, c] = (x[r, c] - m) - ls
        else:
            for c in range(cols):
                e = _exp_poly(x[r, c] - m)
                out[r, c] = e
                s += e
            inv = 1.0 / s
            for c in range(cols):
                out[r, c] *= inv


@kernel
def softmax_cols_loop(x, out, log):
    """Softmax / log-softmax over the middle axis of x (O, C, I), into out (O, C, I).

    The same equations as ``softmax_rows_loop``, for a reduced axis that is not the last:
    for each o the I columns are processed together, keeping a running max and sum per
    column, so the innermost loop runs over contiguous memory and vectorises.

    The running max goes back and forth between two buffers (``m`` and ``spare``): updated
    in place, "m[i] = max(m[i], x)" compiles to a masked store (write only where x is
    larger), which AMD CPUs execute very slowly; into the other buffer it is a plain
    store, 6x faster.
    """
    outer, cols, inner = x.shape
    m = np.empty(inner, dtype=x.dtype)
    spare = np.empty(inner, dtype=x.dtype)
    s = np.empty(inner, dtype=np.float64)
    for o in range(outer):
        for i in range(inner):
            m[i] = x[o, 0, i]
            s[i] = 0.0
        for c in range(1, cols):
            for i in range(inner):
                spare[i] = max(m[i], x[o, c, i])
            m, spare = spare, m
        if log:
            for c in range(cols):
                for i in range(inner):
                    s[i] += _exp_poly(x[o, c, i] - m[i])
            for i in range(inner):
                s[i] = math.log(s[i])
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] = (x[o, c, i] - m[i]) - s[i]
        else:
            for c in range(cols):
                for i in range(inner):
                    e = _exp_poly(x[o, c, i] - m[i])
                    out[o, c, i] = e
                    s[i] += e
            for i in range(inner):
                s[i] = 1.0 / s[i]
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] *= s[i]


@kernel
def softmax_backward_rows_loop(y, g, out, log):
    """Backward of softmax / log-softmax over each row of (R, C) arrays.

    softmax (y = softmax(x)):       dx = y * (g - sum(g * y))
    log-softmax (y = log_softmax):  dx = g - e^y * sum(g)
    """
    rows, cols = y.shape
    for r in range(rows):
        s = 0.0
        if log:
            for c in range(cols):
                s += g[r, c]
            for c in range(cols):
                out[r, c] = g[r, c] - _exp_poly(y[r, c]) * s
        else:
            for c in range(cols):
                s += g[r, c] * y[r, c]
            for c in range(cols):
                out[r, c] = y[r, c] * (g[r, c] - s)


@kernel
def softmax_backward_cols_loop(y, g, out, log):
    """``softmax_backward_rows_loop`` for a reduced middle axis of (O, C, I) arrays."""
    outer, cols, inner = y.shape
    s = np.empty(inner, dtype=np.float64)
    for o in range(outer):
        for i in range(inner):
            s[i] = 0.0
        if log:
            for c in range(cols):
                for i in range(inner):
                    s[i] += g[o, c, i]
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] = g[o, c, i] - _exp_poly(y[o, c, i]) * s[i]
        else:
            for c in range(cols):
                for i in range(inner):
                    s[i] += g[o, c, i] * y[o, c, i]
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] = y[o, c, i] * (g[o, c, i] - s[i])


# --------------------------------------------------------------- wrappers
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


def _softmax(loops, x, axis, log):
    outer, c, inner = _three_d(x.shape, axis)
    out = np.empty(x.shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)
    if inner == 1:
        loops.softmax_rows_loop(x.reshape(outer, c), out.reshape(outer, c), log)
    else:
        loops.softmax_cols_loop(x.reshape(outer, c, inner), out.reshape(outer, c, inner), log)
    return out


def _softmax_backward(loops, y, g, axis, log):
    outer, c, inner = _three_d(y.shape, axis)
    g = A.dense(g, y.shape, y.dtype)
    y = np.ascontiguousarray(y)
    out = np.empty(y.shape, dtype=y.dtype)
    if inner == 1:
        loops.softmax_backward_rows_loop(y.reshape(outer, c), g.reshape(outer, c), out.reshape(outer, c), log)
    else:
        shape = (outer, c, inner)
        loops.softmax_backward_cols_loop(y.reshape(shape), g.reshape(shape), out.reshape(shape), log)
    return out


class SoftmaxKernels:
    """Kernel-set entries implemented with the softmax loops (``cls.loops`` picks compiled or interpreted).

    Anything the loops do not cover (integer dtypes, exotic axes) goes to the numpy
    reference through ``super()``, so semantics never change.
    """

    @classmethod
    def softmax(cls, x, axis):
        ax = _single_axis(axis, x.ndim)
        if ax is False or not A.is_float(x) or x.size == 0:
            return super().softmax(x, axis)
        return _softmax(cls.loops, x, ax, False)

    @classmethod
    def log_softmax(cls, x, axis):
        ax = _single_axis(axis, x.ndim)
        if ax is False or not A.is_float(x) or x.size == 0:
            return super().log_softmax(x, axis)
        return _softmax(cls.loops, x, ax, True)

    @classmethod
    def softmax_backward(cls, y, g, axis):
        ax = _single_axis(axis, y.ndim)
        if ax is False or not A.is_float(y) or g.dtype != y.dtype or y.size == 0:
            return super().softmax_backward(y, g, axis)
        return _softmax_backward(cls.loops, y, g, ax, False)

    @classmethod
    def log_softmax_backward(cls, y, g, axis):
        ax = _single_axis(axis, y.ndim)
        if ax is False or not A.is_float(y) or g.dtype != y.dtype or y.size == 0:
            return super().log_softmax_backward(y, g, axis)
        return _softmax_backward(cls.loops, y, g, ax, True)
