"""Array plumbing of the numpy backend: allocation, copies, views, indexing.

Every CPU backend holds numpy arrays, so every CPU backend takes these kernels from
here (``backend.origin`` says "numpy" for them). Contract: ``kernel_set.py``.
"""
import numpy as np


def asarray(data, dtype):
    return np.array(data, dtype=dtype, copy=True)


def ensure_array(a):
    return np.asarray(a)


def to_numpy(a):
    return a


def zeros(shape, dtype):
    return np.zeros(shape, dtype=dtype)


def full(shape, value, dtype):
    return np.full(shape, value, dtype=dtype)


def arange(start, stop, step, dtype):
    return np.arange(start, stop, step, dtype=dtype)


def eye(n, m, dtype):
    return np.eye(n, m, dtype=dtype)


def astype(a, dtype):
    return a.astype(dtype, copy=False)


def copy(a):
    return np.array(a, copy=True)


def owns(a):
    return a.base is None and a.flags.writeable


def reshape(x, shape):
    return np.reshape(x, shape)


def transpose(x, axes):
    return np.transpose(x, axes)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def flip(x, axes):
    return np.flip(x, axes)


def pad(x, widths, value):
    return np.pad(x, widths, mode="constant", constant_values=value)


def concatenate(xs, axis):
    return np.concatenate(xs, axis=axis)


def stack(xs, axis):
    return np.stack(xs, axis=axis)


def getitem(x, index):
    return x[index]


def setitem(x, index, value):
    x[index] = value
