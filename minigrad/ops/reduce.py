"""Reductions over axes: sum, mean, max, min, var, argmax, argmin.

``axis`` is None (all axes), an int, or a tuple of ints; ``keepdims`` keeps the reduced
axes with size 1, as in numpy. In backward, every element that fed a reduced value
receives that value's gradient (times its share, for mean/max/min/var).
"""
from ..autograd import Function
from ..tensor import Tensor
from .common import normalize_axis, single_axis


class Sum(Function):
    """out = sum of x over axis;  dx = g broadcast back over the reduced axes."""

    def forward(self, x, axis, keepdims):
        self.saved = (x.shape, axis, keepdims)
        return self.k.sum(x, axis, keepdims)

    def backward(self, g):
        shape, axis, keepdims = self.saved
        return self.k.expand_reduced(g, shape, axis, keepdims)


class Mean(Function):
    """out = sum(x) / N over axis;  dx = g / N broadcast back."""

    def forward(self, x, axis, keepdims):
        n = x.size if axis is None else 1
        if axis is not None:
            for a in axis:
                n *= x.shape[a]
        self.saved = (x.shape, axis, keepdims, n)
        return self.k.mean(x, axis, keepdims)

    def backward(self, g):
        shape, axis, keepdims, n = self.saved
        return self.k.expand_reduced(self.k.div(g, n), shape, axis, keepdims)


class _MinMax(Function):
    """out = max (or min) over axis;  dx = g shared equally by the elements equal to out."""

    def forward(self, x, axis, keepdims):
        if x.size == 0:
            raise ValueError(f"{self.name.lower()}: cannot reduce an empty tensor of shape {x.shape}")
        y = self.kernel(x, axis, keepdims)
        self.saved = (x, y, axis, keepdims)
        return y

    def backward(self, g):
        x, y, axis, keepdims = self.saved
        return self.k.minmax_backward(x, y, g, axis, keepdims)


class Max(_MinMax):
    def kernel(self, x, axis, keepdims):
        return self.k.max(x, axis, keepdims)


class Min(_MinMax):
    def kernel(self, x, axis, keepdims):
        return self.k.min(x, axis, keepdims)


class Var(Function):
    """out = sum((x - mean)^2) / (N - ddof);  dx = g * 2 (x - mean) / (N - ddof)."""

    def forward(self, x, axis, ddof, keepdims):
        self.saved = (x, axis, ddof, keepdims)
        return self.k.var(x, axis, ddof, keepdims)

    def backward(self, g):
        x, axis, ddof, keepdims = self.saved
        return self.k.var_backward(x, g, axis, ddof, keepdims)


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axis=normalize_axis("sum", axis, x.ndim), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=normalize_axis("mean", axis, x.ndim), keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    return Max.apply(x, axis=normalize_axis("max", axis, x.ndim), keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    return Min.apply(x, axis=normalize_axis("min", axis, x.ndim), keepdims=keepdims)


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance; ``ddof=0`` (numpy's default) divides by N, ``ddof=1`` gives the unbiased estimate."""
    axis = normalize_axis("var", axis, x.ndim)
    n = x.size if axis is None else 1
    if axis is not None:
        for a in axis:
            n *= x.shape[a]
    if n - ddof <= 0:
        raise ValueError(f"var: {n} element(s) per reduction with ddof={ddof} leaves no degrees of freedom")
    return Var.apply(x, axis=axis, ddof=ddof, keepdims=keepdims)


def _arg(kernel, op, x, axis, keepdims):
    if axis is not None and not isinstance(axis, int):
        raise TypeError(f"{op}: axis must be None or a single int, got {axis!r}")
    if axis is not None:
        axis = single_axis(op, axis, x.ndim)
    return Tensor._wrap(getattr(x._k(), kernel)(x.data, axis, keepdims), False, x._device)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (over all elements when axis is None). No gradient."""
    return _arg("argmax", "argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg("argmin", "argmin", x, axis, keepdims)
