"""Loop kernels for the nn ops: softmax family, losses, embedding backward, dropout, scatter-add.

Why loops win here:

* softmax and friends are *row* operations (max, sum of exponentials, normalise). numpy
  does each step as a separate pass over the whole array with a temporary in between;
  the loops below do all steps on one row while it sits in L1 cache.
* ``exp`` is the other half of the cost. numba's LLVM has no SVML vector math library,
  so ``math.exp`` in a loop is a scalar libm call (numpy's float64 ``np.exp`` measured no
  faster here: ~6 ns per element). ``_exp_poly`` below is the classic Cephes algorithm
  written with multiply-adds, one division and a bit trick, so LLVM vectorises it
  (~1 ns per element, float32 or float64 input).
* scatter-add (embedding backward, the backward of ``x[int_array]``) is a plain loop
  over rows: ``np.add.at`` is a general, unbuffered ufunc method and 5-30x slower.

Not here, on purpose: the embedding *forward* (a row gather, ``weight[indices]``). numpy's
fancy indexing already copies whole rows with memcpy and there is nothing to fuse; a loop
measured 0.8-0.9x numpy's speed on small batches, so the numba backend keeps numpy's.

Layout convention: a "rows" loop sees a C-contiguous (R, C) array and reduces over C;
a "cols" loop sees (O, C, I) and reduces over the middle axis, with the innermost
(contiguous, length I) axis as the vectorised one. The wrappers reshape any input
into one of the two without copying when it is already contiguous, so softmax over
``axis=0`` needs no transpose.
"""
import math

import numpy as np
from numba.extending import register_jitable

from . import kernel

# ------------------------------------------------------------------ scalars
# Scalar helpers are ``register_jitable``: plain Python functions that numba compiles into
# (and, with inline="always", inlines into) each loop that calls them. The "python" backend
# then runs them interpreted like the loops themselves; a @kernel helper would run
# compiled even when called from an uncompiled loop.
_LOG2E = 1.4426950408889634
# ln 2 split in two (Cody & Waite): _LN2_HI has few mantissa bits so n * _LN2_HI is exact.
_LN2_HI = 6.93145751953125e-1
_LN2_LO = 1.42860682030941723212e-6
# Cephes exp: exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) on |r| <= ln(2)/2.
_EP = (1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1)
_EQ = (3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1, 2.0)


@register_jitable(inline="always")
def _exp_poly(x):
    """exp(x) in float64 (from float32 or float64 x), vectorisable; relative error < 3e-14.

    exp(x) = 2^n exp(r) with n = round(x / ln 2) and |r| <= ln(2)/2. exp(r) comes from a
    rational function; 2^n is built directly as the bits of a float64 (exponent field
    n + 1023, shifted 52 places). x is clamped to [-709, 709]: below, the result is 0
    (libm gives denormals down to -745); above, it saturates at e^709 ~ 8e307 instead of
    overflowing, because fastmath code may assume no value is ever inf (an inf here came
    out as nan). Every caller either passes x <= 0 or only needs "huge". fastmath also
    lets LLVM merge the two halves of ln 2, which costs accuracy only for large |n|:
    < 3e-14 relative over the whole range, ~1e-15 for |x| < 30.
    """
    x = min(max(float(x), -709.0), 709.0)  # float(): float64 arithmetic, compiled or interpreted
    n = np.floor(_LOG2E * x + 0.5)
    r = x - n * _LN2_HI - n * _LN2_LO
    rr = r * r
    p = r * ((_EP[0] * rr + _EP[1]) * rr + _EP[2])
    q = ((_EQ[0] * rr + _EQ[1]) * rr + _EQ[2]) * rr + _EQ[3]
    e = 1.0 + 2.0 * p / (q - p)
    # int32 first: AVX2 converts doubles to int32 in vector registers, not to int64.
    return e * np.int64((np.int64(np.int32(n)) + 1023) << 52).view(np.float64)


