"""Array helpers of the loop wrappers: every input made into what a loop can index blindly.

Loop kernels see flat, C-contiguous 1-D arrays (or 2-D/3-D blocks) of one float dtype,
and compiled loops check no bounds. These helpers produce that form, copying only
when an input is strided, broadcast or of another dtype. They run once per kernel
call, so they avoid numpy's slow conveniences on small inputs (``np.prod`` of a shape
tuple ~4 us, ``np.broadcast_to`` ~4 us) where a fast path exists.
"""
import numpy as np


def is_float(*arrays):
    """True if every array is float32 or float64: the dtypes the loops are compiled for."""
    for a in arrays:  # a loop, not all(generator): this runs on every kernel call
        if a.dtype.char not in "fd":
            return False
    return True


def floats_only(op, x):
    """Raise the contract's error for a float-only kernel given another dtype."""
    if x.dtype.char not in "fd":
        raise TypeError(f"{op}: expected float32 or float64, got {x.dtype} (ops cast integer tensors first)")


def flat(a):
    """``a`` as a C-contiguous 1-D array (a view when it already is contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


def dense(a, shape, dtype):
    """``a`` broadcast to ``shape`` as a C-contiguous array of ``dtype`` (no copy if it already is one)."""
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    if a.dtype != dtype or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=dtype)
    return a


def int64(indices):
    """Indices as a flat C-contiguous int64 array (what the loops index with)."""
    return np.ascontiguousarray(indices, dtype=np.int64).reshape(-1)


def check_index(bad, op, index, size):
    """Raise IndexError if a loop returned the position ``bad`` >= 0 of an index out of range."""
    if bad >= 0:
        raise IndexError(f"{op}: index {int(np.asarray(index).reshape(-1)[bad])} is out of bounds "
                         f"for size {size}")
