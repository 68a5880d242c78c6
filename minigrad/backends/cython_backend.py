"""The cython backend: loop kernels written in Cython and compiled ahead of time by ``setup.py``.

The kernels live in ``minigrad/backends/cython/*.pyx`` (their docstrings explain what
Cython generates from them); this module is the thin Python layer in front of them.
It does what the numba backend's wrappers do: turns any input into the flat or
blocked C-contiguous arrays the loops expect (with the helpers of ``backends/_arrays.py``,
shared with the numba backend), allocates the outputs, picks the float32 or float64
build of the kernel, and hands everything else to the numpy reference: integer
dtypes, empty arrays, index forms the loops do not cover. Those go to numpy with
numpy's exact semantics, errors and warnings.

It implements the same kernels as the numba backend, and reuses numpy's for the rest
(``available_backends()["cython"]["reuses"]`` lists them). In particular ``matmul``
is numpy's: a BLAS call (OpenBLAS behind ``np.matmul``) beats any loop nest written
in Cython by 10-100x, and from Python ``np.matmul`` is the way to it.

The fused recurrent kernels (rnn/fused/CONTRACT.md) need a matrix product *inside*
their compiled loop, once per time step, where no Python runs. They call the
``cblas_sgemm``/``cblas_dgemm`` of the OpenBLAS numpy itself loaded, through C function
pointers: ``backends/_blas_lib.py`` finds the library with ctypes, and
``cython/recurrent.pyx`` receives the two addresses at import (``set_blas``). So no
second BLAS (scipy's ``cython_blas`` would bring its own OpenBLAS and thread pool) and
no scipy dependency. Shape checks and allocation in front of those loops are the
numba backend's, from ``recurrent_wrappers.py`` (numba-free).

No kernel uses threads (``prange``/OpenMP), like the numba backend's: on two cores
a parallel loop only pays for the float64 transcendental kernels on large arrays
(tanh at 32k elements: 2x), it would compete with OpenBLAS's threads between
matmuls, and OpenMP is not available with every compiler (Apple's clang).

Dispatch cost matters here: a kernel on a (32, 128) array runs in a microsecond or
two. A fused Cython function picks its float or double version on every call by
inspecting the arguments (~0.3 us); ``kernel["float"]`` is that version itself, so
the two tables below are built once and a call costs one dict lookup.
"""
import functools
import math
import types
from typing import NamedTuple, Optional

import numpy as np

# ImportError here = extension not built: pip install -e .
from .cython import elementwise, nn, optim, recurrent, reduce
from . import _arrays as A  # shape helpers only: no numba import
from .numpy_backend import NumpyBackend
from .recurrent_wrappers import RecurrentKernels


def _specialisations(ctype):
    """Every kernel of the four modules in its ``ctype`` ("float" or "double") version."""
    found = {}
    for module in (elementwise, reduce, nn, optim):
        for name, fn in vars(module).items():
            if hasattr(fn, "__signatures__"):  # a fused Cython function
                assert name not in found, f"two Cython kernels named {name!r}"
                found[name] = fn[ctype]
    return types.SimpleNamespace(**found)


# Kernels by dtype character: float32 -> 'f', float64 -> 'd'.
_K = {"f": _specialisations("float"), "d": _specialisations("double")}
_INTP = np.dtype(np.intp)


def _floats(*arrays):
    """True if every array is float32 or float64 (the dtypes the kernels are compiled for)."""
    return all(a.dtype.char in "fd" for a in arrays)


def _loopable(x):
    """A non-empty float array with at least one axis: what the reduction loops handle."""
    return x.dtype.char in "fd" and x.ndim > 0 and x.size > 0


def _ids(a):
    """Integer indices as a flat C-contiguous intp array (the kernels' ``Py_ssize_t[::1]``)."""
    return np.ascontiguousarray(a, dtype=_INTP).reshape(-1)


def _check(bad, op, index, size):
    """Raise IndexError for the index a kernel reported out of range (-1: none)."""
    if bad >= 0:
        raise IndexError(f"{op}: index {int(np.asarray(index).reshape(-1)[bad])} is out of bounds for size {size}")