@register_jitable(inline="always")
def _log1p_series(e):
    """log(1 + e) for 0 <= e <= 1, in float64, vectorisable; accurate to ~1 ulp, also for tiny e.

    log(1 + e) = 2 atanh(s) with s = e / (2 + e) <= 1/3, and
    2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...): 17 terms reach float64 precision at s = 1/3.
    No ``1 + e`` is ever formed, so nothing is lost when e is below machine epsilon.
    """
    s = e / (2.0 + e)
    z = s * s
    t = 1.0 / 33.0
    for k in range(15, -1, -1):  # Horner in z, constant trip count: fully unrolled by LLVM
        t = t * z + 1.0 / (2 * k + 1)
    return 2.0 * s * t


# ------------------------------------------------------------ softmax family
@kernel
def softmax_rows_loop(x, out, log):
    """Softmax (log=False) or log-softmax (log=True) of each row of x (R, C), into out (R, C).

    softmax:     y = e^{x - m} / sum e^{x - m},   m = max of the row (so exp never overflows)
    log-softmax: y = (x - m) - log sum e^{x - m}  (in this order: x - m is exact, which keeps
                 full relative precision even for logits like 1e4)
    """
    rows, cols = x.shape
    for r in range(rows):
        m = x[r, 0]
        for c in range(1, cols):
            m = max(m, x[r, c])
        s = 0.0
        if log:
            for c in range(cols):
                s += _exp_poly(x[r, c] - m)
            ls = math.log(s)
            for c in range(cols):
                out[r, c] = (x[r, c] - m) - ls
        else:
            for c in range(cols):
                e = _exp_poly(x[r, c] - m)
                out[r, c] = e
                s += e
            inv = 1.0 / s
            for c in range(cols):
                out[r, c] *= inv


@kernel
def softmax_cols_loop(x, out, log):
    """Softmax / log-softmax over the middle axis of x (O, C, I), into out (O, C, I).

    The same equations as ``softmax_rows_loop``, for a reduced axis that is not the last:
    for each o the I columns are processed together, keeping a running max and sum per
    column, so the innermost loop runs over contiguous memory and vectorises.

    The running max goes back and forth between two buffers (``m`` and ``spare``): updated
    in place, "m[i] = max(m[i], x)" compiles to a masked store (write only where x is
    larger), which AMD CPUs execute very slowly; into the other buffer it is a plain
    store, 6x faster.
    """
    outer, cols, inner = x.shape
    m = np.empty(inner, dtype=x.dtype)
    spare = np.empty(inner, dtype=x.dtype)
    s = np.empty(inner, dtype=np.float64)
    for o in range(outer):
        for i in range(inner):
            m[i] = x[o, 0, i]
            s[i] = 0.0
        for c in range(1, cols):
            for i in range(inner):
                spare[i] = max(m[i], x[o, c, i])
            m, spare = spare, m
        if log:
            for c in range(cols):
                for i in range(inner):
                    s[i] += _exp_poly(x[o, c, i] - m[i])
            for i in range(inner):
                s[i] = math.log(s[i])
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] = (x[o, c, i] - m[i]) - s[i]
        else:
            for c in range(cols):
                for i in range(inner):
                    e = _exp_poly(x[o, c, i] - m[i])
                    out[o, c, i] = e
                    s[i] += e
            for i in range(inner):
                s[i] = 1.0 / s[i]
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] *= s[i]


@kernel
def softmax_backward_rows_loop(y, g, out, log):
    """Backward of softmax / log-softmax over each row of (R, C) arrays.

    softmax (y = softmax(x)):       dx = y * (g - sum(g * y))
    log-softmax (y = log_softmax):  dx = g - e^y * sum(g)
    """
    rows, cols = y.shape
    for r in range(rows):
        s = 0.0
        if log:
            for c in range(cols):
                s += g[r, c]
            for c in range(cols):
                out[r, c] = g[r, c] - _exp_poly(y[r, c]) * s
        else:
            for c in range(cols):
                s += g[r, c] * y[r, c]
            for c in range(cols):
                out[r, c] = y[r, c] * (g[r, c] - s)


