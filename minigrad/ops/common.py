"""Helpers shared by the ops: turning Python values into tensors, checking axes."""
import numpy as np

from ..dtypes import get_default_dtype, is_floating
from ..tensor import Tensor


def as_tensor(x, like):
    """``x`` as a Tensor on ``like``'s device; Python scalars take ``like``'s dtype.

    Under numpy's promotion rules a Python number is "weak": ``float32 * 2.0`` stays
    float32. Wrapping the number with the tensor's own dtype keeps that behaviour
    (an integer tensor times 0.5 still becomes floating point).
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)) and not isinstance(like, (bool, int, float)):
        dtype = like.dtype
        if isinstance(x, float) and not is_floating(dtype):
            dtype = get_default_dtype()
        return Tensor._wrap(like._k().asarray(x, dtype), False, like._device)
    if isinstance(like, Tensor):
        # Floating data joining a floating tensor takes its dtype: a float64 model's
        # constants (loss weights, numpy targets) must not be rounded through float32.
        dtype = like.dtype if is_floating(like.dtype) and np.asarray(x).dtype.kind == "f" else None
        return Tensor(x, dtype=dtype, device=like._device)
    return Tensor(x)


def pair(a, b):
    """Both operands of a binary op as tensors (at least one of them already is)."""
    if isinstance(a, Tensor):
        return a, as_tensor(b, a)
    return as_tensor(a, b), b


def normalize_axis(op, axis, ndim):
    """``axis`` (None, int or sequence) as None or a sorted tuple of non-negative ints."""
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a sequence of ints, got {axis!r}")
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int or a sequence of ints, got {axis!r}")
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def single_axis(op, axis, ndim):
    """``axis`` as one non-negative int; a tuple or float is an error, not silently truncated."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be a single int, got {axis!r}")
    return normalize_axis(op, axis, ndim)[0]


def check_reduction(op, reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def reduce_loss(losses, reduction):
    """Apply a loss ``reduction`` to a tensor of per-element losses."""
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses
