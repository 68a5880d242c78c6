"""Reduction loop kernels: sum, mean, max, min, var, their backward, gradient norms.

Layout. Every reduction is run on one of two C-contiguous block shapes, so the loops
never deal with strides or axis lists:

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

Numerics. float32 sums stay in float32 lanes, as numpy's do, but are *cascaded*: a row
is summed in blocks of ``_BLOCK`` elements, block sums into ``_SUPER``-block sums,
those into the total. Inside a block LLVM keeps 32 float32 partial sums in vector
registers (``reassoc`` lets it), so each partial sum sees ~32 additions and the
rounding error grows like (32 + 64 + N/65536) ulps instead of N ulps: close to numpy's
pairwise summation. The "cols" loops sum ``_ROWS`` rows into a scratch row before
adding it to the result, for the same reason.

NaN and inf. The loops are compiled with every fast-math flag *except* ``nnan`` and
``ninf``: LLVM may reorder sums (that is what vectorises them) but may not assume
that NaN or inf never occur, so ``v != v`` and comparisons with inf keep their IEEE
meaning. max/min propagate NaN as numpy does, through ``_maximum``/``_minimum``:
plain Python functions when run by the "python" backend, LLVM's NaN-propagating
``llvm.maximum``/``llvm.minimum`` (vmaxps + a NaN blend) inside compiled loops.

Empty and 0-d inputs have nothing to loop over: for them (and for integer dtypes) the
kernels return numpy's result, with numpy's errors and warnings.

Threads. No loop here uses ``prange``. On the 2-vCPU machine a parallel sum or max
gained at most ~2x on arrays of 1M+ elements when the second core was idle, and took
milliseconds instead of microseconds whenever it was not (OpenBLAS's spinning threads
after a matmul, another process): the serial loops are steady and already beat numpy.

argmax/argmin are *not* implemented here: numpy's SIMD arg-reductions along the last
axis run ~4x faster than a loop that must carry an index along with each lane
(3.8 vs 16.5 us on (64, 512) float32), so the numba backend reuses numpy's.
"""
import functools
import math
from typing import NamedTuple, Optional

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload, register_jitable

from . import kernel

# fast-math without nnan/ninf: reorder float arithmetic, but keep NaN/inf semantics.
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
_BLOCK = 1024   # elements summed per block (32 per vector lane for float32 AVX2)
_SUPER = 64     # blocks per super-block
_ROWS = 128     # rows of a "cols" reduction summed into a scratch row before the total


# ------------------------------------------------- NaN-propagating max / min
def _maximum(v, acc):
    """max(v, acc), NaN if either is NaN (numpy's max semantics)."""
    return v if (v > acc or v != v) else acc


def _minimum(v, acc):
    """min(v, acc), NaN if either is NaN (numpy's min semantics)."""
    return v if (v < acc or v != v) else acc


def _llvm_binary_intrinsic(name):
    @intrinsic
    def call(typingctx, a, b):
        if not (isinstance(a, types.Float) and a == b):
            return None

        def codegen(context, builder, sig, args):
            ty = args[0].type
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty, ty]),
                                                f"llvm.{name}.f{a.bitwidth}")
            return builder.call(fn, args)
        return a(a, a), codegen
    return call


_llvm_maximum = _llvm_binary_intrinsic("maximum")
_llvm_minimum = _llvm_binary_intrinsic("minimum")


# Inside compiled code the two helpers become one LLVM intrinsic each: LLVM vectorises
# it (a select chain with a NaN test would stay scalar: numba puts no fast-math flags on
# selects, and LLVM will only vectorise a select-based max reduction that may ignore NaN).
@overload(_maximum)
def _maximum_compiled(v, acc):
    if isinstance(v, types.Float) and v == acc:
        return lambda v, acc: _llvm_maximum(v, acc)


@overload(_minimum)
def _minimum_compiled(v, acc):
    if isinstance(v, types.Float) and v == acc:
        return lambda v, acc: _llvm_minimum(v, acc)


