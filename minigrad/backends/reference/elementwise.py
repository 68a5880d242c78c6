"""Elementwise kernels: numpy's primitives, and the fused activations composed from them.

The first half is the numpy backend's required tier, one numpy call each. The second
half is the contract's *composed defaults* (``@default_for``): each fused kernel written
once with the required kernels of any backend ``k``. The numpy backend runs them as
they are; another backend runs them for every fused kernel it does not implement, on
its own arrays. Contract (shapes, NaN rules): ``backends/kernel_set.py``.
"""
import numpy as np

from ..kernel_set import default_for

_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
            "ge": np.greater_equal}


# ====================================================== required: numpy's own
def neg(x):
    return np.negative(x)


def exp(x):
    return np.exp(x)


def log(x):
    return np.log(x)


def sqrt(x):
    return np.sqrt(x)


def abs(x):
    return np.abs(x)


def tanh(x):
    return np.tanh(x)


def add(a, b):
    return np.add(a, b)


def sub(a, b):
    return np.subtract(a, b)


def mul(a, b):
    return np.multiply(a, b)


def div(a, b):
    return np.divide(a, b)


def pow(a, b):
    return np.power(a, b)


def maximum(a, b):
    return np.maximum(a, b)


def minimum(a, b):
    return np.minimum(a, b)


def compare(op, a, b):
    return _COMPARE[op](a, b)


def where(cond, a, b):
    return np.where(cond, a, b)


# ==================================================== fused: composed defaults
@default_for("sigmoid")
def _sigmoid(k, x):
    # sigma(x) = (1 if x >= 0 else e) / (1 + e) with e = e^{-|x|} <= 1: no overflow, and
    # full relative precision in the tail, where sigma(x) ~ e^x (the form 0.5 tanh(x/2)
    # + 0.5 would round everything below x ~ -17 in float32 to 0). Below the log of the
    # smallest normal number (-87.3 float32, -708.4 float64) e is 0, as in the compiled
    # loops, and exp never sees such an argument: it never underflows. A NaN x makes e NaN.
    lowest = float(np.log(np.finfo(x.dtype).tiny))
    a = k.neg(k.abs(x))
    e = k.where(k.compare("lt", a, lowest), 0, k.exp(k.maximum(a, lowest)))
    return k.div(k.where(k.compare("ge", x, 0), 1, e), k.add(e, 1))


@default_for("relu")
def _relu(k, x):
    return k.maximum(x, 0)  # maximum propagates NaN


@default_for("leaky_relu")
def _leaky_relu(k, x, slope):
    return k.where(k.compare("gt", x, 0), x, k.mul(x, slope))


@default_for("clip")
def _clip(k, x, lo, hi):
    if lo is not None:
        x = k.maximum(x, lo)
    if hi is not None:
        x = k.minimum(x, hi)
    return x


# Each backward takes what the forward saved plus the upstream gradient g.
@default_for("tanh_backward")
def _tanh_backward(k, y, g):
    return k.mul(g, k.sub(1, k.mul(y, y)))  # d tanh = 1 - tanh^2


@default_for("sigmoid_backward")
def _sigmoid_backward(k, y, g):
    return k.mul(k.mul(g, y), k.sub(1, y))  # d sigma = sigma (1 - sigma)


@default_for("relu_backward")
def _relu_backward(k, x, g):
    return k.where(k.compare("le", x, 0), 0, g)  # a Python 0 takes g's dtype


@default_for("leaky_relu_backward")
def _leaky_relu_backward(k, x, g, slope):
    return k.where(k.compare("gt", x, 0), g, k.mul(g, slope))


@default_for("clip_backward")
def _clip_backward(k, x, g, lo, hi):
    inside = None  # where lo <= x <= hi: a bool array (a NaN x is inside neither bound)
    if lo is not None:
        inside = k.compare("ge", x, lo)
    if hi is not None:
        below = k.compare("le", x, hi)
        inside = below if inside is None else k.where(inside, below, False)
    return g if inside is None else k.where(inside, g, 0)


@default_for("abs_backward")
def _abs_backward(k, x, g):
    return k.where(k.compare("gt", x, 0), g, k.where(k.compare("lt", x, 0), k.neg(g), 0))


@default_for("sqrt_backward")
def _sqrt_backward(k, y, g):
    return k.div(g, k.mul(y, 2))  # d sqrt(x) = 1 / (2 sqrt(x))