# The wrappers run once per op call, and on small arrays numpy's conveniences cost as
# much as the kernel (np.broadcast_to ~3 us, np.broadcast_shapes ~2 us): fast paths first.
def _dense(a, shape, dtype):
    """``a`` broadcast to ``shape`` as a C-contiguous array of ``dtype`` (itself if it already is one)."""
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    if a.dtype != dtype or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=dtype)
    return a


# ------------------------------------------------------------ elementwise
def _unary(name, x, *scalars):
    out = np.empty(x.shape, dtype=x.dtype)
    getattr(_K[x.dtype.char], name)(A.flat(x), *scalars, out.reshape(-1))
    return out


def _saved_and_grad(name, saved, g, *scalars):
    """Backward kernels out = f(saved, g): g broadcast to saved's shape and cast to its dtype."""
    if g.shape != saved.shape:
        g = np.broadcast_to(g, saved.shape)
    if g.dtype != saved.dtype:
        g = g.astype(saved.dtype)
    out = np.empty(saved.shape, dtype=saved.dtype)
    getattr(_K[saved.dtype.char], name)(A.flat(saved), A.flat(g), *scalars, out.reshape(-1))
    return out


def _bounds(lo, hi):
    """clip's bounds; None means unbounded."""
    return -math.inf if lo is None else lo, math.inf if hi is None else hi


class _Elementwise:
    @staticmethod
    def tanh(x):
        return _unary("tanh_forward", x) if _floats(x) else NumpyBackend.tanh(x)

    @staticmethod
    def sigmoid(x):
        return _unary("sigmoid_forward", x) if _floats(x) else NumpyBackend.sigmoid(x)

    @staticmethod
    def relu(x):
        return _unary("relu_forward", x) if _floats(x) else NumpyBackend.relu(x)

    @staticmethod
    def leaky_relu(x, slope):
        return _unary("leaky_relu_forward", x, slope) if _floats(x) else NumpyBackend.leaky_relu(x, slope)

    @staticmethod
    def clip(x, lo, hi):
        if not _floats(x):
            return NumpyBackend.clip(x, lo, hi)
        return _unary("clip_forward", x, *_bounds(lo, hi))

    @staticmethod
    def tanh_backward(y, g):
        return _saved_and_grad("tanh_backward", y, g) if _floats(y) else NumpyBackend.tanh_backward(y, g)

    @staticmethod
    def sigmoid_backward(y, g):
        return _saved_and_grad("sigmoid_backward", y, g) if _floats(y) else NumpyBackend.sigmoid_backward(y, g)

    @staticmethod
    def relu_backward(x, g):
        return _saved_and_grad("relu_backward", x, g) if _floats(x) else NumpyBackend.relu_backward(x, g)

    @staticmethod
    def abs_backward(x, g):
        return _saved_and_grad("abs_backward", x, g) if _floats(x) else NumpyBackend.abs_backward(x, g)

    @staticmethod
    def sqrt_backward(y, g):
        return _saved_and_grad("sqrt_backward", y, g) if _floats(y) else NumpyBackend.sqrt_backward(y, g)

    @staticmethod
    def leaky_relu_backward(x, g, slope):
        if not _floats(x):
            return NumpyBackend.leaky_relu_backward(x, g, slope)
        return _saved_and_grad("leaky_relu_backward", x, g, slope)

    @staticmethod
    def clip_backward(x, g, lo, hi):
        if not _floats(x):
            return NumpyBackend.clip_backward(x, g, lo, hi)
        return _saved_and_grad("clip_backward", x, g, *_bounds(lo, hi))


# ------------------------------------------------------------- reductions
class Plan(NamedTuple):
    """How the kernels see a reduction of an array of ``shape`` over ``axis``: the array,
    transposed by ``perm`` (None: as it is), viewed as a C-contiguous (P, N, Q) block,
    reduced over N. ``keep_shape``/``out_shape``: the result's shape with and without keepdims."""
    perm: Optional[tuple]
    P: int
    N: int
    Q: int
    keep_shape: tuple
    out_shape: tuple


