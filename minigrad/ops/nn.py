"""Neural-network ops: linear, softmax/log-softmax, the losses, embedding, dropout.

Where fusing saves work or guards against overflow (softmax, cross-entropy,
binary cross-entropy with logits) the op is one Function with a dedicated kernel;
the simple losses (MSE, L1) are compositions of elementwise ops and reductions.
"""
import numpy as np

from .. import random as _random
from ..autograd import Function
from ..tensor import Tensor
from .common import as_tensor, check_reduction, reduce_loss, single_axis
from .elementwise import abs as _abs, mul, sub


# ------------------------------------------------------------------- linear
class Linear(Function):
    """out = x @ W^T + b for x (..., in), W (out, in), b (out,).

    dx = g @ W;  dW = g^T x (over all leading positions);  db = sum of g over them.
    """

    def forward(self, x, w, b=None):
        k = self.k
        self.saved = (x, w, b is not None)
        out = k.matmul(x, k.transpose(w, (1, 0)))
        return out if b is None else k.add(out, b)

    def backward(self, g):
        x, w, has_bias = self.saved
        k = self.k
        g2 = k.reshape(g, (-1, g.shape[-1]))
        gx = k.matmul(g, w) if self.needs_input_grad[0] else None
        gw = k.matmul(k.transpose(g2, (1, 0)), k.reshape(x, (-1, x.shape[-1]))) if self.needs_input_grad[1] else None
        gb = k.sum(g2, (0,), False) if has_bias and self.needs_input_grad[2] else None
        return (gx, gw, gb) if has_bias else (gx, gw)


def linear(x, weight, bias=None):
    """Affine map ``x @ weight.T + bias``; x (..., in), weight (out, in), bias (out,)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features "
                         f"but the weight of shape {weight.shape} expects {weight.shape[1]}")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise TypeError(f"linear: input dtype {x.dtype} does not match weight dtype {weight.dtype}"
                        + (f" / bias dtype {bias.dtype}" if bias is not None else "")
                        + "; cast the input (x.float(), x.double()) or the module (.float(), .double())")
    if bias is None:
        return Linear.apply(x, weight)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return Linear.apply(x, weight, bias)


# --------------------------------------------------------- softmax family
class Softmax(Function):
    """y_i = e^{x_i - max x} / sum_j e^{x_j - max x};  dx = y * (g - sum(g * y))."""

    def forward(self, x, axis):
        y = self.k.softmax(x, axis)
        self.saved = (y, axis)
        return y

    def backward(self, g):
        y, axis = self.saved
        return self.k.softmax_backward(y, g, axis)


class LogSoftmax(Function):
    """y = x - max x - log sum e^{x - max x};  dx = g - softmax(x) * sum(g)."""

    def forward(self, x, axis):
        y = self.k.log_softmax(x, axis)
        self.saved = (y, axis)
        return y

    def backward(self, g):
        y, axis = self.saved
        return self.k.log_softmax_backward(y, g, axis)


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=single_axis("softmax", axis, x.ndim))


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=single_axis("log_softmax", axis, x.ndim))


# ------------------------------------------------------------ class losses
class CrossEntropyRows(Function):
    """loss_i = -log softmax(logits_i)[t_i] for logits (N, C);  d logits_i = g_i (softmax_i - onehot(t_i))."""

    def forward(self, logits, targets, ignore_index, smoothing):
        losses, logp = self.k.cross_entropy(logits, targets, ignore_index, smoothing)
        self.saved = (logp, targets, ignore_index, smoothing)
        return losses

    def backward(self, g):
        logp, targets, ignore_index, smoothing = self.saved
        return self.k.cross_entropy_backward(logp, targets, g, ignore_index, smoothing)


class NLLRows(Function):
    """loss_i = -logp[i, t_i] for log-probabilities (N, C);  d logp[i, t_i] = -g_i."""

    def forward(self, logp, targets, ignore_index):
        self.saved = (logp.shape, logp.dtype, targets, ignore_index)
        return self.k.nll(logp, targets, ignore_index)

    def backward(self, g):
        shape, dtype, targets, ignore_index = self.saved
        return self.k.nll_backward(shape, targets, g, ignore_index, dtype)


def _class_rows(op, scores, targets, ignore_index):
    """Move the class axis (1) last and flatten: (N, C, d1..) -> (N*d1.., C); checks targets."""
    if not isinstance(targets, Tensor):
        targets = Tensor(np.asarray(targets))
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices, got dtype {targets.dtype}")
    if scores.ndim == 1:
        scores, expected = scores.reshape(1, -1), ()
    else:
        expected = (scores.shape[0],) + scores.shape[2:]
    if targets.shape != expected:
        raise ValueError(f"{op}: input of shape {scores.shape} needs targets of shape {expected}, got {targets.shape}")
    c = scores.shape[1]
    t = targets.numpy().reshape(-1)
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise ValueError(f"{op}: target {int(t[bad][0])} is out of range for {c} classes "
                         f"(valid: 0..{c - 1}, or ignore_index={ignore_index})")
    if scores.ndim > 2:
        scores = scores.permute(0, *range(2, scores.ndim), 1).reshape(-1, c)
    return scores, t, expected


def _weighted_reduce(op, losses, t, weight, ignore_index, reduction, out_shape, like):
    """Apply per-class weights and the reduction; 'mean' divides by the total weight of counted rows."""
    valid = t != ignore_index
    if weight is not None:
        w = weight.numpy() if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (like.shape[1],):
            raise ValueError(f"{op}: weight must have one entry per class, shape ({like.shape[1]},), got {w.shape}")
        row_w = np.where(valid, w[np.where(valid, t, 0)], 0).astype(like.dtype)
        losses = mul(losses, as_tensor(row_w, like))
        denom = float(row_w.sum())
    else:
        denom = float(valid.sum())
    if reduction == "none":
        return losses.reshape(out_shape)
    total = losses.sum()
    if reduction == "sum":
        return total
    return total * (1.0 / denom if denom else float("nan"))  # torch also gives nan when every row is ignored


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from unnormalised ``logits`` (N, C) or (N, C, d1, ...) or (C,).

    ``targets`` are integer class indices of shape (N,) or (N, d1, ...); rows whose
    target equals ``ignore_index`` contribute nothing. ``weight`` (C,) rescales each
    class; with reduction='mean' the sum is divided by the total weight of the counted rows.
    """
    check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1), got {label_smoothing}")
    if weight is not None and label_smoothing:
        raise ValueError("cross_entropy: weight together with label_smoothing is not supported")
    rows, t, out_shape = _class_rows("cross_entropy", logits, targets, ignore_index)
    losses = CrossEntropyRows.apply(rows, targets=t, ignore_index=ignore_index, smoothing=float(label_smoothing))
    return _weighted_reduce("cross_entropy", losses, t, weight, ignore_index, reduction, out_shape, rows)


