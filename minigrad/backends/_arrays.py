"""Shape plumbing shared by the loop-kernel wrappers.

Loop kernels see flat, C-contiguous 1-D arrays (or 2-D (rows, cols) blocks), so they
index with one or two loop variables and never deal with strides or broadcasting.
These helpers turn arbitrary numpy inputs into that form, copying only when an input
is strided or broadcast.
"""
import numpy as np

SAME, ROWS_B, ROWS_A, SCALAR_B, SCALAR_A, GENERAL = range(6)


def flat(a):
    """``a`` as a C-contiguous 1-D array (a view when it already is contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


def empty(shape, dtype):
    return np.empty(shape, dtype=dtype)


def broadcast_plan(a, b):
    """How to loop over a (op) b with numpy broadcasting, without copying the common cases.

    Returns (mode, shape): SAME (equal shapes), SCALAR_B/SCALAR_A (one side has one
    element), ROWS_B/ROWS_A (one side is a trailing block of the other's shape, e.g. a
    bias (C,) added to (N, C): loop rows x cols), or GENERAL (anything else: both sides
    are materialised at the full shape).
    Raises ValueError, as numpy does, when the shapes cannot broadcast.
    """
    if a.shape == b.shape:
        return SAME, a.shape
    shape = np.broadcast_shapes(a.shape, b.shape)
    if b.size == 1:
        return SCALAR_B, shape
    if a.size == 1:
        return SCALAR_A, shape
    if a.shape == shape and _is_trailing_block(b.shape, shape):
        return ROWS_B, shape
    if b.shape == shape and _is_trailing_block(a.shape, shape):
        return ROWS_A, shape
    return GENERAL, shape


def _is_trailing_block(small, shape):
    """True if ``small`` (leading 1s ignored) equals the last dims of ``shape``."""
    s = list(small)
    while s and s[0] == 1:
        s.pop(0)
    return tuple(s) == tuple(shape[len(shape) - len(s):])


def materialise(a, shape):
    return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)


# The wrappers run once per op call, so they avoid the slow numpy conveniences on small
# inputs (np.prod of a shape tuple ~4 us, np.broadcast_to ~4 us): math.prod, fast paths.

def is_float(*arrays):
    return all(a.dtype.char in "fd" for a in arrays)  # float32 or float64


def dense(a, shape, dtype):
    """``a`` broadcast to ``shape`` as a C-contiguous array of ``dtype`` (no copy if it already is one)."""
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    if a.dtype != dtype or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=dtype)
    return a


def int64(indices):
    return np.ascontiguousarray(indices, dtype=np.int64).reshape(-1)


def check_index(bad, op, index, size):
    """Raise IndexError if a loop returned the position ``bad`` >= 0 of an index out of range."""
    if bad >= 0:
        raise IndexError(f"{op}: index {int(np.asarray(index).reshape(-1)[bad])} is out of bounds "
                         f"for size {size}")