@kernel
def softmax_backward_cols_loop(y, g, out, log):
    """``softmax_backward_rows_loop`` for a reduced middle axis of (O, C, I) arrays."""
    outer, cols, inner = y.shape
    s = np.empty(inner, dtype=np.float64)
    for o in range(outer):
        for i in range(inner):
            s[i] = 0.0
        if log:
            for c in range(cols):
                for i in range(inner):
                    s[i] += g[o, c, i]
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] = g[o, c, i] - _exp_poly(y[o, c, i]) * s[i]
        else:
            for c in range(cols):
                for i in range(inner):
                    s[i] += g[o, c, i] * y[o, c, i]
            for c in range(cols):
                for i in range(inner):
                    out[o, c, i] = y[o, c, i] * (g[o, c, i] - s[i])


# -------------------------------------------------------------- class losses
@kernel
def cross_entropy_loop(x, targets, ignore_index, smoothing, losses, logp):
    """Softmax cross-entropy of logits x (N, C): one pass per row. Returns -1, or a bad row.

    logp[i] = log_softmax(x[i])   (kept: the backward needs it)
    loss_i  = -logp[i, t_i]                                       without smoothing
            = -(1 - eps) logp[i, t_i] - eps * mean_c logp[i, c]    with label smoothing eps
            = 0                                                    when t_i == ignore_index
    A target outside 0..C-1 (and not ignore_index) stops the loop; its row is returned.
    """
    rows, cols = x.shape
    for r in range(rows):
        m = x[r, 0]
        for c in range(1, cols):
            m = max(m, x[r, c])
        s = 0.0
        for c in range(cols):
            s += _exp_poly(x[r, c] - m)
        ls = math.log(s)
        total = 0.0
        for c in range(cols):
            v = (x[r, c] - m) - ls
            logp[r, c] = v
            total += v
        t = targets[r]
        if t == ignore_index:
            losses[r] = 0.0
            continue
        if t < 0 or t >= cols:
            return r
        loss = -logp[r, t]
        if smoothing != 0.0:
            loss = (1.0 - smoothing) * loss - smoothing * (total / cols)
        losses[r] = loss
    return -1


@kernel
def cross_entropy_backward_loop(logp, targets, g, ignore_index, smoothing, out):
    """d loss_i / d x[i, c] = g_i (softmax[i, c] - q[i, c]), softmax = e^logp, for (N, C) arrays.

    q is the (smoothed) one-hot target: 1 - eps + eps/C at t_i, eps/C elsewhere. Rows with
    t_i == ignore_index get zero gradient. Returns -1, or the first row with a bad target.
    """
    rows, cols = logp.shape
    off = smoothing / cols  # q away from the target
    on = 1.0 - smoothing    # extra q at the target
    for r in range(rows):
        t = targets[r]
        if t == ignore_index:
            for c in range(cols):
                out[r, c] = 0.0
            continue
        if t < 0 or t >= cols:
            return r
        gr = g[r]
        for c in range(cols):
            out[r, c] = (_exp_poly(logp[r, c]) - off) * gr
        # the target entry on its own, as (p - 1 + ...) * g: p - 1 cancels before the
        # product, exactly as in the numpy reference
        out[r, t] = (_exp_poly(logp[r, t]) - on - off) * gr
    return -1


@kernel
def nll_loop(logp, targets, ignore_index, out):
    """out[i] = -logp[i, t_i] (0 where t_i == ignore_index). Returns -1, or the first bad row."""
    rows, cols = logp.shape
    for r in range(rows):
        t = targets[r]
        if t == ignore_index:
            out[r] = 0.0
        elif t < 0 or t >= cols:
            return r
        else:
            out[r] = -logp[r, t]
    return -1


@kernel
def nll_backward_loop(targets, g, ignore_index, out):
    """out (N, C), zero on entry: out[i, t_i] = -g_i for every row not ignored. Returns -1, or a bad row."""
    rows, cols = out.shape
    for r in range(rows):
        t = targets[r]
        if t == ignore_index:
            continue
        if t < 0 or t >= cols:
            return r
        out[r, t] = -g[r]
    return -1


# ----------------------------------------------------- binary cross-entropy
@kernel
def bce_with_logits_loop(x, y, out):
    """out = max(x, 0) - x y + log(1 + e^{-|x|}) elementwise (flat arrays): log-loss that never overflows."""
    for i in range(x.size):
        xi = x[i]
        out[i] = max(xi, 0.0) - xi * y[i] + _log1p_series(_exp_poly(-abs(xi)))


