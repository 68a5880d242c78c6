"""Array plumbing on the GPU: transfers, allocation, views, copies, indexing.

Views cost nothing: transpose, reshape of a contiguous array, basic slicing, broadcast,
flip only compute a new (shape, strides, offset) over the same buffer (``array.py``).
Index arguments are host values (``kernel_set.py``): basic indices are applied to the
view's numbers on the host; integer and boolean index arrays become the flat positions
they select, computed on the host and sent once, then gathered or scattered on the device.
"""
import math

import numpy as np

from . import _runtime
from ._device import contiguous, copy_to, cuda, empty, launch, offset_of, upload
from .array import CudaArray, c_strides
from .elementwise import _broadcast, _fill, _scalar_array


# ------------------------------------------------------------------ kernels
@cuda.jit
def _gather(src, src_off, src_strides, src_shape, positions, out):
    """out[i] = the element at flat position positions[i] (C order over src_shape) of a strided view."""
    i = cuda.grid(1)
    if i < out.size:
        out[i] = src[offset_of(positions[i], src_shape, src_strides, src_off)]


@cuda.jit
def _scatter_set(dst, dst_off, dst_strides, dst_shape, positions, v, v_off, v_strides, v_shape):
    """dst[position i] = v[i] (v read with broadcast strides over v_shape)."""
    i = cuda.grid(1)
    if i < positions.size:
        dst[offset_of(positions[i], dst_shape, dst_strides, dst_off)] = v[offset_of(i, v_shape, v_strides, v_off)]


@cuda.jit
def _strided_write(dst, dst_off, dst_strides, shape, v, v_off, v_strides):
    """dst_view[...] = v: every element of a strided view of dst from v (broadcast strides)."""
    i = cuda.grid(1)
    n = 1
    for d in range(len(shape)):
        n *= shape[d]
    if i < n:
        dst[offset_of(i, shape, dst_strides, dst_off)] = v[offset_of(i, shape, v_strides, v_off)]


@cuda.jit
def _iota(out, start, step):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = start + i * step


# ---------------------------------------------------------- index plumbing
def _is_advanced(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


def _view_of(x, index):
    """x[index] for a basic index (ints, slices, None, Ellipsis), as a view: numpy computes the
    shape, strides and offset on a stand-in array that has x's layout and no memory behind it."""
    item = x.itemsize
    stand_in = np.lib.stride_tricks.as_strided(np.zeros(1, x.dtype), x.shape, [s * item for s in x.strides])
    index = index if isinstance(index, tuple) else (index,)
    if not any(p is Ellipsis for p in index):
        index = index + (Ellipsis,)  # a full integer index then gives a 0-d view, never a read of the element
    v = stand_in[index]
    start = v.__array_interface__["data"][0] - stand_in.__array_interface__["data"][0]
    return x.view(v.shape, [s // item for s in v.strides], x.offset + start // item)


def _positions(shape, index):
    """The flat positions (C order over ``shape``) an advanced index selects, in the result's
    order, with the result's shape: computed on the host from the index alone."""
    grid = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
    return np.ascontiguousarray(grid[index])


def _shape_args(x):
    buf, off, strides = x.kernel_args()
    return buf, off, strides, x.flat_shape()


# ============================================================= required kernels
def asarray(data, dtype):
    return upload(data, dtype)


def ensure_array(a):
    return a


def to_numpy(a):
    a = contiguous(a)
    host = np.empty(a.shape, a.dtype)
    if a.size:
        a.buf[a.offset:a.offset + a.size].copy_to_host(host.reshape(-1))
    _runtime.STATS.to_host += 1
    _runtime.STATS.to_host_bytes += host.nbytes
    return host


def zeros(shape, dtype):
    return full(shape, 0, dtype)


def full(shape, value, dtype):
    out = empty(shape if isinstance(shape, tuple) else (shape,), dtype)
    launch(_fill, out.size, out.buf, np.dtype(dtype).type(value))
    return out


def arange(start, stop, step, dtype):
    n = max(0, math.ceil((stop - start) / step))
    out = empty((n,), dtype)
    launch(_iota, n, out.buf, np.dtype(dtype).type(start), np.dtype(dtype).type(step))
    return out


def eye(n, m, dtype):
    return upload(np.eye(n, m, dtype=dtype))  # made once per model, if ever: not worth a kernel


def astype(a, dtype):
    return a if a.dtype == np.dtype(dtype) else copy_to(a, dtype)


def copy(a):
    return copy_to(a)


def owns(a):
    return a.base is None and a.contiguous and a.offset == 0


def reshape(x, shape):
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        shape = tuple(x.size // known if n == -1 and known else (0 if n == -1 else n) for n in shape)
    if math.prod(shape) != x.size:
        raise ValueError(f"cannot reshape array of size {x.size} into shape {shape}")
    x = contiguous(x)
    return x.view(shape, c_strides(shape), x.offset)


def transpose(x, axes):
    axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
    return x.view([x.shape[a] for a in axes], [x.strides[a] for a in axes], x.offset)


def broadcast_to(x, shape):
    shape = tuple(shape)
    np.broadcast_shapes(x.shape, shape)  # numpy's error when it cannot
    if np.broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"cannot broadcast an array of shape {x.shape} to {shape}")
    _, off, strides = _broadcast(x, shape or (1,))
    return x.view(shape, strides[:len(shape)], off)


def flip(x, axes):
    axes = range(x.ndim) if axes is None else [a % x.ndim for a in (axes if isinstance(axes, tuple) else (axes,))]
    strides, off = list(x.strides), x.offset
    for a in axes:
        if x.shape[a]:
            off += (x.shape[a] - 1) * strides[a]
        strides[a] = -strides[a]
    return x.view(x.shape, strides, off)


def pad(x, widths, value):
    shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths))
    out = full(shape, value, x.dtype)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, widths))
    setitem(out, inner, x)
    return out


def concatenate(xs, axis):
    axis = axis % xs[0].ndim
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    out = empty(shape, np.result_type(*[np.empty(0, x.dtype) for x in xs]))
    start = 0
    for x in xs:
        index = (slice(None),) * axis + (slice(start, start + x.shape[axis]),)
        setitem(out, index, x)
        start += x.shape[axis]
    return out


def stack(xs, axis):
    axis = axis % (xs[0].ndim + 1)
    return concatenate([x.view(x.shape[:axis] + (1,) + x.shape[axis:],
                               x.strides[:axis] + (0,) + x.strides[axis:], x.offset) for x in xs], axis)


def getitem(x, index):
    if not _is_advanced(index):
        return _view_of(x, index)
    positions = _positions(x.shape, index)
    out = empty(positions.shape, x.dtype)
    if out.size:
        launch(_gather, out.size, *_shape_args(x), upload(positions.reshape(-1)).buf, out.buf)
    return out


def setitem(x, index, value):
    if isinstance(value, (bool, int, float, np.generic)):
        value = _scalar_array(value, x.dtype)
    if not _is_advanced(index):
        target = _view_of(x, index)
        if target.size:
            loop = target.flat_shape()
            _, v_off, v_strides = _broadcast(value, loop)
            t_buf, t_off, t_strides = target.kernel_args()
            launch(_strided_write, target.size, t_buf, t_off, t_strides, loop, value.buf, v_off, v_strides)
        return
    positions = _positions(x.shape, index)
    if positions.size:
        loop = positions.shape or (1,)
        launch(_scatter_set, positions.size, *_shape_args(x), upload(positions.reshape(-1)).buf,
               *_broadcast(value, loop), loop)