@functools.lru_cache(maxsize=1024)
def plan(shape, axis):
    """The Plan for reducing ``shape`` over ``axis`` (None or a sorted tuple of axes).

    Reduced axes that form one run (size-1 axes do not count) are a free reshape:
    P = the axes before the run, N = the run, Q = the axes after it. Reduced axes
    interleaved with kept ones are moved last by a transposed copy (Q = 1). Cached:
    a training loop reduces the same few shapes every step, and this Python costs
    as much as the kernel itself on small arrays.
    """
    ndim = len(shape)
    reduced = set(range(ndim)) if axis is None else set(axis)
    keep_shape = tuple(1 if i in reduced else n for i, n in enumerate(shape))
    out_shape = tuple(n for i, n in enumerate(shape) if i not in reduced)
    big = [i for i in range(ndim) if shape[i] != 1]
    hit = [i for i in big if i in reduced]
    if not hit:  # nothing to add up: N = 1, one output per element
        return Plan(None, 1, 1, math.prod(shape), keep_shape, out_shape)
    first, last = big.index(hit[0]), big.index(hit[-1])
    if last - first + 1 == len(hit):
        P, N, Q = (math.prod(shape[i] for i in part) for part in (big[:first], hit, big[last + 1:]))
        return Plan(None, P, N, Q, keep_shape, out_shape)
    perm = tuple(i for i in range(ndim) if i not in reduced) + tuple(sorted(reduced))
    return Plan(perm, math.prod(out_shape), math.prod(shape[i] for i in reduced), 1, keep_shape, out_shape)


def _as3(x, pl):
    """x as the kernels' C-contiguous (P, N, Q) block (a view unless strided or transposed)."""
    if pl.perm is not None:
        x = np.transpose(x, pl.perm)
    return np.ascontiguousarray(x).reshape(pl.P, pl.N, pl.Q)


def _any_order(x):
    """x's elements as a 1-D array in memory order (a view for C- or F-contiguous x), for
    reductions of every element, where the order does not matter."""
    return x.reshape(-1) if x.flags.c_contiguous else np.ravel(x, order="K")


def _reduced3(a, pl, dtype):
    """A reduced-shape array (y or g, keepdims or not) as C-contiguous (P, Q) of ``dtype``."""
    return np.ascontiguousarray(a, dtype=dtype).reshape(pl.P, pl.Q)


def _unpermute(out, shape, pl):
    """A kernel's output (in the plan's axis order) in ``shape``: a transposed view if the plan transposed."""
    if pl.perm is None:
        return out.reshape(shape)
    return out.reshape(tuple(shape[i] for i in pl.perm)).transpose(np.argsort(pl.perm))


# Stand-in scratch for "rows" reductions (Q == 1), whose kernels never touch it.
_NO_SCRATCH = {"f": np.zeros((2, 1), np.float32), "d": np.zeros((2, 1), np.float64)}
_NO_TIES = np.zeros(1, _INTP)


def _reduce(name, x, axis, keepdims, arg, scratch_rows):
    """Run reduction kernel ``name`` over ``axis``; the result has numpy's shape and x's dtype.

    ``arg`` is the kernel's scalar; a (scratch_rows, Q) work area follows the output
    when the kernel takes one ("cols" loops)."""
    pl = plan(x.shape, axis)
    # every element (axis None): any memory order will do, so F-order needs no copy either
    x3 = _any_order(x).reshape(1, -1, 1) if axis is None else _as3(x, pl)
    out = np.empty((pl.P, pl.Q), dtype=x.dtype)
    k = getattr(_K[x.dtype.char], name)
    if not scratch_rows:
        k(x3, arg, out)
    elif pl.Q == 1:
        k(x3, arg, out, _NO_SCRATCH[x.dtype.char])
    else:
        k(x3, arg, out, np.empty((scratch_rows, pl.Q), dtype=x.dtype))
    return out.reshape(pl.keep_shape if keepdims else pl.out_shape)


def _count(x, axis):
    return x.size if axis is None else math.prod(x.shape[a] for a in axis)


