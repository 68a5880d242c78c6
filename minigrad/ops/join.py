"""Joining and splitting: cat, stack, split, chunk."""
from ..autograd import Function
from ..tensor import Tensor
from .common import single_axis
from .indexing import getitem


class Cat(Function):
    """out = inputs joined along axis;  d input_i = the slice of g it occupies."""

    def forward(self, *xs, axis):
        self.saved = (axis, [x.shape[axis] for x in xs])
        return self.k.concatenate(xs, axis)

    def backward(self, g):
        axis, sizes = self.saved
        lead = (slice(None),) * axis
        grads, start = [], 0
        for n, need in zip(sizes, self.needs_input_grad):
            grads.append(self.k.getitem(g, lead + (slice(start, start + n),)) if need else None)
            start += n
        return tuple(grads)


class Stack(Function):
    """out = inputs stacked along a new axis;  d input_i = g[..., i, ...]."""

    def forward(self, *xs, axis):
        self.saved = axis
        return self.k.stack(xs, axis)

    def backward(self, g):
        lead = (slice(None),) * self.saved
        return tuple(self.k.getitem(g, lead + (i,)) if need else None
                     for i, need in enumerate(self.needs_input_grad))


def _check_list(op, tensors):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected tensors, got {type(t).__name__}")
    return tensors


def cat(tensors, axis=0):
    tensors = _check_list("cat", tensors)
    first = tensors[0]
    ax = single_axis("cat", axis, first.ndim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != ax):
            raise ValueError(f"cat: shapes {[x.shape for x in tensors]} differ outside axis {ax}")
    return Cat.apply(*tensors, axis=ax)


def stack(tensors, axis=0):
    tensors = _check_list("stack", tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    ndim = tensors[0].ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack: axis {axis} is out of range for {ndim} output dimensions")
    return Stack.apply(*tensors, axis=axis % ndim)


def split(x, split_size_or_sections, axis=0):
    """Split along ``axis`` into pieces of size n (the last may be smaller) or of the given sizes."""
    ax = single_axis("split", axis, x.ndim)
    n = x.shape[ax]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, n - s) for s in range(0, n, split_size_or_sections)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {n} (axis {ax} of shape {x.shape})")
    lead = (slice(None),) * ax
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, lead + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(x, chunks, axis=0):
    """Split into ``chunks`` pieces of equal size (the last may be smaller), as torch.chunk."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[single_axis("chunk", axis, x.ndim)]
    return split(x, max(1, -(-n // chunks)), axis)
