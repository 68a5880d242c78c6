"""Reductions on the GPU: sum, max, min, argmax, argmin over any axes.

Any (shape, axis) becomes one layout first: the kept axes are moved to the front and the
reduced ones to the back (a transposed view, copied once to be contiguous when it is
not already), so the input is P rows of N elements and each output is one row's result.
One thread block reduces one row: each thread walks the row with a stride of the block
size, keeping its own partial result, then the block combines the partials in shared
memory, halving the active threads each step (a tree: log2(threads) steps, not N).
On a GPU the last 32 partials are combined inside one warp with shuffles
(``shfl_down_sync``: a thread reads a register of the thread ``off`` lanes further on),
with no shared memory and no ``syncthreads``; the simulator has no shuffles and runs
the tree to the end.

max/min propagate NaN (NaN wins every comparison, as numpy's); argmax/argmin return the
first index of the extreme, and the first NaN if there is one (numpy's rule). Sums
accumulate in the result's dtype (numpy's: float32 stays float32, integers in int64);
the tree is a pairwise sum, as accurate as numpy's.
"""
import builtins
import functools
import math

import numpy as np
from numba import from_dtype, int32, int64

from ._device import contiguous, cuda, empty
from ._runtime import simulated
from .arrays import reshape, transpose

MAX_THREADS = 256  # per block; a row shorter than that uses fewer
WARP, ALL_LANES = 32, 0xFFFFFFFF
SHUFFLE = not simulated()  # warp shuffles on a GPU (a block has at least a warp of threads then)
SUM, MAX, MIN, ARGMAX, ARGMIN = range(5)


@functools.lru_cache(maxsize=None)
def _row_kernel(kind, acc_char):
    """The block-per-row reduction of ``kind`` with partial results of dtype ``acc_char``."""
    acc_t = from_dtype(np.dtype(acc_char))
    wants_max = kind in (MAX, ARGMAX)

    @cuda.jit(device=True)
    def better(v2, i2, v1, i1):
        """(v2, i2) replaces (v1, i1): NaN first, then the extreme, then the first index."""
        if v1 != v1:
            return v2 != v2 and i2 < i1
        if v2 != v2:
            return True
        if v2 == v1:
            return i2 < i1
        return v2 > v1 if wants_max else v2 < v1

    @cuda.jit
    def kernel(x, x_off, n, out, out_index):
        row, t, step = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        vals = cuda.shared.array(MAX_THREADS, acc_t)
        idxs = cuda.shared.array(MAX_THREADS, int64)
        have = cuda.shared.array(MAX_THREADS, int32)
        base = x_off + row * n
        acc = acc_t(0)
        best = int64(-1)
        for j in range(t, n, step):
            v = acc_t(x[base + j])
            if kind == SUM:
                acc += v
            elif best < 0 or better(v, j, acc, best):
                acc, best = v, j
        vals[t], idxs[t], have[t] = acc, best, 1 if (kind == SUM or best >= 0) else 0
        cuda.syncthreads()
        s = step // 2
        while s >= (WARP if SHUFFLE else 1):  # the tree, down to one warp's worth on a GPU
            if t < s and have[t + s]:
                if kind == SUM:
                    vals[t] += vals[t + s]
                elif not have[t] or better(vals[t + s], idxs[t + s], vals[t], idxs[t]):
                    vals[t], idxs[t], have[t] = vals[t + s], idxs[t + s], 1
            cuda.syncthreads()
            s //= 2
        if SHUFFLE and t < WARP:  # the last 32 partials, register to register within warp 0
            acc, best, h = vals[t], idxs[t], have[t]
            off = WARP // 2
            while off > 0:
                acc2 = cuda.shfl_down_sync(ALL_LANES, acc, off)
                best2 = cuda.shfl_down_sync(ALL_LANES, best, off)
                h2 = cuda.shfl_down_sync(ALL_LANES, h, off)
                if kind == SUM:
                    acc += acc2
                elif h2 and (not h or better(acc2, best2, acc, best)):
                    acc, best, h = acc2, best2, 1
                off //= 2
            vals[t], idxs[t] = acc, best  # lane 0 holds the row's result
        if t == 0:
            if kind == ARGMAX or kind == ARGMIN:
                out_index[row] = idxs[0]
            else:
                out[row] = vals[0]
    return kernel


def _threads(n):
    """The power of two at or above n, at most MAX_THREADS (the tree halves it each step);
    on a GPU at least a warp, so that all 32 lanes of the final shuffles exist."""
    t = builtins.min(MAX_THREADS, 1 << builtins.max(0, (n - 1).bit_length()))
    return builtins.max(t, WARP) if SHUFFLE else t


def _rows(x, axis):
    """x as contiguous (P, N) rows, N the reduced elements; and the kept shape."""
    axes = tuple(range(x.ndim)) if axis is None else tuple(axis)
    kept = [i for i in range(x.ndim) if i not in axes]
    x = contiguous(transpose(x, kept + list(axes)))
    p = math.prod(x.shape[i] for i in range(len(kept)))
    return x, p, (x.size // p if p else 0), tuple(x.shape[:len(kept)])


def _reduce(kind, x, axis, keepdims, result_dtype):
    if kind != SUM and x.size == 0:
        raise ValueError(f"zero-size array to reduction operation {('max', 'min', 'argmax', 'argmin')[kind - 1]} "
                         "which has no identity")
    rows, p, n, kept = _rows(x, axis)
    if kind in (ARGMAX, ARGMIN):
        out, index = empty((p,), np.int64), empty((p,), np.int64)
        acc = np.result_type(x.dtype, np.float32) if x.dtype.kind in "iub" else x.dtype
    else:
        out = index = empty((p,), result_dtype)
        acc = result_dtype
    if p:
        _row_kernel(kind, np.dtype(acc).char)[p, _threads(n)](rows.buf, rows.offset, n, out.buf, index.buf)
    result = index if kind in (ARGMAX, ARGMIN) else out
    if keepdims:
        axes = range(x.ndim) if axis is None else axis
        return reshape(result, tuple(1 if i in axes else m for i, m in enumerate(x.shape)))
    return reshape(result, kept)


def _axis_tuple(axis, ndim):
    return None if axis is None else (axis % ndim,)


# ============================================================= required kernels
def sum(x, axis, keepdims):
    return _reduce(SUM, x, axis, keepdims, np.sum(np.empty(0, x.dtype)).dtype)


def max(x, axis, keepdims):
    return _reduce(MAX, x, axis, keepdims, x.dtype)


def min(x, axis, keepdims):
    return _reduce(MIN, x, axis, keepdims, x.dtype)


def argmax(x, axis, keepdims):
    return _reduce(ARGMAX, x, _axis_tuple(axis, x.ndim), keepdims, np.int64)


def argmin(x, axis, keepdims):
    return _reduce(ARGMIN, x, _axis_tuple(axis, x.ndim), keepdims, np.int64)
