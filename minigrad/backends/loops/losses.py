"""Loop kernels for the class losses: softmax cross-entropy, NLL, binary cross-entropy with logits.

Cross-entropy is a row operation like softmax (``softmax.py``): max, sum of exponentials,
log-probabilities and the row's loss are computed in one pass while the row sits in L1
cache, with the vectorisable ``_exp_poly`` (``_scalar.py``) in place of libm's scalar exp.
A target out of range makes a loop stop and return its row; the wrapper raises.
"""
import math

import numpy as np

from .. import _arrays as A
from . import kernel
from ._scalar import _exp_poly, _log1p_series, _tanh32


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


@kernel
def bce_with_logits_backward_f32_loop(x, y, g, gx, gy):
    """float32 version: sigmoid(x) = (1 + tanh(x/2)) / 2 with the vectorised float32 tanh,
    which stays in float32 lanes (twice the width of the float64 exp path)."""
    half = np.float32(0.5)
    for i in range(x.size):
        xi = x[i]
        gx[i] = g[i] * (half * _tanh32(half * xi) + half - y[i])
        gy[i] = -g[i] * xi


# --------------------------------------------------------------- wrappers
def _targets(targets, n):
    """Targets as a flat int64 array of n entries, or None (wrong kind or count: numpy decides)."""
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu" or targets.size != n:
        return None
    return A.int64(targets)


def _same_shape_floats(*arrays):
    """The arrays broadcast to one shape, as flat C-contiguous arrays of their common float dtype."""
    first = arrays[0]
    if all(a.shape == first.shape and a.dtype == first.dtype for a in arrays):  # the usual case
        shape, dtype = first.shape, first.dtype
    else:
        shape, dtype = np.broadcast_shapes(*(a.shape for a in arrays)), np.result_type(*arrays)
    return shape, dtype, [A.dense(a, shape, dtype).reshape(-1) for a in arrays]


class LossKernels:
    """Kernel-set entries implemented with the loss loops (``cls.loops`` picks compiled or interpreted).

    Anything the loops do not cover (integer dtypes, targets of the wrong kind or count)
    goes to the numpy reference through ``super()``, so semantics never change.
    """

    @classmethod
    def cross_entropy(cls, logits, targets, ignore_index, label_smoothing):
        """logits (N, C), targets (N,) -> (losses (N,), log_probs (N, C))."""
        t = _targets(targets, logits.shape[0]) if logits.ndim == 2 else None
        if t is None or not A.is_float(logits) or logits.size == 0:
            return super().cross_entropy(logits, targets, ignore_index, label_smoothing)
        n, c = logits.shape
        losses = np.empty(n, dtype=logits.dtype)
        logp = np.empty((n, c), dtype=logits.dtype)
        bad = cls.loops.cross_entropy_loop(np.ascontiguousarray(logits), t, int(ignore_index),
                                           float(label_smoothing), losses, logp)
        A.check_index(bad, "cross_entropy", targets, c)
        return losses, logp

    @classmethod
    def cross_entropy_backward(cls, logp, targets, g, ignore_index, label_smoothing):
        t = _targets(targets, logp.shape[0]) if logp.ndim == 2 else None
        if t is None or not A.is_float(logp) or logp.size == 0:
            return super().cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing)
        out = np.empty(logp.shape, dtype=logp.dtype)
        g = A.dense(g, (logp.shape[0],), logp.dtype)
        bad = cls.loops.cross_entropy_backward_loop(np.ascontiguousarray(logp), t, g,
                                                    int(ignore_index), float(label_smoothing), out)
        A.check_index(bad, "cross_entropy_backward", targets, logp.shape[1])
        return out

    @classmethod
    def nll(cls, logp, targets, ignore_index):
        t = _targets(targets, logp.shape[0]) if logp.ndim == 2 else None
        if t is None or not A.is_float(logp):
            return super().nll(logp, targets, ignore_index)
        out = np.empty(logp.shape[0], dtype=logp.dtype)
        bad = cls.loops.nll_loop(np.ascontiguousarray(logp), t, int(ignore_index), out)
        A.check_index(bad, "nll", targets, logp.shape[1])
        return out

    @classmethod
    def nll_backward(cls, shape, targets, g, ignore_index, dtype):
        dtype = np.dtype(dtype)
        t = _targets(targets, shape[0]) if len(shape) == 2 else None
        if t is None or dtype.char not in "fd":
            return super().nll_backward(shape, targets, g, ignore_index, dtype)
        out = np.zeros(shape, dtype=dtype)
        g = A.dense(g, (shape[0],), dtype)
        bad = cls.loops.nll_backward_loop(t, g, int(ignore_index), out)
        A.check_index(bad, "nll_backward", targets, shape[1])
        return out

    @classmethod
    def bce_with_logits(cls, x, y):
        if not A.is_float(x, y):
            return super().bce_with_logits(x, y)
        shape, dtype, (xf, yf) = _same_shape_floats(x, y)
        out = np.empty(shape, dtype=dtype)
        cls.loops.bce_with_logits_loop(xf, yf, out.reshape(-1))
        return out

    @classmethod
    def bce_with_logits_backward(cls, x, y, g):
        if not A.is_float(x, y, g):
            return super().bce_with_logits_backward(x, y, g)
        shape, dtype, (xf, yf, gf) = _same_shape_floats(x, y, g)
        gx, gy = np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype)
        loop = (cls.loops.bce_with_logits_backward_f32_loop if dtype == np.float32
                else cls.loops.bce_with_logits_backward_loop)
        loop(xf, yf, gf, gx.reshape(-1), gy.reshape(-1))
        return gx, gy
