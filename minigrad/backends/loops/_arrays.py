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
