"""nn loop kernels: softmax and log-softmax, the class losses, scatter-add, the dropout mask.

Why loops win here:

* softmax, log-softmax and cross-entropy are *row* operations (max, sum of
  exponentials, normalise, pick the target). numpy does each step as a separate pass
  over the whole array with a temporary in between; the loops below do all steps on
  one row while it sits in L1 cache.
* ``exp`` is the other half of the cost: ``_exp_poly`` (``_scalar.py``) vectorises
  where libm's exp is one scalar call per element.
* scatter-add (the backward of an embedding lookup and of ``x[int_array]``) is a plain
  loop over rows, where numpy's ``np.add.at`` is a general, unbuffered ufunc method.

Layouts: a "rows" loop sees a C-contiguous (R, C) array and reduces over C; a "cols"
loop sees (O, C, I) and reduces over the middle axis, with the innermost (contiguous,
length I) axis as the vectorised one, so softmax over ``axis=0`` needs no transpose.
Class targets and indices are int64 arrays; a loop that meets one out of range stops
and returns its position (else -1), and the wrapper raises IndexError.
"""
import math

import numpy as np

from ._jit import kernel
from ._scalar import _exp_poly, _log1p_series, _sigmoid


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
    """out = max(x, 0) - x y + log(1 + e^{-|x|}) elementwise (flat arrays): log-loss that never overflows.

    max(x, 0) - x y is written x (1 - y) for x >= 0 and -x y below, so an infinite logit
    gives an infinite loss instead of inf - inf = NaN.
    """
    for i in range(x.size):
        xi, yi = x[i], y[i]
        linear = xi * (1.0 - yi) if xi >= 0 else -xi * yi
        out[i] = linear + _log1p_series(_exp_poly(-abs(xi)))


@kernel
def bce_with_logits_backward_loop(x, y, g, gx, gy):
    """gx = g (sigmoid(x) - y),  gy = -g x  (flat arrays)."""
    for i in range(x.size):
        xi = x[i]
        gx[i] = g[i] * (_sigmoid(xi) - y[i])
        gy[i] = -g[i] * xi


# -------------------------------------------------------------- scatter-add
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


# ------------------------------------------------------------ dropout
@kernel
def dropout_mask_loop(u, p, scale, out):
    """out[i] = scale if u[i] >= p else 0: inverted dropout from uniform draws u in [0, 1)."""
    for i in range(u.size):
        out[i] = scale if u[i] >= p else 0.0
