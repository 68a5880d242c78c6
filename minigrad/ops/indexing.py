"""Indexing: ``x[index]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks.

Backward scatters g back into a zero tensor of x's shape. With integer-array indices
the same element can be picked several times; its gradient is then the *sum* of the
picks' gradients, so those indices use a scatter-add rather than an assignment.
"""
import numpy as np

from ..autograd import Function
from ..tensor import Tensor


def _raw_part(part):
    if isinstance(part, Tensor):
        part = part.numpy()
    if isinstance(part, (list, np.ndarray)):
        arr = np.asarray(part)
        if arr.dtype.kind not in "iub":
            raise TypeError(f"getitem: index arrays must be integer or boolean, got dtype {arr.dtype}")
        return arr
    if isinstance(part, (float, np.floating)):
        raise TypeError(f"getitem: indices must be integers, slices, None, ... or integer/boolean arrays, got {part!r}")
    return part


def raw_index(index):
    """The index with tensors and lists turned into numpy arrays, and checked."""
    if isinstance(index, tuple):
        return tuple(_raw_part(p) for p in index)
    return _raw_part(index)


def _has_int_array(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    """out = x[index];  dx = zeros like x with g added at index (accumulating repeats)."""

    def forward(self, x, index):
        self.saved = (x.shape, x.dtype, index)
        return self.k.getitem(x, index)

    def backward(self, g):
        shape, dtype, index = self.saved
        return self.k.scatter_add(shape, index, g, dtype, _has_int_array(index))


def getitem(x, index):
    index = raw_index(index)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {x.shape}, index {index!r})") from None
