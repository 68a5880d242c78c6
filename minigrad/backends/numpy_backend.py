"""The numpy backend: the vectorised reference implementation of every kernel.

A *kernel* is a plain function from arrays to arrays. Ops (``minigrad/ops``) never
touch numpy themselves: they call ``self.k.<kernel>(...)`` where ``k`` is the backend
chosen for their inputs. This class is that kernel set, written once with numpy; the
other CPU backends subclass it and override the kernels they compile, so any kernel a
backend does *not* override is visibly inherited from here (``available_backends()``
lists which).

Rules every kernel follows:

* never mutate an input array, except the ``*_step`` optimizer kernels, whose whole
  point is to update parameters and optimizer state in place;
* keep the input dtype (float32 stays float32: Python scalars are "weak" under
  numpy 2's promotion rules, so ``x * 0.5`` is still float32);
* return a new array or a view; callers never write into a returned array.
"""
import math

import numpy as np

from .numpy_recurrent import RecurrentReference


def _keep(axis, ndim):
    """Shape helper: the shape a reduction over ``axis`` has with ``keepdims=True``."""
    return axis if axis is not None else tuple(range(ndim))


class NumpyBackend(RecurrentReference):
    name = "numpy"
    device = "cpu"
    description = "vectorised numpy: the reference every other backend is tested against"
    # Kernels that only allocate, copy, view or move arrays: shared by every CPU backend.
    PLUMBING = frozenset({"asarray", "ensure_array", "to_numpy", "zeros", "full", "arange", "eye", "astype", "copy",
                          "owns", "reshape", "transpose", "broadcast_to", "flip", "pad", "concatenate", "stack",
                          "getitem"})

    # ------------------------------------------------------------------ arrays
    @staticmethod
    def asarray(data, dtype):
        """Copy host data (list, scalar, ndarray) into a new array of ``dtype``."""
        return np.array(data, dtype=dtype, copy=True)

    @staticmethod
    def ensure_array(a):
        """A numpy scalar as a 0-d array (ufuncs and reductions return scalars for 0-d results)."""
        return np.asarray(a)

    @staticmethod
    def to_numpy(a):
        return a

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype=dtype)

    @staticmethod
    def full(shape, value, dtype):
        return np.full(shape, value, dtype=dtype)

    @staticmethod
    def arange(start, stop, step, dtype):
        return np.arange(start, stop, step, dtype=dtype)

    @staticmethod
    def eye(n, m, dtype):
        return np.eye(n, m, dtype=dtype)

    @staticmethod
    def astype(a, dtype):
        return a.astype(dtype, copy=False)

    @staticmethod
    def copy(a):
        return np.array(a, copy=True)

    @staticmethod
    def owns(a):
        """True if ``a`` is a writeable array that is not a view of another array."""
        return a.base is None and a.flags.writeable

    # ------------------------------------------------------ unary elementwise
    @staticmethod
    def neg(x):
        return np.negative(x)

    @staticmethod
    def exp(x):
        return np.exp(x)

    @staticmethod
    def log(x):
        return np.log(x)

    @staticmethod
    def sqrt(x):
        return np.sqrt(x)

    @staticmethod
    def abs(x):
        return np.abs(x)

    @staticmethod
    def sign(x):
        return np.sign(x)

    @staticmethod
    def tanh(x):
        return np.tanh(x)

    @staticmethod
    def sigmoid(x):
        # sigma(x) = (1 + tanh(x/2)) / 2 is exact and never overflows, unlike 1/(1+e^-x).
        return 0.5 * np.tanh(0.5 * x) + 0.5

    @staticmethod
    def relu(x):
        return np.maximum(x, 0)

    @staticmethod
    def leaky_relu(x, slope):
        return np.where(x > 0, x, x * slope)

    @staticmethod
    def clip(x, lo, hi):
        return np.clip(x, lo, hi)

    # ------------------------------------- fused backward of unary elementwise
    # Each takes what the forward saved plus the upstream gradient g and returns
    # dL/dx in one kernel, instead of composing two or three elementwise passes.
    @staticmethod
    def tanh_backward(y, g):
        return g * (1 - y * y)  # d tanh = 1 - tanh^2

    @staticmethod
    def sigmoid_backward(y, g):
        return g * y * (1 - y)  # d sigma = sigma (1 - sigma)

    @staticmethod
    def relu_backward(x, g):
        return np.where(x > 0, g, 0).astype(g.dtype, copy=False)

    @staticmethod
    def leaky_relu_backward(x, g, slope):
        return np.where(x > 0, g, g * slope)

    @staticmethod
    def clip_backward(x, g, lo, hi):
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        return np.where(inside, g, 0).astype(g.dtype, copy=False)

    @staticmethod
    def abs_backward(x, g):
        return g * np.sign(x)

    @staticmethod
    def sqrt_backward(y, g):
        return g / (2 * y)  # d sqrt(x) = 1 / (2 sqrt(x))

    # ----------------------------------------- binary elementwise (broadcasting)
    @staticmethod
    def add(a, b):
        return np.add(a, b)

    @staticmethod
    def sub(a, b):
        return np.subtract(a, b)

    @staticmethod
    def mul(a, b):
        return np.multiply(a, b)

    @staticmethod
    def div(a, b):
        return np.divide(a, b)

    @staticmethod
    def pow(a, b):
        return np.power(a, b)

    @staticmethod
    def maximum(a, b):
        return np.maximum(a, b)

    @staticmethod
    def minimum(a, b):
        return np.minimum(a, b)

    @staticmethod
    def compare(op, a, b):
        """Elementwise comparison; ``op`` is one of eq, ne, lt, le, gt, ge."""
        return getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less",
                            "le": "less_equal", "gt": "greater", "ge": "greater_equal"}[op])(a, b)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    # ------------------------------------------------------------- reductions
    @staticmethod
    def sum(x, axis, keepdims):
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def mean(x, axis, keepdims):
        return np.mean(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def max(x, axis, keepdims):
        return np.max(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def min(x, axis, keepdims):
        return np.min(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def var(x, axis, ddof, keepdims):
        return np.var(x, axis=axis, ddof=ddof, keepdims=keepdims)

    @staticmethod
    def argmax(x, axis, keepdims):
        return np.argmax(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def argmin(x, axis, keepdims):
        return np.argmin(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def sum_to_shape(g, shape):
        """Undo broadcasting: sum ``g`` over the axes that were broadcast to reach g.shape."""
        if g.shape == shape:
            return g
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
        return np.sum(g, axis=axes, keepdims=True).reshape(shape)

    @staticmethod
    def expand_reduced(g, shape, axis, keepdims):
        """Backward of sum: copy g back over the reduced axes of an array of ``shape``."""
        if not keepdims:
            g = np.reshape(g, tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape)))
        out = np.empty(shape, dtype=g.dtype)
        out[...] = g  # a broadcasting copy: cheaper than np.broadcast_to's view machinery
        return out

    @staticmethod
    def minmax_backward(x, y, g, axis, keepdims):
        """Backward of max/min: g is shared equally among the elements that attain y."""
        if not keepdims:
            keep = _keep(axis, x.ndim)
            y, g = np.expand_dims(y, keep), np.expand_dims(g, keep)
        hit = x == y
        return np.where(hit, g / np.sum(hit, axis=axis, keepdims=True), 0).astype(x.dtype, copy=False)

    @staticmethod
    def var_backward(x, g, axis, ddof, keepdims):
        """d var / dx_i = 2 (x_i - mean) / (N - ddof)."""
        n = x.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
        if not keepdims:
            g = np.expand_dims(g, _keep(axis, x.ndim))
        centered = x - np.mean(x, axis=axis, keepdims=True)
        return g * centered * (2.0 / (n - ddof))

    @staticmethod
    def any_nonfinite(x):
        return not bool(np.isfinite(x).all())

    @staticmethod
    def sumsq(x):
        """Sum of squares in float64, as a Python float (for gradient norms)."""
        x = x.reshape(-1)
        return float(np.dot(x, x)) if x.dtype == np.float64 else float(np.dot(x.astype(np.float64), x))

    # ---------------------------------------------------------------- matmul
    @staticmethod
    def matmul(a, b):
        return np.matmul(a, b)

    # -------------------------------------------------------- shape / movement
    @staticmethod
    def reshape(x, shape):
        return np.reshape(x, shape)

    @staticmethod
    def transpose(x, axes):
        return np.transpose(x, axes)

    @staticmethod
    def broadcast_to(x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def flip(x, axes):
        return np.flip(x, axes)

    @staticmethod
    def pad(x, widths, value):
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def concatenate(xs, axis):
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def stack(xs, axis):
        return np.stack(xs, axis=axis)

    @staticmethod
    def getitem(x, index):
        return x[index]

    @staticmethod
    def scatter_add(shape, index, g, dtype, accumulate):
        """Backward of getitem: a zero array of ``shape`` with g added at ``index``.

        With advanced (array) indices the same element can be picked twice, so the
        contributions must accumulate (np.add.at); plain slices never repeat, so a
        single assignment does.
        """
        out = np.zeros(shape, dtype=dtype)
        if accumulate:
            np.add.at(out, index, g)
        else:
            out[index] = g
        return out

    # ------------------------------------------------------------ nn kernels
    @staticmethod
    def softmax(x, axis):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    @staticmethod
    def log_softmax(x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True)  # exp never overflows
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    @staticmethod
    def softmax_backward(y, g, axis):
        """dx = y * (g - sum(g * y)): the softmax Jacobian applied without forming it."""
        return y * (g - np.sum(g * y, axis=axis, keepdims=True))

    @staticmethod
    def log_softmax_backward(y, g, axis):
        """dx = g - softmax(x) * sum(g), with softmax(x) = exp(y)."""
        return g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)

    @staticmethod
    def cross_entropy(logits, targets, ignore_index, label_smoothing):
        """Per-row loss -log p[target] (optionally smoothed) from (N, C) logits.

        Returns (losses (N,), log_probs (N, C)); rows whose target is ignore_index get 0.
        """
        logp = NumpyBackend.log_softmax(logits, 1)
        valid = targets != ignore_index
        picked = np.take_along_axis(logp, np.where(valid, targets, 0)[:, None], 1)[:, 0]
        loss = -picked
        if label_smoothing:
            loss = (1 - label_smoothing) * loss - label_smoothing * np.mean(logp, axis=1)
        return np.where(valid, loss, 0).astype(logits.dtype, copy=False), logp

    @staticmethod
    def cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing):
        """d loss_i / d logits_i = softmax_i - q_i, q = (smoothed) one-hot target; scaled by g_i."""
        n, c = logp.shape
        valid = targets != ignore_index
        grad = np.exp(logp)
        grad[np.arange(n), np.where(valid, targets, 0)] -= 1 - label_smoothing
        if label_smoothing:
            grad -= label_smoothing / c
        return grad * np.where(valid, g, 0)[:, None].astype(grad.dtype, copy=False)

    @staticmethod
    def nll(logp, targets, ignore_index):
        """Per-row -logp[i, target_i], 0 where target_i == ignore_index."""
        valid = targets != ignore_index
        picked = np.take_along_axis(logp, np.where(valid, targets, 0)[:, None], 1)[:, 0]
        return np.where(valid, -picked, 0).astype(logp.dtype, copy=False)

    @staticmethod
    def nll_backward(shape, targets, g, ignore_index, dtype):
        valid = targets != ignore_index
        out = np.zeros(shape, dtype=dtype)
        out[np.arange(shape[0]), np.where(valid, targets, 0)] = np.where(valid, -g, 0)
        return out

    @staticmethod
    def bce_with_logits(x, y):
        """Elementwise max(x, 0) - x*y + log(1 + exp(-|x|)): log-loss that never overflows."""
        return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def bce_with_logits_backward(x, y, g):
        """d/dx = sigmoid(x) - y;  d/dy = -x."""
        return g * (NumpyBackend.sigmoid(x) - y), g * -x

    @staticmethod
    def embedding(weight, indices):
        return weight[indices]

    @staticmethod
    def embedding_backward(indices, g, num_embeddings, padding_idx):
        """Scatter-add rows of g into a (V, D) zero matrix; repeated indices accumulate."""
        d = g.shape[-1]
        out = np.zeros((num_embeddings, d), dtype=g.dtype)
        np.add.at(out, indices.reshape(-1), g.reshape(-1, d))
        if padding_idx is not None:
            out[padding_idx] = 0
        return out

    @staticmethod
    def dropout_mask(shape, p, rng, dtype):
        """Inverted dropout: keep with probability 1-p and scale by 1/(1-p), so E[mask] = 1."""
        return (rng.random(shape) >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))

    # ----------------------------------------------------- optimizer updates
    # These update p (and the state arrays) in place: one kernel per parameter.
    @staticmethod
    def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            if first:
                buf[...] = g
            else:
                buf *= momentum
                buf += (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p -= lr * g

    @staticmethod
    def adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
        """Adam (Kingma & Ba 2015, Alg. 1); ``decoupled`` gives AdamW; ``vmax`` enables AMSGrad."""
        if maximize:
            g = -g
        if weight_decay:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        if vmax is not None:
            np.maximum(vmax, v, out=vmax)
            v = vmax
        bias1 = 1 - beta1 ** step
        bias2 = 1 - beta2 ** step
        p -= (lr / bias1) * m / (np.sqrt(v) / math.sqrt(bias2) + eps)  # math.sqrt: a weak Python float keeps float32

    @staticmethod
    def rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
        """RMSprop (Hinton); ``gavg`` (not None) gives the centered variant."""
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * p
        sq *= alpha
        sq += (1 - alpha) * g * g
        if gavg is not None:
            gavg *= alpha
            gavg += (1 - alpha) * g
            denom = np.sqrt(sq - gavg * gavg) + eps
        else:
            denom = np.sqrt(sq) + eps
        if momentum:
            buf *= momentum
            buf += g / denom
            p -= lr * buf
        else:
            p -= lr * g / denom

    @staticmethod
    def adagrad_step(p, g, acc, clr, eps, weight_decay, maximize):
        """Adagrad (Duchi et al. 2011): per-element step lr / sqrt(sum of squared grads)."""
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * p
        acc += g * g
        p -= clr * g / (np.sqrt(acc) + eps)