@kernel
def bce_with_logits_backward_loop(x, y, g, gx, gy):
    """gx = g (sigmoid(x) - y),  gy = -g x  (flat arrays); sigmoid(x) = 1 / (1 + e^{-x})."""
    for i in range(x.size):
        xi = x[i]
        gx[i] = g[i] * (1.0 / (1.0 + _exp_poly(-xi)) - y[i])
        gy[i] = -g[i] * xi


# ---------------------------------------------------- gather / scatter-add
@kernel
def scatter_add_rows_loop(idx, g, out, skip):
    """out[idx[k], :] += g[k, :] for g (K, D), out (V, D); repeated indices accumulate.

    Rows whose (wrapped) index equals ``skip`` are left out (an embedding's padding row;
    pass -1 for none). Negative indices count from the end, as in numpy. Returns -1, or
    the position of an index out of range.
    """
    n = out.shape[0]
    for k in range(idx.size):
        j = idx[k]
        if j < 0:
            j += n
        if j < 0 or j >= n:
            return k
        if j == skip:
            continue
        for d in range(g.shape[1]):
            out[j, d] += g[k, d]
    return -1


# ----------------------------------------------------------------- dropout
@kernel
def dropout_mask_loop(u, p, scale, out):
    """out[i] = scale if u[i] >= p else 0: inverted dropout from uniform draws u in [0, 1)."""
    for i in range(u.size):
        out[i] = scale if u[i] >= p else 0.0


# --------------------------------------------------------------- wrappers
# The wrappers run once per op call, so they avoid the slow numpy conveniences on small
# inputs (np.prod of a shape tuple ~4 us, np.broadcast_to ~4 us): math.prod, fast paths.

def _is_float(*arrays):
    return all(a.dtype.char in "fd" for a in arrays)  # float32 or float64


def _dense(a, shape, dtype):
    """``a`` broadcast to ``shape`` as a C-contiguous array of ``dtype`` (no copy if it already is one)."""
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    if a.dtype != dtype or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=dtype)
    return a


def _three_d(shape, axis):
    """(outer, C, inner) sizes of ``shape`` around ``axis`` (None: everything is one row)."""
    if axis is None:
        return 1, math.prod(shape), 1
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _single_axis(axis, ndim):
    """An int axis in range, None for "all", or False when the loops do not handle it."""
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            return False
        axis = axis[0]
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        return False
    return axis % ndim


def _softmax(loops, x, axis, log):
    outer, c, inner = _three_d(x.shape, axis)
    out = np.empty(x.shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)
    if inner == 1:
        loops.softmax_rows_loop(x.reshape(outer, c), out.reshape(outer, c), log)
    else:
        loops.softmax_cols_loop(x.reshape(outer, c, inner), out.reshape(outer, c, inner), log)
    return out


def _softmax_backward(loops, y, g, axis, log):
    outer, c, inner = _three_d(y.shape, axis)
    g = _dense(g, y.shape, y.dtype)
    y = np.ascontiguousarray(y)
    out = np.empty(y.shape, dtype=y.dtype)
    if inner == 1:
        loops.softmax_backward_rows_loop(y.reshape(outer, c), g.reshape(outer, c), out.reshape(outer, c), log)
    else:
        shape = (outer, c, inner)
        loops.softmax_backward_cols_loop(y.reshape(shape), g.reshape(shape), out.reshape(shape), log)
    return out


def _int64(targets):
    return np.ascontiguousarray(targets, dtype=np.int64).reshape(-1)


def _targets(targets, n):
    """Targets as a flat int64 array of n entries, or None (wrong kind or count: numpy decides)."""
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu" or targets.size != n:
        return None
    return _int64(targets)


def _check(bad, op, index, size):
    if bad >= 0:
        raise IndexError(f"{op}: index {int(np.asarray(index).reshape(-1)[bad])} is out of bounds "
                         f"for size {size}")


