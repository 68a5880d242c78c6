"""Gradient clipping: bound the size of a step before the optimizer takes it.

Exploding gradients are the classic failure of recurrent networks trained by BPTT:
one long sequence can produce a gradient thousands of times the usual size.
``clip_grad_norm_`` rescales all gradients *together* (the direction is kept);
``clip_grad_value_`` clamps each element on its own (the direction can change).

Both replace ``p.grad.data`` with a new array instead of writing into the old one, so
a gradient array someone else still holds is never changed behind their back.
"""
import math

import numpy as np

from ..tensor import Tensor


def _with_grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients so that their joint norm is at most ``max_norm``; return the norm before.

    The total norm is taken over all gradients as if concatenated into one vector::

        total = (sum_p sum_i |g_pi|^q)^(1/q)          (q = norm_type; q = inf: max_pi |g_pi|)
        if max_norm / (total + 1e-6) < 1:  g <- g * max_norm / (total + 1e-6)

    (the 1e-6 guards against division by zero; as in PyTorch, a norm within 1e-6 below
    ``max_norm`` is therefore scaled by a factor just under 1).

    Args:
        parameters: a tensor or an iterable of tensors; those without ``.grad`` are skipped.
        max_norm: the largest norm allowed.
        norm_type: q > 0, or ``float("inf")`` for the largest absolute element.
        error_if_nonfinite: raise RuntimeError when the norm is NaN or inf (instead of
            scaling every gradient into NaN).

    Returns:
        The total norm of the original gradients: a Python float for gradients on the CPU;
        for gradients on a GPU a 0-d float64 tensor on that device, computed and applied
        there without reading it back (``float(norm)`` copies it to the host when needed;
        ``error_if_nonfinite=True`` has to, every call).
    """
    params = _with_grads(parameters)
    norm_type = float(norm_type)
    if not (norm_type > 0):
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not params:
        return 0.0
    if params[0].grad.device != "cpu":
        return _clip_on_device(params, max_norm, norm_type, error_if_nonfinite)
    total = _total_norm([p.grad for p in params], norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
                           "pass error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad.data = p._k().mul(p.grad.data, coef)
    return total


def _total_norm(grads, q):
    """The q-norm of all gradients together, computed with each gradient's backend kernels."""
    if q == math.inf:
        return max(float(g._k().to_numpy(g._k().max(g._k().abs(g.data), None, False))) if g.size else 0.0
                   for g in grads)
    if q == 2.0:
        return math.sqrt(sum(g._k().sumsq(g.data) for g in grads))  # sumsq accumulates in float64
    total = 0.0
    for g in grads:
        k = g._k()
        total += float(k.to_numpy(k.sum(k.pow(k.abs(g.data), q), None, False)))
    return total ** (1.0 / q)


def _clip_on_device(params, max_norm, q, error_if_nonfinite):
    """clip_grad_norm_ with every number kept on the gradients' device: the norm is a 0-d
    array, and so is the scale factor min(1, max_norm / (total + 1e-6)) every gradient is
    multiplied by (a factor of exactly 1 leaves a gradient bit for bit unchanged)."""
    k = params[0]._k()
    total = None
    for p in params:
        if p.grad.device != params[0].grad.device:
            raise RuntimeError(f"clip_grad_norm_: gradients on {params[0].grad.device} and {p.grad.device}")
        if not p.grad.size:
            continue
        a = k.abs(k.astype(p.grad.data, np.float64))  # accumulated in float64, as on the CPU
        part = k.max(a, None, False) if q == math.inf else k.sum(k.mul(a, a) if q == 2.0 else k.pow(a, q), None, False)
        total = part if total is None else (k.maximum(total, part) if q == math.inf else k.add(total, part))
    if total is None:
        total = k.zeros((), np.float64)
    norm = total if q == math.inf else k.pow(total, 1.0 / q)
    if error_if_nonfinite:
        value = float(k.to_numpy(norm))  # the one host copy, asked for by the flag
        if not math.isfinite(value):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {q} of the gradients is {value}; "
                               "pass error_if_nonfinite=False to clip anyway")
    coef = k.minimum(k.div(float(max_norm), k.add(norm, 1e-6)), 1.0)
    for p in params:
        p.grad.data = k.mul(p.grad.data, k.astype(coef, p.grad.dtype))
    return Tensor._wrap(norm, device=params[0].grad.device)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into ``[-clip_value, clip_value]`` (parameters without grad are skipped)."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    c = float(clip_value)
    for p in _with_grads(parameters):
        p.grad.data = p._k().clip(p.grad.data, -c, c)
