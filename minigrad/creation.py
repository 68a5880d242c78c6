"""Making tensors: from data, filled, ranges, identity, random."""
import numpy as np

from . import backends
from .dtypes import get_default_dtype, infer_dtype
from .random import generator
from .tensor import Tensor


def _shape(shape):
    """Accept zeros(2, 3) and zeros((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return shape


def _make(array_fn, dtype, requires_grad, device):
    t = Tensor._wrap(array_fn(backends.for_device(device)), False, device)
    t._set_requires_grad(requires_grad)
    return t


def tensor(data, dtype=None, requires_grad=False, device="cpu"):
    """A new leaf tensor holding a copy of ``data``; float data becomes float32 unless ``dtype`` is given."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def zeros(*shape, dtype=None, requires_grad=False, device="cpu"):
    dtype = np.dtype(dtype or get_default_dtype())
    return _make(lambda k: k.zeros(_shape(shape), dtype), dtype, requires_grad, device)


def ones(*shape, dtype=None, requires_grad=False, device="cpu"):
    return full(_shape(shape), 1, dtype=dtype or get_default_dtype(), requires_grad=requires_grad, device=device)


def full(shape, fill_value, dtype=None, requires_grad=False, device="cpu"):
    shape = _shape((shape,) if isinstance(shape, (tuple, list)) else (shape,))
    dtype = np.dtype(dtype) if dtype is not None else infer_dtype(fill_value, None)
    return _make(lambda k: k.full(shape, fill_value, dtype), dtype, requires_grad, device)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, device="cpu"):
    """Values start, start+step, ... below stop (like range); ints give int64, floats float32."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = infer_dtype(np.asarray([start, stop, step]), None)
    return _make(lambda k: k.arange(start, stop, step, np.dtype(dtype)), dtype, requires_grad, device)


def eye(n, m=None, dtype=None, requires_grad=False, device="cpu"):
    dtype = np.dtype(dtype or get_default_dtype())
    return _make(lambda k: k.eye(n, m if m is not None else n, dtype), dtype, requires_grad, device)


def _from_host(array, dtype, requires_grad, device):
    return _make(lambda k: k.asarray(array, dtype), dtype, requires_grad, device)


def randn(*shape, dtype=None, requires_grad=False, device="cpu"):
    """Samples from N(0, 1), drawn from minigrad's seeded generator."""
    dtype = np.dtype(dtype or get_default_dtype())
    return _from_host(generator().standard_normal(_shape(shape)), dtype, requires_grad, device)


def rand(*shape, dtype=None, requires_grad=False, device="cpu"):
    """Samples from U[0, 1)."""
    dtype = np.dtype(dtype or get_default_dtype())
    return _from_host(generator().random(_shape(shape)), dtype, requires_grad, device)


def randint(low, high, shape, dtype=np.int64, device="cpu"):
    """Integers drawn uniformly from [low, high)."""
    return _from_host(generator().integers(low, high, size=_shape((shape,) if isinstance(shape, int) else shape)),
                      np.dtype(dtype), False, device)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)