# ----------------------------------------------- shared pieces of the loops
# register_jitable: a plain Python function for the "python" backend, compiled and
# inlined into the caller by numba. (A @kernel helper would run compiled even when
# called from an uncompiled loop.)
@register_jitable
def _row_sum(x, p):
    """Cascaded sum of row x[p, :] of a (P, N) array, in x's dtype."""
    n = x.shape[1]
    total = x.dtype.type(0)
    for s in range(0, n, _BLOCK * _SUPER):
        mid = x.dtype.type(0)
        for b in range(s, min(s + _BLOCK * _SUPER, n), _BLOCK):
            acc = x.dtype.type(0)
            for i in range(b, min(b + _BLOCK, n)):
                acc += x[p, i]
            mid += acc
        total += mid
    return total


@register_jitable
def _row_sum_sq_dev(x, p, mean):
    """Cascaded sum over row p of (x[p, i] - mean)^2."""
    n = x.shape[1]
    total = x.dtype.type(0)
    for s in range(0, n, _BLOCK * _SUPER):
        mid = x.dtype.type(0)
        for b in range(s, min(s + _BLOCK * _SUPER, n), _BLOCK):
            acc = x.dtype.type(0)
            for i in range(b, min(b + _BLOCK, n)):
                d = x[p, i] - mean
                acc += d * d
            mid += acc
        total += mid
    return total


@register_jitable
def _col_sums(x, p, out, part):
    """out[q] = sum_n x[p, n, q] of a (P, N, Q) array; ``part`` is a (Q,) scratch row."""
    n_rows, q_len = x.shape[1], x.shape[2]
    for q in range(q_len):
        out[q] = 0
    for n0 in range(0, n_rows, _ROWS):
        for q in range(q_len):
            part[q] = x[p, n0, q]
        for n in range(n0 + 1, min(n0 + _ROWS, n_rows)):
            for q in range(q_len):
                part[q] += x[p, n, q]
        for q in range(q_len):
            out[q] += part[q]


@register_jitable
def _col_sum_sq_devs(x, p, mean, out, part):
    """out[q] = sum_n (x[p, n, q] - mean[q])^2; ``part`` is a (Q,) scratch row."""
    n_rows, q_len = x.shape[1], x.shape[2]
    for q in range(q_len):
        out[q] = 0
    for n0 in range(0, n_rows, _ROWS):
        for q in range(q_len):
            part[q] = 0
        for n in range(n0, min(n0 + _ROWS, n_rows)):
            for q in range(q_len):
                d = x[p, n, q] - mean[q]
                part[q] += d * d
        for q in range(q_len):
            out[q] += part[q]


# ------------------------------------------------------------ forward loops
@kernel(fastmath=_FAST)
def sum_rows_loop(x, div, out):
    """out[p] = sum_n x[p, n] / div for x (P, N); div = 1 for sum, N for mean."""
    d = x.dtype.type(div)  # divide in x's dtype: an int divisor would promote float32 to float64
    for p in range(x.shape[0]):
        out[p] = _row_sum(x, p) / d


@kernel(fastmath=_FAST)
def sum_cols_loop(x, div, out):
    """out[p, q] = sum_n x[p, n, q] / div for x (P, N, Q), out (P, Q)."""
    d = x.dtype.type(div)
    part = np.empty(x.shape[2], x.dtype)
    for p in range(x.shape[0]):
        _col_sums(x, p, out[p], part)
        for q in range(x.shape[2]):
            out[p, q] /= d


@kernel(fastmath=_FAST)
def max_rows_loop(x, out):
    """out[p] = max_n x[p, n] (NaN if the row holds one)."""
    for p in range(x.shape[0]):
        m = x[p, 0]
        for i in range(1, x.shape[1]):
            m = _maximum(x[p, i], m)
        out[p] = m


@kernel(fastmath=_FAST)
def min_rows_loop(x, out):
    """out[p] = min_n x[p, n] (NaN if the row holds one)."""
    for p in range(x.shape[0]):
        m = x[p, 0]
        for i in range(1, x.shape[1]):
            m = _minimum(x[p, i], m)
        out[p] = m