class _Reduce:
    @staticmethod
    def sum(x, axis, keepdims):
        if not _loopable(x):
            return NumpyBackend.sum(x, axis, keepdims)
        return _reduce("sum3", x, axis, keepdims, 1.0, 1)

    @staticmethod
    def mean(x, axis, keepdims):
        if not _loopable(x):
            return NumpyBackend.mean(x, axis, keepdims)
        return _reduce("sum3", x, axis, keepdims, float(_count(x, axis)), 1)

    @staticmethod
    def max(x, axis, keepdims):
        return _reduce("max3", x, axis, keepdims, True, 0) if _loopable(x) else NumpyBackend.max(x, axis, keepdims)

    @staticmethod
    def min(x, axis, keepdims):
        return _reduce("max3", x, axis, keepdims, False, 0) if _loopable(x) else NumpyBackend.min(x, axis, keepdims)

    @staticmethod
    def var(x, axis, ddof, keepdims):
        if not _loopable(x) or _count(x, axis) - ddof <= 0:  # numpy's inf/nan and its warning
            return NumpyBackend.var(x, axis, ddof, keepdims)
        return _reduce("var3", x, axis, keepdims, float(ddof), 2)

    @staticmethod
    def sum_to_shape(g, shape):
        """Undo broadcasting: sum g (the broadcast shape) down to ``shape``."""
        if g.shape == shape:
            return g
        if not _loopable(g):
            return NumpyBackend.sum_to_shape(g, shape)
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
        return _Reduce.sum(g, axes, True).reshape(shape)

    @staticmethod
    def expand_reduced(g, shape, axis, keepdims):
        """Backward of sum: g (the reduced shape) copied over the reduced axes of ``shape``."""
        g = np.asarray(g)
        if g.dtype.char not in "fd" or len(shape) == 0 or math.prod(shape) == 0:
            return NumpyBackend.expand_reduced(g, shape, axis, keepdims)
        pl = plan(tuple(shape), axis)
        out = np.empty((pl.P, pl.N, pl.Q), dtype=g.dtype)
        _K[g.dtype.char].expand3(_reduced3(g, pl, g.dtype), out)
        return _unpermute(out, tuple(shape), pl)

    @staticmethod
    def minmax_backward(x, y, g, axis, keepdims):
        """Backward of max/min: g shared equally by the elements of x equal to y."""
        if not _loopable(x):
            return NumpyBackend.minmax_backward(x, y, g, axis, keepdims)
        pl = plan(x.shape, axis)
        out = np.empty((pl.P, pl.N, pl.Q), dtype=x.dtype)
        ties = _NO_TIES if pl.Q == 1 else np.empty(pl.Q, _INTP)
        _K[x.dtype.char].minmax_backward3(_as3(x, pl), _reduced3(y, pl, x.dtype), _reduced3(g, pl, x.dtype), out, ties)
        return _unpermute(out, x.shape, pl)

    @staticmethod
    def var_backward(x, g, axis, ddof, keepdims):
        """d var / dx_i = 2 (x_i - mean) / (N - ddof), times g."""
        n = _count(x, axis)
        if not _loopable(x) or n - ddof <= 0:
            return NumpyBackend.var_backward(x, g, axis, ddof, keepdims)
        if g.dtype != x.dtype:  # numpy's promotion, if g's dtype differs from x's
            x = x.astype(np.result_type(x, g), copy=False)
        pl = plan(x.shape, axis)
        out = np.empty((pl.P, pl.N, pl.Q), dtype=x.dtype)
        scratch = _NO_SCRATCH[x.dtype.char] if pl.Q == 1 else np.empty((2, pl.Q), x.dtype)
        _K[x.dtype.char].var_backward3(_as3(x, pl), _reduced3(g, pl, x.dtype), 2.0 / (n - ddof), out, scratch)
        return _unpermute(out, x.shape, pl)

    @staticmethod
    def any_nonfinite(x):
        return _K[x.dtype.char].any_nonfinite(_any_order(x)) if _loopable(x) else NumpyBackend.any_nonfinite(x)

    @staticmethod
    def sumsq(x):
        """Sum of squares in float64, as a Python float (for gradient norms)."""
        return _K[x.dtype.char].sumsq(_any_order(x)) if _loopable(x) else NumpyBackend.sumsq(x)


# --------------------------------------------------------------- nn kernels
def _three_d(shape, axis):
    """(outer, C, inner) sizes of ``shape`` around ``axis``."""
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _single_axis(axis, ndim):
    """An int axis in range, or None when the loops do not handle ``axis``."""
    if isinstance(axis, (tuple, list)):
        axis = axis[0] if len(axis) == 1 else None
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        return None
    return int(axis) % ndim


