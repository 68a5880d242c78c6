"""The cython backend: kernels compiled from ``.pyx`` sources by ``setup.py``.

It overrides the kernels it has compiled versions of and takes every other kernel
from the numpy backend; ``available_backends()["cython"]["reuses"]`` lists those.
"""
import numpy as np

from .cython import elementwise as _ew  # ImportError here = extension not built: pip install -e .
from .numpy_backend import NumpyBackend


def _flat(a):
    """A C-contiguous 1-D view (a copy only if ``a`` is strided or broadcast)."""
    return np.ascontiguousarray(a).reshape(-1)


def _unary(kernel, x):
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"cython kernel {kernel.__name__}: expected float32 or float64, got {x.dtype}")
    out = np.empty(x.shape, dtype=x.dtype)
    kernel(_flat(x), out.reshape(-1))
    return out


def _binary(kernel, a, g):
    """Kernels of the form out = f(a, g) with a and g of one shape (saved value, upstream grad)."""
    dtype = np.result_type(a, g)
    a, g = np.broadcast_arrays(a.astype(dtype, copy=False), g.astype(dtype, copy=False))
    out = np.empty(a.shape, dtype=dtype)
    kernel(_flat(a), _flat(g), out.reshape(-1))
    return out


class CythonBackend(NumpyBackend):
    name = "cython"
    device = "cpu"
    description = "Cython kernels compiled by setup.py (typed memoryviews, nogil)"

    @staticmethod
    def tanh(x):
        return _unary(_ew.tanh_forward, x)

    @staticmethod
    def sigmoid(x):
        return _unary(_ew.sigmoid_forward, x)

    @staticmethod
    def tanh_backward(y, g):
        return _binary(_ew.tanh_backward, y, g)

    @staticmethod
    def sigmoid_backward(y, g):
        return _binary(_ew.sigmoid_backward, y, g)

    @staticmethod
    def relu_backward(x, g):
        return _binary(_ew.relu_backward, x, g)