# In the two "cols" loops the new value goes first: with the accumulator first, LLVM
# notices that a NaN accumulator is left unchanged and turns the store into a masked
# store (vmaskmovps), which is microcoded and ~3x slower on AMD Zen.
@kernel(fastmath=_FAST)
def max_cols_loop(x, out):
    """out[p, q] = max_n x[p, n, q] for x (P, N, Q)."""
    for p in range(x.shape[0]):
        for q in range(x.shape[2]):
            out[p, q] = x[p, 0, q]
        for n in range(1, x.shape[1]):
            for q in range(x.shape[2]):
                out[p, q] = _maximum(x[p, n, q], out[p, q])


@kernel(fastmath=_FAST)
def min_cols_loop(x, out):
    """out[p, q] = min_n x[p, n, q] for x (P, N, Q)."""
    for p in range(x.shape[0]):
        for q in range(x.shape[2]):
            out[p, q] = x[p, 0, q]
        for n in range(1, x.shape[1]):
            for q in range(x.shape[2]):
                out[p, q] = _minimum(x[p, n, q], out[p, q])


@kernel(fastmath=_FAST)
def var_rows_loop(x, ddof, out):
    """out[p] = sum_n (x[p, n] - mean_p)^2 / (N - ddof): two passes over a row while it is in cache.

    numpy makes four passes over the whole array (mean, subtract, square, sum) and
    two temporaries of its size.
    """
    n, dof = x.dtype.type(x.shape[1]), x.dtype.type(x.shape[1] - ddof)
    for p in range(x.shape[0]):
        mean = _row_sum(x, p) / n
        out[p] = _row_sum_sq_dev(x, p, mean) / dof


@kernel(fastmath=_FAST)
def var_cols_loop(x, ddof, out):
    """out[p, q] = sum_n (x[p, n, q] - mean_pq)^2 / (N - ddof) for x (P, N, Q)."""
    n, dof = x.dtype.type(x.shape[1]), x.dtype.type(x.shape[1] - ddof)
    mean = np.empty(x.shape[2], x.dtype)
    part = np.empty(x.shape[2], x.dtype)
    for p in range(x.shape[0]):
        _col_sums(x, p, mean, part)
        for q in range(x.shape[2]):
            mean[q] /= n
        _col_sum_sq_devs(x, p, mean, out[p], part)
        for q in range(x.shape[2]):
            out[p, q] /= dof


# ----------------------------------------------------------- backward loops
@kernel(fastmath=_FAST)
def expand_rows_loop(g, out):
    """out[p, n] = g[p]: the backward of a sum over the trailing axes."""
    for p in range(out.shape[0]):
        v = g[p]
        for i in range(out.shape[1]):
            out[p, i] = v


@kernel(fastmath=_FAST)
def expand_cols_loop(g, out):
    """out[p, n, q] = g[p, q]: the backward of a sum over leading/middle axes."""
    for p in range(out.shape[0]):
        for n in range(out.shape[1]):
            for q in range(out.shape[2]):
                out[p, n, q] = g[p, q]


@kernel(fastmath=_FAST)
def minmax_backward_rows_loop(x, y, g, out):
    """out[p, n] = g[p] / k_p where x[p, n] == y[p] (k_p such elements), else 0.

    Ties share the gradient equally; a NaN result matches nothing, so its row gets 0.
    """
    for p in range(x.shape[0]):
        yp = y[p]
        hits = 0
        for i in range(x.shape[1]):
            hits += x[p, i] == yp
        share = g[p] / hits if hits > 0 else 0.0
        for i in range(x.shape[1]):
            out[p, i] = share if x[p, i] == yp else 0


@kernel(fastmath=_FAST)
def minmax_backward_cols_loop(x, y, g, out):
    """out[p, n, q] = g[p, q] / k_pq where x[p, n, q] == y[p, q], else 0 (x (P, N, Q))."""
    q_len = x.shape[2]
    hits = np.empty(q_len, np.int64)
    share = np.empty(q_len, x.dtype)
    for p in range(x.shape[0]):
        for q in range(q_len):
            hits[q] = 0
        for n in range(x.shape[1]):
            for q in range(q_len):
                hits[q] += x[p, n, q] == y[p, q]
        for q in range(q_len):
            share[q] = g[p, q] / hits[q] if hits[q] > 0 else 0
        for n in range(x.shape[1]):
            for q in range(q_len):
                out[p, n, q] = share[q] if x[p, n, q] == y[p, q] else 0