def _softmax(x, axis, log):
    outer, c, inner = _three_d(x.shape, axis)
    k = _K[x.dtype.char]
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape, dtype=x.dtype)
    if inner == 1:
        k.softmax_rows(x.reshape(outer, c), out.reshape(outer, c), log)
    else:
        s = (outer, c, inner)
        k.softmax_cols(x.reshape(s), out.reshape(s), log, np.empty((2, inner)))
    return out


def _softmax_backward(y, g, axis, log):
    outer, c, inner = _three_d(y.shape, axis)
    k = _K[y.dtype.char]
    y, g = np.ascontiguousarray(y), _dense(g, y.shape, y.dtype)
    out = np.empty(y.shape, dtype=y.dtype)
    if inner == 1:
        k.softmax_backward_rows(y.reshape(outer, c), g.reshape(outer, c), out.reshape(outer, c), log)
    else:
        s = (outer, c, inner)
        k.softmax_backward_cols(y.reshape(s), g.reshape(s), out.reshape(s), log, np.empty(inner))
    return out


def _rows_of(g, n, dtype):
    """A per-row gradient as a flat (n,) C-contiguous array of dtype."""
    return _dense(g, (n,), dtype).reshape(-1)


def _same_shape_floats(*arrays):
    """The arrays broadcast to one shape, as flat C-contiguous arrays of their common dtype."""
    first = arrays[0]
    if all(a.shape == first.shape and a.dtype == first.dtype for a in arrays):
        return first.shape, first.dtype, [A.flat(a) for a in arrays]
    dtype = np.result_type(*arrays)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return shape, dtype, [A.flat(a.astype(dtype, copy=False)) if a.shape == shape
                          else A.materialise(a.astype(dtype, copy=False), shape) for a in arrays]


