"""Reductions: numpy's sum, max, min, argmax, argmin, and the fused reductions composed from them.

``axis`` is None or a sorted tuple of axes (``minigrad.ops.common.normalize_axis``);
argmax/argmin take one int or None. In backward, every element that fed a reduced
value receives that value's gradient, times its share (1/N for mean, its tie share for
max/min, 2(x - mean)/(N - ddof) for var). Contract: ``backends/kernel_set.py``.
"""
import math

import numpy as np

from ..kernel_set import default_for


# ====================================================== required: numpy's own
def sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def min(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def argmax(x, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims)


def argmin(x, axis, keepdims):
    return np.argmin(x, axis=axis, keepdims=keepdims)


# ==================================================== fused: composed defaults
def _count(shape, axis):
    """N: how many elements each reduced value summarises."""
    return math.prod(shape) if axis is None else math.prod(shape[a] for a in axis)


def _keep_shape(shape, axis):
    """The shape of a reduction over ``axis`` with keepdims=True."""
    return tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape))


def _kept(k, a, shape, axis, keepdims):
    """A reduced array (or gradient) with the reduced axes present, size 1, so that it broadcasts."""
    return a if keepdims else k.reshape(a, _keep_shape(shape, axis))


@default_for("mean")
def _mean(k, x, axis, keepdims):
    return k.div(k.sum(x, axis, keepdims), _count(x.shape, axis))


@default_for("var")
def _var(k, x, axis, ddof, keepdims):
    # numpy's two passes: the mean, then the squared deviations from it
    d = k.sub(x, k.mean(x, axis, True))
    n = _count(x.shape, axis)
    return k.div(k.sum(k.mul(d, d), axis, keepdims), n - ddof if n > ddof else 0)


@default_for("sum_to_shape")
def _sum_to_shape(k, g, shape):
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return k.reshape(k.sum(g, axes, True), shape)


@default_for("expand_reduced")
def _expand_reduced(k, g, shape, axis, keepdims):
    return k.copy(k.broadcast_to(_kept(k, g, shape, axis, keepdims), tuple(shape)))


@default_for("minmax_backward")
def _minmax_backward(k, x, y, g, axis, keepdims):
    y, g = _kept(k, y, x.shape, axis, keepdims), _kept(k, g, x.shape, axis, keepdims)
    hit = k.compare("eq", x, y)  # ties share the gradient; a NaN y equals nothing
    count = k.sum(k.astype(hit, x.dtype), axis, True)
    return k.where(hit, k.div(g, k.where(k.compare("eq", count, 0), 1, count)), 0)


@default_for("var_backward")
def _var_backward(k, x, g, axis, ddof, keepdims):
    g = _kept(k, g, x.shape, axis, keepdims)
    centered = k.sub(x, k.mean(x, axis, True))
    return k.mul(k.mul(g, centered), 2.0 / (_count(x.shape, axis) - ddof))


@default_for("any_nonfinite")
def _any_nonfinite(k, x):
    if x.dtype.kind != "f":
        return False  # integers and bools are always finite
    # x - x is 0 for every finite x and NaN for NaN or inf, and a sum holding a NaN is NaN:
    # one reduction, and one number copied back to the host
    return not bool(k.to_numpy(k.sum(k.sub(x, x), None, False)) == 0)


@default_for("sumsq")
def _sumsq(k, x):
    v = k.reshape(k.astype(x, np.float64), (-1,))
    return float(k.to_numpy(k.matmul(v, v)))  # a dot product: one pass, through BLAS on numpy