@kernel(fastmath=_FAST)
def var_backward_rows_loop(x, g, scale, out):
    """out[p, n] = g[p] * (x[p, n] - mean_p) * scale, scale = 2 / (N - ddof)."""
    count, s = x.dtype.type(x.shape[1]), x.dtype.type(scale)  # scale rounded to x's dtype, as numpy does
    for p in range(x.shape[0]):
        mean = _row_sum(x, p) / count
        gp = g[p]
        for i in range(x.shape[1]):
            out[p, i] = gp * (x[p, i] - mean) * s


@kernel(fastmath=_FAST)
def var_backward_cols_loop(x, g, scale, out):
    """out[p, n, q] = g[p, q] * (x[p, n, q] - mean_pq) * scale for x (P, N, Q)."""
    n_rows, q_len = x.shape[1], x.shape[2]
    count, s = x.dtype.type(n_rows), x.dtype.type(scale)
    mean = np.empty(q_len, x.dtype)
    part = np.empty(q_len, x.dtype)
    for p in range(x.shape[0]):
        _col_sums(x, p, mean, part)
        for q in range(q_len):
            mean[q] /= count
        for n in range(n_rows):
            for q in range(q_len):
                out[p, n, q] = g[p, q] * (x[p, n, q] - mean[q]) * s


# ------------------------------------------------------- whole-array checks
@kernel(fastmath=_FAST)
def any_nonfinite_loop(x):
    """True if the 1-D array x holds a NaN or an inf; stops at the first block that does."""
    n = x.size
    for b in range(0, n, _BLOCK):
        bad = False
        for i in range(b, min(b + _BLOCK, n)):
            bad |= not (abs(x[i]) < np.inf)  # NaN and +-inf fail the test
        if bad:
            return True
    return False


@kernel(fastmath=_FAST)
def sumsq_loop(x):
    """sum_i x[i]^2 accumulated in float64 (x float32 or float64, 1-D)."""
    acc = 0.0
    for i in range(x.size):
        v = np.float64(x[i])
        acc += v * v
    return acc


# --------------------------------------------------------------- wrappers
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
def _broadcast_axes(gshape, shape):
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


def _loopable(x):
    """True if the loops handle x: a non-empty float32/float64 array with at least one axis."""
    return x.dtype.char in "fd" and x.ndim > 0 and x.size > 0


def _flat_any_order(x):
    """x's elements as a 1-D array in memory order (a view for C- or F-contiguous x), for order-free reductions."""
    return x.reshape(-1) if x.flags.c_contiguous else np.ravel(x, order="K")


def _forward(rows_loop, cols_loop, x, axis, keepdims, *args):
    """Run a reduction loop over ``axis`` of x; the result has numpy's shape and x's dtype."""
    if axis is None:  # every kernel here is order-free over all elements: read x as it lies
        pl = plan(x.shape, None)
        out = np.empty(1, dtype=x.dtype)
        rows_loop(_flat_any_order(x).reshape(1, -1), *args, out)
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


def _backward(rows_loop, cols_loop, x, pl, *args):
    """Run a backward loop that writes one value per element of x; returns it in x's shape."""
    xb = blocks(x, pl)
    out = np.empty(xb.shape, dtype=xb.dtype)
    if pl.Q == 1:
        rows_loop(xb, *args, out)
    else:
        cols_loop(xb, *args, out)
    return _unpermute(out, x.shape, pl)


def _unpermute(out, shape, pl):
    """A full-size loop output (in the plan's axis order) in ``shape``: a transposed view if the plan transposed."""
    if pl.order is None:
        return out.reshape(shape)
    return out.reshape(tuple(shape[i] for i in pl.order)).transpose(np.argsort(pl.order))