class _NN:
    @staticmethod
    def softmax(x, axis):
        ax = _single_axis(axis, x.ndim)
        if ax is None or not _floats(x) or x.size == 0:
            return NumpyBackend.softmax(x, axis)
        return _softmax(x, ax, False)

    @staticmethod
    def log_softmax(x, axis):
        ax = _single_axis(axis, x.ndim)
        if ax is None or not _floats(x) or x.size == 0:
            return NumpyBackend.log_softmax(x, axis)
        return _softmax(x, ax, True)

    @staticmethod
    def softmax_backward(y, g, axis):
        ax = _single_axis(axis, y.ndim)
        if ax is None or not _floats(y) or g.dtype != y.dtype or y.size == 0:
            return NumpyBackend.softmax_backward(y, g, axis)
        return _softmax_backward(y, g, ax, False)

    @staticmethod
    def log_softmax_backward(y, g, axis):
        ax = _single_axis(axis, y.ndim)
        if ax is None or not _floats(y) or g.dtype != y.dtype or y.size == 0:
            return NumpyBackend.log_softmax_backward(y, g, axis)
        return _softmax_backward(y, g, ax, True)

    @staticmethod
    def cross_entropy(logits, targets, ignore_index, label_smoothing):
        """logits (N, C), targets (N,) -> (losses (N,), log_probs (N, C))."""
        if logits.ndim != 2 or not _floats(logits) or logits.size == 0:
            return NumpyBackend.cross_entropy(logits, targets, ignore_index, label_smoothing)
        n, c = logits.shape
        losses, logp = np.empty(n, dtype=logits.dtype), np.empty((n, c), dtype=logits.dtype)
        bad = _K[logits.dtype.char].cross_entropy(np.ascontiguousarray(logits), _ids(targets), int(ignore_index),
                                                  float(label_smoothing), losses, logp)
        _check(bad, "cross_entropy", targets, c)
        return losses, logp

    @staticmethod
    def cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing):
        if logp.ndim != 2 or not _floats(logp) or logp.size == 0:
            return NumpyBackend.cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing)
        out = np.empty(logp.shape, dtype=logp.dtype)
        bad = _K[logp.dtype.char].cross_entropy_backward(
            np.ascontiguousarray(logp), _ids(targets), _rows_of(g, logp.shape[0], logp.dtype), int(ignore_index),
            float(label_smoothing), out)
        _check(bad, "cross_entropy_backward", targets, logp.shape[1])
        return out

    @staticmethod
    def nll(logp, targets, ignore_index):
        if logp.ndim != 2 or not _floats(logp):
            return NumpyBackend.nll(logp, targets, ignore_index)
        out = np.empty(logp.shape[0], dtype=logp.dtype)
        bad = _K[logp.dtype.char].nll(np.ascontiguousarray(logp), _ids(targets), int(ignore_index), out)
        _check(bad, "nll", targets, logp.shape[1])
        return out

    @staticmethod
    def nll_backward(shape, targets, g, ignore_index, dtype):
        dtype = np.dtype(dtype)
        if len(shape) != 2 or dtype.char not in "fd":
            return NumpyBackend.nll_backward(shape, targets, g, ignore_index, dtype)
        out = np.zeros(shape, dtype=dtype)
        bad = _K[dtype.char].nll_backward(_ids(targets), _rows_of(g, shape[0], dtype), int(ignore_index), out)
        _check(bad, "nll_backward", targets, shape[1])
        return out

    @staticmethod
    def bce_with_logits(x, y):
        if not _floats(x, y):
            return NumpyBackend.bce_with_logits(x, y)
        shape, dtype, (xf, yf) = _same_shape_floats(x, y)
        out = np.empty(shape, dtype=dtype)
        _K[dtype.char].bce_with_logits(xf, yf, out.reshape(-1))
        return out

    @staticmethod
    def bce_with_logits_backward(x, y, g):
        if not _floats(x, y, g):
            return NumpyBackend.bce_with_logits_backward(x, y, g)
        shape, dtype, (xf, yf, gf) = _same_shape_floats(x, y, g)
        gx, gy = np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype)
        _K[dtype.char].bce_with_logits_backward(xf, yf, gf, gx.reshape(-1), gy.reshape(-1))
        return gx, gy

    @staticmethod
    def embedding_backward(indices, g, num_embeddings, padding_idx):
        """Scatter-add rows of g (*indices.shape, D) into a (V, D) zero matrix; the padding row stays 0."""
        indices = np.asarray(indices)
        v, d = num_embeddings, (g.shape[-1] if g.ndim else 0)
        if (indices.dtype.kind not in "iu" or not _floats(g) or g.size == 0 or v == 0
                or g.shape != indices.shape + (d,) or (padding_idx is not None and not -v <= padding_idx < v)):
            return NumpyBackend.embedding_backward(indices, g, num_embeddings, padding_idx)
        out = np.zeros((v, d), dtype=g.dtype)
        skip = -1 if padding_idx is None else padding_idx % v  # numpy's out[-1] is the last row
        bad = _K[g.dtype.char].scatter_add_rows(_ids(indices), np.ascontiguousarray(g).reshape(-1, d), out, skip)
        _check(bad, "embedding_backward", indices, v)
        return out

    @staticmethod
    def scatter_add(shape, index, g, dtype, accumulate):
        """Backward of getitem. The kernel covers ``x[int_array]`` (whole rows of axis 0) with
        accumulation; every other index form keeps numpy's exact semantics."""
        idx = index[0] if isinstance(index, tuple) and len(index) == 1 else index
        dtype = np.dtype(dtype)
        row = math.prod(shape[1:])
        if not (accumulate and isinstance(idx, np.ndarray) and idx.dtype.kind in "iu" and len(shape) >= 1
                and dtype.char in "fd" and g.shape == idx.shape + tuple(shape[1:]) and row and idx.size):
            return NumpyBackend.scatter_add(shape, index, g, dtype, accumulate)
        out = np.zeros(shape, dtype=dtype)
        bad = _K[dtype.char].scatter_add_rows(_ids(idx), np.ascontiguousarray(g, dtype=dtype).reshape(-1, row),
                                              out.reshape(-1, row), -1)
        _check(bad, "scatter_add", idx, shape[0])
        return out

    @staticmethod
    def dropout_mask(shape, p, rng, dtype):
        """Inverted-dropout mask from ``rng.random(shape)``, drawn exactly as the numpy kernel
        draws it, so one seed gives one mask on every backend."""
        dtype = np.dtype(dtype)
        if dtype.char not in "fd":
            return NumpyBackend.dropout_mask(shape, p, rng, dtype)
        u = rng.random(shape)
        out = np.empty(u.shape, dtype=dtype)
        _K[dtype.char].dropout_mask(u.reshape(-1), float(p), 1.0 / (1.0 - p), out.reshape(-1))
        return out


