"""What every CUDA kernel file shares: allocation, strided indexing, the contiguous copy.

Arrays are ``CudaArray`` views of flat device buffers (``array.py``). A kernel that
reads an input of any layout takes its (buffer, offset, strides) and turns the flat
index of the element it computes into the input's offset with ``offset_of``; outputs
are always fresh C-contiguous arrays, written by flat index.
"""
import math

import numpy as np

from ._runtime import STATS, THREADS, BufferCache, blocks, load, track  # noqa: F401
from .array import CudaArray

cuda = load()
CACHE = BufferCache(cuda)


def empty(shape, dtype):
    """A new C-contiguous CudaArray (contents undefined), its buffer from the caching allocator."""
    shape = tuple(int(n) for n in shape)
    raw, buf = CACHE.take(math.prod(shape), dtype)
    out = CudaArray(buf, shape)
    track(out, raw, CACHE)
    return out


def upload(host, dtype=None):
    """A host value (array, list, scalar) as a new CudaArray: one host-to-device copy."""
    host = np.array(host, dtype=dtype, order="C", copy=None)  # (np.ascontiguousarray would make a 0-d array 1-d)
    out = empty(host.shape, host.dtype)
    if host.size:
        out.buf.copy_to_device(host.reshape(-1))
    STATS.to_device += 1
    STATS.to_device_bytes += host.nbytes
    return out


@cuda.jit(device=True)
def offset_of(i, shape, strides, base):
    """The buffer offset of the i-th element (C order over ``shape``) of a strided view."""
    off = base
    for d in range(len(shape) - 1, -1, -1):
        n = shape[d]
        off += (i % n) * strides[d]
        i //= n
    return off


@cuda.jit
def _strided_copy(src, src_off, src_strides, shape, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = src[offset_of(i, shape, src_strides, src_off)]


def launch(kernel, n, *args):
    """Run ``kernel`` with one thread per element of an n-element output (blocks of THREADS;
    a smaller output gets one block of just enough threads: the simulator pays per thread)."""
    if n >= THREADS:
        kernel[blocks(n), THREADS](*args)
    else:
        kernel[1, max(1, n)](*args)


def copy_to(x, dtype=None):
    """A new C-contiguous copy of any view x (converted to ``dtype`` if given)."""
    out = empty(x.shape, dtype or x.dtype)
    if out.size:
        buf, off, strides = x.kernel_args()
        launch(_strided_copy, out.size, buf, off, strides, x.flat_shape(), out.buf)
    return out


def contiguous(x):
    """x itself if it is C-contiguous, else a contiguous copy: for kernels that read flat."""
    return x if x.contiguous else copy_to(x)