class ReduceKernels:
    """Kernel-set entries implemented with the reduction loops (``cls.loops`` picks compiled or not)."""

    @classmethod
    def sum(cls, x, axis, keepdims):
        if not _loopable(x):
            return np.asarray(super().sum(x, axis, keepdims))
        return _forward(cls.loops.sum_rows_loop, cls.loops.sum_cols_loop, x, axis, keepdims, 1)

    @classmethod
    def mean(cls, x, axis, keepdims):
        if not _loopable(x):
            return np.asarray(super().mean(x, axis, keepdims))
        n = x.size if axis is None else math.prod(x.shape[a] for a in axis)
        return _forward(cls.loops.sum_rows_loop, cls.loops.sum_cols_loop, x, axis, keepdims, n)

    @classmethod
    def max(cls, x, axis, keepdims):
        if not _loopable(x):
            return np.asarray(super().max(x, axis, keepdims))
        return _forward(cls.loops.max_rows_loop, cls.loops.max_cols_loop, x, axis, keepdims)

    @classmethod
    def min(cls, x, axis, keepdims):
        if not _loopable(x):
            return np.asarray(super().min(x, axis, keepdims))
        return _forward(cls.loops.min_rows_loop, cls.loops.min_cols_loop, x, axis, keepdims)

    @classmethod
    def var(cls, x, axis, ddof, keepdims):
        n = x.size if axis is None else math.prod(x.shape[a] for a in axis)
        if not _loopable(x) or n - ddof <= 0:  # numpy's inf/nan and warning for no degrees of freedom
            return np.asarray(super().var(x, axis, ddof, keepdims))
        return _forward(cls.loops.var_rows_loop, cls.loops.var_cols_loop, x, axis, keepdims, ddof)

    @classmethod
    def sum_to_shape(cls, g, shape):
        """Undo broadcasting: sum g (the broadcast shape) down to ``shape``."""
        if g.shape == shape:
            return g
        if not _loopable(g):
            return super().sum_to_shape(g, shape)
        return cls.sum(g, _broadcast_axes(g.shape, tuple(shape)), True).reshape(shape)

    @classmethod
    def expand_reduced(cls, g, shape, axis, keepdims):
        """Backward of sum: g (the reduced shape) copied over the reduced axes of ``shape``."""
        g = np.asarray(g)
        shape = tuple(shape)
        pl = plan(shape, axis)
        if g.dtype.char not in "fd" or pl.P * pl.N * pl.Q == 0 or not shape:
            return super().expand_reduced(g, shape, axis, keepdims)
        gb = reduced_blocks(g, pl, g.dtype)
        if pl.Q == 1:
            out = np.empty((pl.P, pl.N), dtype=g.dtype)
            cls.loops.expand_rows_loop(gb, out)
        else:
            out = np.empty((pl.P, pl.N, pl.Q), dtype=g.dtype)
            cls.loops.expand_cols_loop(gb, out)
        return _unpermute(out, shape, pl)

    @classmethod
    def minmax_backward(cls, x, y, g, axis, keepdims):
        """Backward of max/min: g shared equally by the elements of x equal to y."""
        if not _loopable(x):
            return super().minmax_backward(x, y, g, axis, keepdims)
        pl = plan(x.shape, axis, memory_order(x))
        yb, gb = reduced_blocks(y, pl, x.dtype), reduced_blocks(g, pl, x.dtype)
        return _backward(cls.loops.minmax_backward_rows_loop, cls.loops.minmax_backward_cols_loop, x, pl, yb, gb)

    @classmethod
    def var_backward(cls, x, g, axis, ddof, keepdims):
        """d var / dx_i = 2 (x_i - mean) / (N - ddof), times g."""
        n = x.size if axis is None else math.prod(x.shape[a] for a in axis)
        if not _loopable(x) or n - ddof <= 0:
            return super().var_backward(x, g, axis, ddof, keepdims)
        dtype = np.result_type(x, g)  # numpy's promotion, if g's dtype differs from x's
        x = x.astype(dtype, copy=False)
        pl = plan(x.shape, axis, memory_order(x))
        gb = reduced_blocks(g, pl, dtype)
        scale = 2.0 / (n - ddof)
        return _backward(cls.loops.var_backward_rows_loop, cls.loops.var_backward_cols_loop, x, pl, gb, scale)

    @classmethod
    def any_nonfinite(cls, x):
        if not _loopable(x):
            return super().any_nonfinite(x)
        return bool(cls.loops.any_nonfinite_loop(_flat_any_order(x)))

    @classmethod
    def sumsq(cls, x):
        """Sum of squares in float64, as a Python float (for gradient norms)."""
        if not _loopable(x):
            return super().sumsq(x)
        return float(cls.loops.sumsq_loop(_flat_any_order(x)))