def nll_loss(log_probs, targets, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer ``targets`` under ``log_probs`` (e.g. from log_softmax)."""
    check_reduction("nll_loss", reduction)
    rows, t, out_shape = _class_rows("nll_loss", log_probs, targets, ignore_index)
    losses = NLLRows.apply(rows, targets=t, ignore_index=ignore_index)
    return _weighted_reduce("nll_loss", losses, t, weight, ignore_index, reduction, out_shape, rows)


# -------------------------------------------------------- regression losses
def _same_shape(op, a, b):
    b = as_tensor(b, a)
    if a.shape != b.shape:
        raise ValueError(f"{op}: input shape {a.shape} and target shape {b.shape} differ; reshape one of them "
                         "(losses do not broadcast, since that usually hides a bug)")
    return b if b.dtype == a.dtype else b.astype(a.dtype)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: reduce((input - target)^2)."""
    check_reduction("mse_loss", reduction)
    d = sub(input, _same_shape("mse_loss", input, target))
    return reduce_loss(mul(d, d), reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error: reduce(|input - target|)."""
    check_reduction("l1_loss", reduction)
    return reduce_loss(_abs(sub(input, _same_shape("l1_loss", input, target))), reduction)


class BCEWithLogits(Function):
    """loss = max(x,0) - x*y + log(1 + e^{-|x|})  (= -[y log s(x) + (1-y) log(1-s(x))]);
    dx = g (sigmoid(x) - y),  dy = -g x."""

    def forward(self, x, y):
        self.saved = (x, y)
        return self.k.bce_with_logits(x, y)

    def backward(self, g):
        x, y = self.saved
        gx, gy = self.k.bce_with_logits_backward(x, y, g)
        return (gx if self.needs_input_grad[0] else None), (gy if self.needs_input_grad[1] else None)


def binary_cross_entropy_with_logits(logits, targets, weight=None, reduction="mean"):
    """Binary cross-entropy on raw scores, stable for any magnitude; targets in [0, 1]."""
    check_reduction("binary_cross_entropy_with_logits", reduction)
    targets = _same_shape("binary_cross_entropy_with_logits", logits, targets)
    losses = BCEWithLogits.apply(logits, targets)
    if weight is not None:
        losses = mul(losses, as_tensor(weight, logits))
    return reduce_loss(losses, reduction)


# --------------------------------------------------------------- embedding
class Embedding(Function):
    """out[..., :] = W[idx[...], :];  dW = scatter-add of g rows at idx (padding row gets 0)."""

    def forward(self, w, indices, padding_idx):
        self.saved = (indices, w.shape[0], padding_idx)
        return self.k.embedding(w, indices)

    def backward(self, g):
        indices, n, padding_idx = self.saved
        return self.k.embedding_backward(indices, g, n, padding_idx)


def embedding(indices, weight, padding_idx=None):
    """Look up rows of ``weight`` (V, D) for integer ``indices`` of any shape -> (*indices.shape, D)."""
    idx = indices.numpy() if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape {weight.shape}")
    v = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= v):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {int(bad)} is out of range for {v} embeddings (valid: 0..{v - 1})")
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx)


# ----------------------------------------------------------------- dropout
class Dropout(Function):
    """out = x * mask, mask_i = 1/(1-p) with probability 1-p else 0;  dx = g * mask."""

    def forward(self, x, mask):
        self.saved = mask
        return self.k.mul(x, mask)

    def backward(self, g):
        return self.k.mul(g, self.saved)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p (in training), scaling the rest by 1/(1-p)."""
    if not (isinstance(p, (int, float)) and 0.0 <= p < 1.0):
        raise ValueError(f"dropout: p must be a probability in [0, 1), got {p!r}")
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating-point tensor, got dtype {x.dtype}")
    if not training or p == 0.0:
        return x
    mask = x._k().dropout_mask(x.shape, float(p), _random.generator(), x.dtype)
    return Dropout.apply(x, mask=mask)