# --------------------------------------------------------- optimizer steps
def _in_place(p, g, *states):
    """True when p and the state arrays can be updated through flat views: C-contiguous,
    writeable, of p's shape and float dtype (g must have p's shape). Otherwise numpy does it."""
    if p.dtype.char not in "fd" or g.shape != p.shape or not (p.flags.c_contiguous and p.flags.writeable):
        return False
    return all(s.dtype == p.dtype and s.shape == p.shape and s.flags.c_contiguous and s.flags.writeable
               for s in states if s is not None)


def _grad(g, dtype):
    """g as a flat C-contiguous array of the parameter's dtype (a copy only when it must be)."""
    return np.ascontiguousarray(g, dtype=dtype).reshape(-1)


def _flat_or_none(state):
    return None if state is None else state.reshape(-1)


class _Optim:
    # Scalars go to the kernels as Python floats: Cython rounds each to the kernel's
    # float or double exactly as numpy rounds a Python float meeting an array of the
    # parameter's dtype (np.float32(x) costs ~0.4 us per call, ten of them per step).
    @staticmethod
    def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
        buf = buf if momentum else None
        if not _in_place(p, g, buf):
            return NumpyBackend.sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first)
        _K[p.dtype.char].sgd_step(p.reshape(-1), _grad(g, p.dtype), _flat_or_none(buf), lr, momentum, 1 - dampening,
                                  nesterov, weight_decay, maximize, first)

    @staticmethod
    def adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
        if not _in_place(p, g, m, v, vmax):
            return NumpyBackend.adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled,
                                          maximize)
        l2 = weight_decay if (weight_decay and not decoupled) else 0.0
        decay_factor = 1 - lr * weight_decay if (weight_decay and decoupled) else 1.0
        _K[p.dtype.char].adam_step(
            p.reshape(-1), _grad(g, p.dtype), m.reshape(-1), v.reshape(-1), _flat_or_none(vmax),
            beta1, 1 - beta1, beta2, 1 - beta2, lr / (1 - beta1 ** step), 1 / math.sqrt(1 - beta2 ** step), eps,
            l2, decay_factor, maximize)

    @staticmethod
    def rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
        buf = buf if momentum else None
        if not _in_place(p, g, sq, buf, gavg):
            return NumpyBackend.rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize)
        _K[p.dtype.char].rmsprop_step(p.reshape(-1), _grad(g, p.dtype), sq.reshape(-1), _flat_or_none(buf),
                                      _flat_or_none(gavg), lr, alpha, 1 - alpha, eps, weight_decay, momentum, maximize)

    @staticmethod
    def adagrad_step(p, g, acc, clr, eps, weight_decay, maximize):
        if not _in_place(p, g, acc):
            return NumpyBackend.adagrad_step(p, g, acc, clr, eps, weight_decay, maximize)
        _K[p.dtype.char].adagrad_step(p.reshape(-1), _grad(g, p.dtype), acc.reshape(-1), clr, eps, weight_decay,
                                      maximize)


# ------------------------------------------------------- fused recurrent kernels
class _Recurrent(RecurrentKernels):
    """rnn/lstm/gru forward and backward for a whole sequence: the wrappers of
    ``recurrent_wrappers.py`` (checks, allocation) in front of ``cython/recurrent.pyx``'s loops.

    The loops are fused Cython functions, called as they are: the float/double pick
    costs ~0.2 us, against one call per sequence.
    """
    loops = types.SimpleNamespace(**{f"{model}_{phase}_loop": getattr(recurrent, f"{model}_{phase}_loop")
                                     for model in ("rnn", "lstm", "gru") for phase in ("forward", "backward")})


class CythonBackend(_Elementwise, _Reduce, _NN, _Optim, _Recurrent, NumpyBackend):
    name = "cython"
    device = "cpu"
    description = "Cython kernels compiled ahead of time by setup.py (typed memoryviews, nogil); matmul via numpy/BLAS"
