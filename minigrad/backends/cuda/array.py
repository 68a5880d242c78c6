"""CudaArray: the CUDA backend's array, an N-d view of a 1-D device buffer.

A tensor on "cuda" holds one of these as its ``data``. It is numpy's layout written
down explicitly: ``shape``, ``strides`` (in elements, any sign, 0 for a broadcast axis)
and an ``offset`` into ``buf``, a flat numba device array. Views (transpose, reshape,
slices, broadcast, flip) are new CudaArrays on the same buffer; kernels read any of
them through (buffer, offset, strides) and write fresh C-contiguous arrays.

It is deliberately *not* array-like to numpy: ``np.asarray(x)`` or ``x + 1`` on one
raises, so no code can silently compute on the host with device data (on a real GPU
that would be a device-to-host copy per use). ``to_numpy`` is the one way back.
"""
import math

import numpy as np


def c_strides(shape):
    """Element strides of a C-contiguous array of ``shape``."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class CudaArray:
    __slots__ = ("buf", "shape", "strides", "offset", "dtype", "base", "__weakref__")
    __array_ufunc__ = None  # numpy ufuncs refuse it (binary operators return NotImplemented)

    def __init__(self, buf, shape, strides=None, offset=0, base=None):
        self.buf = buf
        self.shape = tuple(int(n) for n in shape)
        self.strides = c_strides(self.shape) if strides is None else tuple(int(s) for s in strides)
        self.offset = int(offset)
        self.dtype = np.dtype(buf.dtype)
        self.base = base  # the array this is a view of (None: it owns its buffer)

    # ------------------------------------------------------------ numpy's facts
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.itemsize

    @property
    def contiguous(self):
        """C-contiguous (strides of size-1 axes do not matter)."""
        return all(s == c or n == 1 for n, s, c in zip(self.shape, self.strides, c_strides(self.shape)))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d CUDA array")
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"a CUDA array {self.shape} {self.dtype} is not a host array: copy it with "
                        ".numpy() / .cpu() (Tensor) or the backend's to_numpy")

    def __repr__(self):
        return f"CudaArray(shape={self.shape}, dtype={self.dtype})"

    # ------------------------------------------------------------------- views
    def view(self, shape, strides, offset):
        return CudaArray(self.buf, shape, strides, offset, base=self if self.base is None else self.base)

    def kernel_args(self):
        """(buffer, offset, strides) for a kernel's strided read; a 0-d array is a 1-element 1-d one."""
        if not self.shape:
            return self.buf, self.offset, (1,)
        return self.buf, self.offset, self.strides

    def flat_shape(self):
        """The shape a kernel loops over: () becomes (1,)."""
        return self.shape or (1,)
