"""Shape and movement ops: reshape, permute/transpose, expand/broadcast_to, squeeze,
unsqueeze, flatten, flip, pad. None of them changes a value, so each backward just
moves the gradient back to where the value came from.
"""
import numpy as np

from ..autograd import Function
from .common import normalize_axis, single_axis


def _shape_arg(shape):
    """Accept both f(2, 3) and f((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class Reshape(Function):
    """out = x with a new shape (same elements, row-major order);  dx = g reshaped back."""

    def forward(self, x, shape):
        self.saved = x.shape
        return self.k.reshape(x, shape)

    def backward(self, g):
        return self.k.reshape(g, self.saved)


def reshape(x, *shape):
    shape = _shape_arg(shape)
    known = int(np.prod([s for s in shape if s != -1]))
    if shape.count(-1) > 1 or (-1 not in shape and known != x.size) or (
            -1 in shape and (known == 0 or x.size % known)):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}")
    return Reshape.apply(x, shape=shape)


def flatten(x, start_axis=0, end_axis=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = start_axis % x.ndim, end_axis % x.ndim
    if s > e:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} for shape {x.shape}")
    return reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:])


def squeeze(x, axis=None):
    """Remove axes of size 1 (all of them, or the given one(s), which must have size 1)."""
    if axis is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    axes = normalize_axis("squeeze", axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, axis):
    """Insert an axis of size 1 at position ``axis`` (negative counts from the new end)."""
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for a tensor with {x.ndim} dimension(s)")
    axis = axis % (x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


class Permute(Function):
    """out = x with its axes reordered;  dx = g with the inverse order."""

    def forward(self, x, axes):
        self.saved = tuple(int(i) for i in np.argsort(axes))
        return self.k.transpose(x, axes)

    def backward(self, g):
        return self.k.transpose(g, self.saved)


def permute(x, *axes):
    axes = _shape_arg(axes)
    if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)) or len(axes) != x.ndim:
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} axes of a tensor of shape {x.shape}")
    return Permute.apply(x, axes=tuple(a % x.ndim for a in axes))


def transpose(x, axis0=-2, axis1=-1):
    """Swap two axes (the last two by default)."""
    if x.ndim < 2:
        return x
    a, b = single_axis("transpose", axis0, x.ndim), single_axis("transpose", axis1, x.ndim)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(x, axes=tuple(axes))


class BroadcastTo(Function):
    """out = x repeated (as a view) to a larger shape;  dx = g summed over the copies."""

    def forward(self, x, shape):
        self.saved = x.shape
        return self.k.broadcast_to(x, shape)

    def backward(self, g):
        return self.k.sum_to_shape(g, self.saved)


def broadcast_to(x, shape):
    shape = tuple(int(s) for s in shape)
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return BroadcastTo.apply(x, shape=shape)


def expand(x, *shape):
    """PyTorch-style broadcast_to where -1 keeps that dimension's size."""
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    return broadcast_to(x, tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape)))


class Flip(Function):
    """out = x reversed along axes;  dx = g reversed along the same axes."""

    def forward(self, x, axes):
        self.saved = axes
        return self.k.flip(x, axes)

    def backward(self, g):
        return self.k.flip(g, self.saved)


def flip(x, axis=None):
    axes = normalize_axis("flip", axis, x.ndim)
    return Flip.apply(x, axes=axes if axes is not None else tuple(range(x.ndim)))


class Pad(Function):
    """out = x surrounded by a constant;  dx = the middle of g (the padding gets nothing)."""

    def forward(self, x, widths, value):
        self.saved = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return self.k.pad(x, widths, value)

    def backward(self, g):
        return self.k.getitem(g, self.saved)


def pad(x, pad_width, value=0.0):
    """Constant padding, numpy-style: ``pad_width`` is n, (before, after), or one pair per axis."""
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {x.shape} "
                         "(give n, (before, after), or one (before, after) pair per axis)") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad widths must be >= 0, got {pad_width!r}")
    return Pad.apply(x, widths=tuple((int(a), int(b)) for a, b in widths), value=value)
