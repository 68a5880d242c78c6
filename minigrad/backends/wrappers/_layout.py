"""Layout of a reduction: how the reduction loops (``reduce.py``) see any (x.shape, axis).

Every reduction is run on one of two C-contiguous block shapes, so the loops never
deal with strides or axis lists:

* "rows" ``(P, N)``: the reduced axes are the trailing ones, each row of N elements
  gives one result (``x.sum(axis=-1)``, full reductions with P = 1);
* "cols" ``(P, N, Q)``: the reduced axes sit in the middle or at the front, and the
  loop adds whole rows of Q elements at a time into a (P, Q) result: a bias gradient
  ``g.sum(axis=0)`` on (B, C) is P = 1, N = B, Q = C, vectorised over C and never
  transposed.

``plan()`` finds which one an (x.shape, axis) pair is, without copying: it reads x in
the order it lies in memory (so x.T and Fortran-ordered arrays are free too), ignores
size-1 axes, and only a reduced axis set that is not one contiguous run in memory
(axis=(0, 2) of a 3-D array) needs a transposed copy that moves the reduced axes
last. Strided (sliced with steps) and broadcast inputs are copied once.

Everything here is plain Python run once per op call; no loop kernel lives here.
"""
import functools
import math
from typing import NamedTuple, Optional

import numpy as np


class Plan(NamedTuple):
    """How the loops see a reduction of an array of ``shape`` over ``axis``.

    The loops read ``x.transpose(order)`` (x itself when order is None) as a C-contiguous
    (P, N) block if Q == 1 ("rows") or (P, N, Q) ("cols"). They write the kept axes in
    that order too; ``kept_order`` (None: unchanged) maps them back: loop axis j is axis
    kept_order[j] of ``out_shape``. ``keep_shape``/``out_shape``: the result's shape with
    and without keepdims.
    """
    order: Optional[tuple]
    P: int
    N: int
    Q: int
    keep_shape: tuple
    out_shape: tuple
    kept_order: Optional[tuple]


@functools.lru_cache(maxsize=1024)
def plan(shape, axis, layout=None):
    """The Plan for reducing ``shape`` over ``axis`` (None or a sorted tuple of axes).

    ``layout`` (from ``memory_order(x)``) is the axis order in which x lies in
    memory, when that is not C order (a transposed or Fortran-ordered x): the loops then
    read x in that order, without copying. Cached: a training loop reduces the same
    few shapes every step, and this Python costs as much as the loop on small arrays.
    """
    ndim = len(shape)
    reduced = set(range(ndim)) if axis is None else set(axis)
    keep_shape = tuple(1 if i in reduced else n for i, n in enumerate(shape))
    out_shape = tuple(n for i, n in enumerate(shape) if i not in reduced)
    seq = layout or tuple(range(ndim))
    # Size-1 axes do not change the memory layout: classify only the others.
    big = [i for i in seq if shape[i] != 1]
    flags = [i in reduced for i in big]
    first = flags.index(True) if True in flags else len(flags)
    last = len(flags) - 1 - flags[::-1].index(True) if True in flags else len(flags) - 1
    if all(flags[first:last + 1]):  # one run of reduced axes (or none): read x as it lies
        order = seq
        P, N, Q = (math.prod(shape[i] for i in part) for part in (big[:first], big[first:last + 1], big[last + 1:]))
    else:  # reduced axes interleaved with kept ones: move them last (the one case that copies)
        order = tuple(i for i in seq if i not in reduced) + tuple(i for i in seq if i in reduced)
        P, N, Q = math.prod(out_shape), math.prod(shape[i] for i in reduced), 1
    if N == 1:  # nothing to add up: one vectorised copy in the "cols" loop
        P, Q = 1, P * Q
    kept = [i for i in range(ndim) if i not in reduced]
    kept_order = tuple(kept.index(i) for i in order if i not in reduced)
    return Plan(None if order == tuple(range(ndim)) else order, P, N, Q, keep_shape, out_shape,
                None if kept_order == tuple(range(len(kept))) else kept_order)


def memory_order(x):
    """The axis order that makes x C-contiguous if x is a transposed contiguous array, else None."""
    if x.ndim < 2 or x.flags.c_contiguous:
        return None
    order = tuple(sorted(range(x.ndim), key=lambda i: -abs(x.strides[i])))
    return order if x.transpose(order).flags.c_contiguous else None


@functools.lru_cache(maxsize=1024)
def broadcast_axes(gshape, shape):
    """The axes of gshape that broadcasting ``shape`` to it created or stretched (sorted)."""
    lead = len(gshape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)


def blocks(x, pl):
    """x as the loops read it: C-contiguous (P, N) or (P, N, Q); copies only if x is strided or must be transposed."""
    if pl.order is not None:
        x = x.transpose(pl.order)
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x.reshape(pl.P, pl.N) if pl.Q == 1 else x.reshape(pl.P, pl.N, pl.Q)


def reduced_blocks(a, pl, dtype):
    """A reduced-shape array (y or g, keepdims or not) as the loops read it: C-contiguous (P,) or (P, Q)."""
    if pl.kept_order is not None:
        a = np.reshape(a, pl.out_shape).transpose(pl.kept_order)
    if a.dtype != dtype or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape(pl.P) if pl.Q == 1 else a.reshape(pl.P, pl.Q)


def flat_any_order(x):
    """x's elements as a 1-D array in memory order (a view for C- or F-contiguous x), for order-free reductions."""
    return x.reshape(-1) if x.flags.c_contiguous else np.ravel(x, order="K")


def unpermute(out, shape, pl):
    """A full-size loop output (in the plan's axis order) in ``shape``: a transposed view if the plan transposed."""
    if pl.order is None:
        return out.reshape(shape)
    return out.reshape(tuple(shape[i] for i in pl.order)).transpose(np.argsort(pl.order))


def run_forward(rows_loop, cols_loop, x, axis, keepdims, *args):
    """Run a reduction loop over ``axis`` of x; the result has numpy's shape and x's dtype."""
    if axis is None:  # every reduction loop is order-free over all elements: read x as it lies
        pl = plan(x.shape, None)
        out = np.empty(1, dtype=x.dtype)
        rows_loop(flat_any_order(x).reshape(1, -1), *args, out)
        return out.reshape(pl.keep_shape if keepdims else ())
    pl = plan(x.shape, axis, memory_order(x))
    out = np.empty(pl.P * pl.Q, dtype=x.dtype)
    if pl.Q == 1:
        rows_loop(blocks(x, pl), *args, out)
    else:
        cols_loop(blocks(x, pl), *args, out.reshape(pl.P, pl.Q))
    if pl.kept_order is not None:  # written in x's memory order: back to the axis order
        out = out.reshape([pl.out_shape[k] for k in pl.kept_order]).transpose(np.argsort(pl.kept_order))
    return out.reshape(pl.keep_shape if keepdims else pl.out_shape)


def run_backward(rows_loop, cols_loop, x, pl, *args):
    """Run a backward loop that writes one value per element of x; returns it in x's shape."""
    xb = blocks(x, pl)
    out = np.empty(xb.shape, dtype=xb.dtype)
    if pl.Q == 1:
        rows_loop(xb, *args, out)
    else:
        cols_loop(xb, *args, out)
    return unpermute(out, x.shape, pl)