def _same_shape_floats(*arrays):
    """The arrays broadcast to one shape, as flat C-contiguous arrays of their common float dtype."""
    first = arrays[0]
    if all(a.shape == first.shape and a.dtype == first.dtype for a in arrays):  # the usual case
        shape, dtype = first.shape, first.dtype
    else:
        shape, dtype = np.broadcast_shapes(*(a.shape for a in arrays)), np.result_type(*arrays)
    return shape, dtype, [_dense(a, shape, dtype).reshape(-1) for a in arrays]


class NNKernels:
    """Kernel-set entries implemented with nn loops (``cls.loops`` picks compiled or interpreted).

    Anything the loops do not cover (integer dtypes, exotic axes or indices) goes to the
    numpy reference through ``super()``, so semantics never change.
    """

    # --------------------------------------------------------- softmax family
    @classmethod
    def softmax(cls, x, axis):
        ax = _single_axis(axis, x.ndim)
        if ax is False or not _is_float(x) or x.size == 0:
            return super().softmax(x, axis)
        return _softmax(cls.loops, x, ax, False)

    @classmethod
    def log_softmax(cls, x, axis):
        ax = _single_axis(axis, x.ndim)
        if ax is False or not _is_float(x) or x.size == 0:
            return super().log_softmax(x, axis)
        return _softmax(cls.loops, x, ax, True)

    @classmethod
    def softmax_backward(cls, y, g, axis):
        ax = _single_axis(axis, y.ndim)
        if ax is False or not _is_float(y) or g.dtype != y.dtype or y.size == 0:
            return super().softmax_backward(y, g, axis)
        return _softmax_backward(cls.loops, y, g, ax, False)

    @classmethod
    def log_softmax_backward(cls, y, g, axis):
        ax = _single_axis(axis, y.ndim)
        if ax is False or not _is_float(y) or g.dtype != y.dtype or y.size == 0:
            return super().log_softmax_backward(y, g, axis)
        return _softmax_backward(cls.loops, y, g, ax, True)

    # ----------------------------------------------------------- class losses
    @classmethod
    def cross_entropy(cls, logits, targets, ignore_index, label_smoothing):
        """logits (N, C), targets (N,) -> (losses (N,), log_probs (N, C))."""
        t = _targets(targets, logits.shape[0]) if logits.ndim == 2 else None
        if t is None or not _is_float(logits) or logits.size == 0:
            return super().cross_entropy(logits, targets, ignore_index, label_smoothing)
        n, c = logits.shape
        losses = np.empty(n, dtype=logits.dtype)
        logp = np.empty((n, c), dtype=logits.dtype)
        bad = cls.loops.cross_entropy_loop(np.ascontiguousarray(logits), t, int(ignore_index),
                                           float(label_smoothing), losses, logp)
        _check(bad, "cross_entropy", targets, c)
        return losses, logp

    @classmethod
    def cross_entropy_backward(cls, logp, targets, g, ignore_index, label_smoothing):
        t = _targets(targets, logp.shape[0]) if logp.ndim == 2 else None
        if t is None or not _is_float(logp) or logp.size == 0:
            return super().cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing)
        out = np.empty(logp.shape, dtype=logp.dtype)
        g = _dense(g, (logp.shape[0],), logp.dtype)
        bad = cls.loops.cross_entropy_backward_loop(np.ascontiguousarray(logp), t, g,
                                                    int(ignore_index), float(label_smoothing), out)
        _check(bad, "cross_entropy_backward", targets, logp.shape[1])
        return out

    @classmethod
    def nll(cls, logp, targets, ignore_index):
        t = _targets(targets, logp.shape[0]) if logp.ndim == 2 else None
        if t is None or not _is_float(logp):
            return super().nll(logp, targets, ignore_index)
        out = np.empty(logp.shape[0], dtype=logp.dtype)
        bad = cls.loops.nll_loop(np.ascontiguousarray(logp), t, int(ignore_index), out)
        _check(bad, "nll", targets, logp.shape[1])
        return out

    @classmethod
    def nll_backward(cls, shape, targets, g, ignore_index, dtype):
        dtype = np.dtype(dtype)
        t = _targets(targets, shape[0]) if len(shape) == 2 else None
        if t is None or dtype.char not in "fd":
            return super().nll_backward(shape, targets, g, ignore_index, dtype)
        out = np.zeros(shape, dtype=dtype)
        g = _dense(g, (shape[0],), dtype)
        bad = cls.loops.nll_backward_loop(t, g, int(ignore_index), out)
        _check(bad, "nll_backward", targets, shape[1])
        return out

    @classmethod
    def bce_with_logits(cls, x, y):
        if not _is_float(x, y):
            return super().bce_with_logits(x, y)
        shape, dtype, (xf, yf) = _same_shape_floats(x, y)
        out = np.empty(shape, dtype=dtype)
        cls.loops.bce_with_logits_loop(xf, yf, out.reshape(-1))
        return out

    @classmethod
    def bce_with_logits_backward(cls, x, y, g):
        if not _is_float(x, y, g):
            return super().bce_with_logits_backward(x, y, g)
        shape, dtype, (xf, yf, gf) = _same_shape_floats(x, y, g)
        gx, gy = np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype)
        cls.loops.bce_with_logits_backward_loop(xf, yf, gf, gx.reshape(-1), gy.reshape(-1))
        return gx, gy

    # ------------------------------------------------------ gather / scatter
    @classmethod
    def embedding_backward(cls, indices, g, num_embeddings, padding_idx):
        """Scatter-add rows of g (*indices.shape, D) into a (V, D) zero matrix; padding row stays 0."""
        indices = np.asarray(indices)
        v, d = num_embeddings, (g.shape[-1] if g.ndim else 0)
        if (indices.dtype.kind not in "iu" or not _is_float(g) or g.size == 0 or v == 0
                or g.shape != indices.shape + (d,) or (padding_idx is not None and not -v <= padding_idx < v)):
            return super().embedding_backward(indices, g, num_embeddings, padding_idx)
        out = np.zeros((num_embeddings, d), dtype=g.dtype)
        skip = -1 if padding_idx is None else padding_idx % num_embeddings  # numpy's out[-1] is the last row
        bad = cls.loops.scatter_add_rows_loop(_int64(indices), np.ascontiguousarray(g).reshape(-1, d), out, skip)
        _check(bad, "embedding_backward", indices, num_embeddings)
        return out

    @classmethod
    def scatter_add(cls, shape, index, g, dtype, accumulate):
        """Backward of getitem. The loop handles the common case ``x[int_array]`` (rows of axis 0)
        with accumulation; every other index form keeps numpy's exact semantics."""
        idx = index[0] if isinstance(index, tuple) and len(index) == 1 else index
        dtype = np.dtype(dtype)
        if not (accumulate and isinstance(idx, np.ndarray) and idx.dtype.kind in "iu" and len(shape) >= 1
                and dtype.char in "fd" and g.shape == idx.shape + tuple(shape[1:])):
            return super().scatter_add(shape, index, g, dtype, accumulate)
        row = math.prod(shape[1:])
        if row == 0 or idx.size == 0:
            return super().scatter_add(shape, index, g, dtype, accumulate)
        out = np.zeros(shape, dtype=dtype)
        g2 = np.ascontiguousarray(g, dtype=dtype).reshape(-1, row)
        bad = cls.loops.scatter_add_rows_loop(_int64(idx), g2, out.reshape(-1, row), -1)
        _check(bad, "scatter_add", idx, shape[0])
        return out

    # --------------------------------------------------------------- dropout
    @classmethod
    def dropout_mask(cls, shape, p, rng, dtype):
        """Inverted-dropout mask. The uniforms are drawn exactly as the numpy kernel draws them
        (``rng.random(shape)``, float64), so the same seed gives the same mask on every backend."""
        dtype = np.dtype(dtype)
        if dtype.char not in "fd":
            return super().dropout_mask(shape, p, rng, dtype)
        u = rng.random(shape)
        out = np.empty(u.shape, dtype=dtype)
        cls.loops.dropout_mask_loop(u.reshape(-1), float(p), dtype.type(1.0 / (1.0 - p)), out.reshape(-1))
        return out
