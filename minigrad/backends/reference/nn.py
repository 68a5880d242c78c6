"""nn kernels: numpy's scatter-add, and softmax, the losses, embedding and dropout composed
from the required kernels (the contract's defaults, run as they are by the numpy backend).

Class targets and embedding indices are host numpy arrays (``kernel_set.py``): the
defaults build their index arrays on the host and hand them to ``getitem`` /
``scatter_add``, which each backend applies to its own arrays.
"""
import numpy as np

from ..kernel_set import default_for


# ====================================================== required: numpy's own
def scatter_add(shape, index, g, dtype, accumulate):
    out = np.zeros(shape, dtype=dtype)
    if accumulate:
        np.add.at(out, index, g)  # unbuffered: an element picked twice gets both contributions
    else:
        out[index] = g  # plain slices never repeat an element: one assignment does
    return out


# ==================================================== fused: composed defaults
# ------------------------------------------------------------ softmax family
def _axes(axis, ndim):
    """The reduction axes of a softmax over one int ``axis`` (or every element when None)."""
    return None if axis is None else (axis % ndim,)


@default_for("softmax")
def _softmax(k, x, axis):
    axes = _axes(axis, x.ndim)
    e = k.exp(k.sub(x, k.max(x, axes, True)))  # shifted by the max: exp never overflows
    return k.div(e, k.sum(e, axes, True))


@default_for("log_softmax")
def _log_softmax(k, x, axis):
    axes = _axes(axis, x.ndim)
    shifted = k.sub(x, k.max(x, axes, True))  # exact, so even logits like 1e4 keep their precision
    return k.sub(shifted, k.log(k.sum(k.exp(shifted), axes, True)))


@default_for("softmax_backward")
def _softmax_backward(k, y, g, axis):
    return k.mul(y, k.sub(g, k.sum(k.mul(g, y), _axes(axis, y.ndim), True)))


@default_for("log_softmax_backward")
def _log_softmax_backward(k, y, g, axis):
    return k.sub(g, k.mul(k.exp(y), k.sum(g, _axes(axis, y.ndim), True)))


# ------------------------------------------------------------- class losses
def _rows(targets, ignore_index):
    """Host index arrays (rows, cols) picking each row's target (column 0 for ignored rows),
    and the host bool array of rows that count."""
    targets = np.asarray(targets)
    valid = targets != ignore_index
    return (np.arange(targets.shape[0]), np.where(valid, targets, 0)), valid


@default_for("cross_entropy")
def _cross_entropy(k, logits, targets, ignore_index, label_smoothing):
    logp = k.log_softmax(logits, 1)
    pick, valid = _rows(targets, ignore_index)
    loss = k.neg(k.getitem(logp, pick))
    if label_smoothing:
        loss = k.sub(k.mul(loss, 1 - label_smoothing), k.mul(k.mean(logp, (1,), False), label_smoothing))
    return k.where(k.asarray(valid, np.bool_), loss, 0), logp


@default_for("cross_entropy_backward")
def _cross_entropy_backward(k, logp, targets, g, ignore_index, label_smoothing):
    n, c = logp.shape
    pick, valid = _rows(targets, ignore_index)
    # softmax - q, q the smoothed one-hot target: 1 - eps at the target, eps / C everywhere.
    # grad is a new array of our own: the target entries are updated in it, N values, in place.
    grad = k.exp(logp)
    k.setitem(grad, pick, k.sub(k.getitem(grad, pick), 1 - label_smoothing))
    if label_smoothing:
        grad = k.sub(grad, label_smoothing / c)
    return k.mul(grad, k.reshape(k.where(k.asarray(valid, np.bool_), g, 0), (n, 1)))


@default_for("nll")
def _nll(k, logp, targets, ignore_index):
    pick, valid = _rows(targets, ignore_index)
    return k.where(k.asarray(valid, np.bool_), k.neg(k.getitem(logp, pick)), 0)


@default_for("nll_backward")
def _nll_backward(k, shape, targets, g, ignore_index, dtype):
    pick, valid = _rows(targets, ignore_index)
    return k.scatter_add(tuple(shape), pick, k.where(k.asarray(valid, np.bool_), k.neg(g), 0), dtype, False)


@default_for("bce_with_logits")
def _bce_with_logits(k, x, y):
    # -[y log s(x) + (1 - y) log(1 - s(x))] = max(x, 0) - x y + log(1 + e^{-|x|}), which never
    # overflows; max(x, 0) - x y as x (1 - y) for x >= 0, else -x y: an infinite logit then
    # gives an infinite loss, not inf - inf = NaN
    linear = k.where(k.compare("ge", x, 0), k.mul(x, k.sub(1, y)), k.mul(k.neg(x), y))
    return k.add(linear, _log1p(k, k.exp(k.neg(k.abs(x)))))


def _log1p(k, e):
    """log(1 + e) accurate also for tiny e, from log alone (Goldberg's trick): with u = 1 + e
    rounded, log(u) * e / (u - 1) cancels the rounding error of u; where u rounds to 1, e itself."""
    u = k.add(e, 1)
    d = k.sub(u, 1)
    tiny = k.compare("eq", d, 0)
    return k.where(tiny, e, k.mul(k.log(u), k.div(e, k.where(tiny, 1, d))))


@default_for("bce_with_logits_backward")
def _bce_with_logits_backward(k, x, y, g):
    return k.mul(g, k.sub(k.sigmoid(x), y)), k.mul(g, k.neg(x))


# ------------------------------------------------------------ embedding, dropout
@default_for("embedding")
def _embedding(k, weight, indices):
    return k.getitem(weight, indices)


@default_for("embedding_backward")
def _embedding_backward(k, indices, g, num_embeddings, padding_idx):
    d = g.shape[-1]
    out = k.scatter_add((num_embeddings, d), np.asarray(indices).reshape(-1), k.reshape(g, (-1, d)), g.dtype, True)
    if padding_idx is None:
        return out
    keep = np.ones((num_embeddings, 1), dtype=np.bool_)
    keep[padding_idx] = False  # the padding row learns nothing
    return k.where(k.asarray(keep, np.bool_), out, 0)


@default_for("dropout_mask")
def _dropout_mask(k, shape, p, rng, dtype):
    # inverted dropout: keep with probability 1 - p and scale by 1/(1-p), so E[mask] = 1.
    # Drawn on the host from the one numpy Generator: the same seed, the same mask everywhere.
    dtype = np.dtype(dtype)
    return k.mul(k.asarray(rng.random(shape) >= p, dtype), dtype.type(1.0 / (1.0 - p)))
