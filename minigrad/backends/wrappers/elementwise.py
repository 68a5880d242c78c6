"""Elementwise kernels of the compiled CPU backends: checks and allocation around the loops.

``L`` (the first argument of every kernel here, bound when a backend is assembled) maps
a dtype character ("f" float32, "d" float64) to the loop set compiled for it: numba's
loops for both (one dispatcher per loop), or Cython's float / double specialisations.
The loops see flat C-contiguous arrays (``loops/elementwise.py``, ``cython/elementwise.pyx``).

Integer input: relu, leaky_relu and clip keep numpy's semantics (the numpy backend's
kernel runs); the float-only kernels raise TypeError, as the contract says.
"""
import numpy as np

from ..reference import BACKEND as NUMPY
from . import _arrays as A


def _unary(L, op, x, *args):
    """Run loop ``<op>_loop(x_flat, *args, out_flat)`` and return out shaped like x."""
    out = np.empty(x.shape, dtype=x.dtype)
    getattr(L[x.dtype.char], op + "_loop")(A.flat(x), *args, out.reshape(-1))
    return out


def _saved_and_grad(L, op, saved, g, *args):
    """A backward kernel out = f(saved, g): g broadcast to saved's shape and cast to its dtype."""
    A.floats_only(op, saved)
    g = A.dense(g, saved.shape, saved.dtype)
    out = np.empty(saved.shape, dtype=saved.dtype)
    getattr(L[saved.dtype.char], op + "_loop")(A.flat(saved), g.reshape(-1), *args, out.reshape(-1))
    return out


def _bounds(x, lo, hi):
    """clip's bounds in x's dtype; None means unbounded."""
    t = x.dtype.type
    return t(-np.inf if lo is None else lo), t(np.inf if hi is None else hi)


# ----------------------------------------------------------- forward
def tanh(L, x):
    A.floats_only("tanh", x)
    return _unary(L, "tanh", x)


def sigmoid(L, x):
    A.floats_only("sigmoid", x)
    return _unary(L, "sigmoid", x)


def relu(L, x):
    return _unary(L, "relu", x) if x.dtype.char in "fd" else NUMPY.relu(x)


def leaky_relu(L, x, slope):
    return _unary(L, "leaky_relu", x, x.dtype.type(slope)) if x.dtype.char in "fd" else NUMPY.leaky_relu(x, slope)


def clip(L, x, lo, hi):
    return _unary(L, "clip", x, *_bounds(x, lo, hi)) if x.dtype.char in "fd" else NUMPY.clip(x, lo, hi)


# ---------------------------------------------------------- backward
def tanh_backward(L, y, g):
    return _saved_and_grad(L, "tanh_backward", y, g)


def sigmoid_backward(L, y, g):
    return _saved_and_grad(L, "sigmoid_backward", y, g)


def relu_backward(L, x, g):
    return _saved_and_grad(L, "relu_backward", x, g)


def leaky_relu_backward(L, x, g, slope):
    return _saved_and_grad(L, "leaky_relu_backward", x, g, x.dtype.type(slope))


def clip_backward(L, x, g, lo, hi):
    return _saved_and_grad(L, "clip_backward", x, g, *_bounds(x, lo, hi))


def abs_backward(L, x, g):
    return _saved_and_grad(L, "abs_backward", x, g)


def sqrt_backward(L, y, g):
    return _saved_and_grad(L, "sqrt_backward", y, g)
