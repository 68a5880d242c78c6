"""Optimizer steps on the GPU: each parameter updated in place by one kernel, one thread per element.

The same per-element arithmetic as the CPU loops (``backends/loops/optim.py``, rules and
citations in ``backends/kernel_set.py``): a thread reads p, g and the state once, updates
them in registers and writes them back. The composed form would launch about ten kernels
per parameter, each streaming whole arrays through memory. Hyper-parameters are cast to
the parameter's dtype on the host, so float32 parameters get float32 arithmetic.

The rare parameter that is not one contiguous buffer (a view) takes the contract's
composed default, on the device.
"""
import math

from ..kernel_set import SPECS
from ._device import contiguous, cuda, launch


@cuda.jit(device=True)
def _sqrt(x):
    """sqrt, NaN below 0 as on the CPU (the simulator's math.sqrt would raise instead)."""
    return math.sqrt(x) if x >= 0 else math.nan


@cuda.jit
def _sgd(p, g, buf, lr, momentum, keep, nesterov, weight_decay, maximize, first):
    i = cuda.grid(1)
    if i < p.size:
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        if momentum != 0:
            b = gi if first else momentum * buf[i] + keep * gi
            buf[i] = b
            gi = gi + momentum * b if nesterov else b
        p[i] = p[i] - lr * gi


@cuda.jit
def _adam(p, g, m, v, vmax, amsgrad, step_size, inv_sqrt_bias2, b1, c1, b2, c2, eps, weight_decay, decay, maximize):
    i = cuda.grid(1)
    if i < p.size:
        gi = -g[i] if maximize else g[i]
        pi = p[i] * decay
        if weight_decay != 0:
            gi = gi + weight_decay * pi
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i], v[i] = mi, vi
        if amsgrad:
            vi = vmax[i] if vmax[i] > vi else vi  # (NaN in v stays: the comparison is false)
            vmax[i] = vi
        p[i] = pi - step_size * mi / (_sqrt(vi) * inv_sqrt_bias2 + eps)


@cuda.jit
def _rmsprop(p, g, sq, buf, gavg, centered, lr, a, c, eps, weight_decay, momentum, maximize):
    i = cuda.grid(1)
    if i < p.size:
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        si = a * sq[i] + c * gi * gi
        sq[i] = si
        if centered:
            ai = a * gavg[i] + c * gi
            gavg[i] = ai
            denom = _sqrt(si - ai * ai) + eps
        else:
            denom = _sqrt(si) + eps
        if momentum != 0:
            b = momentum * buf[i] + gi / denom
            buf[i] = b
            p[i] = p[i] - lr * b
        else:
            p[i] = p[i] - lr * gi / denom


@cuda.jit
def _adagrad(p, g, acc, clr, eps, weight_decay, maximize):
    i = cuda.grid(1)
    if i < p.size:
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        s = acc[i] + gi * gi
        acc[i] = s
        p[i] = p[i] - clr * gi / (_sqrt(s) + eps)


def _flat(p, *state):
    """The buffers of p and its state (p's own buffer for a state that is None), or None when
    one of them is a view: then the composed default runs."""
    if not all(s is None or s.contiguous for s in (p,) + state):
        return None
    return [p.buf if s is None else s.buf for s in state]


def _default(name, *args):
    from .. import get_backend
    return SPECS[name].default(get_backend("cuda"), *args)


# ============================================================= fused kernels
def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
    states = _flat(p, buf if momentum else None)
    if states is None:
        return _default("sgd_step", p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first)
    t = p.dtype.type
    launch(_sgd, p.size, p.buf, contiguous(g).buf, *states, t(lr), t(momentum), t(1 - dampening), bool(nesterov),
           t(weight_decay), bool(maximize), bool(first))


def adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
    states = _flat(p, m, v, vmax)
    if states is None:
        return _default("adam_step", p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled,
                        maximize)
    t = p.dtype.type
    decay = 1 - lr * weight_decay if (weight_decay and decoupled) else 1.0  # AdamW decays p itself
    coupled = weight_decay if (weight_decay and not decoupled) else 0.0     # Adam adds weight_decay p to g
    launch(_adam, p.size, p.buf, contiguous(g).buf, *states, vmax is not None, t(lr / (1 - beta1 ** step)),
           t(1 / math.sqrt(1 - beta2 ** step)), t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(eps), t(coupled),
           t(decay), bool(maximize))


def rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
    states = _flat(p, sq, buf if momentum else None, gavg)
    if states is None:
        return _default("rmsprop_step", p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize)
    t = p.dtype.type
    launch(_rmsprop, p.size, p.buf, contiguous(g).buf, *states, gavg is not None, t(lr), t(alpha), t(1 - alpha),
           t(eps), t(weight_decay), t(momentum), bool(maximize))


def adagrad_step(p, g, acc, clr, eps, weight_decay, maximize):
    states = _flat(p, acc)
    if states is None:
        return _default("adagrad_step", p, g, acc, clr, eps, weight_decay, maximize)
    t = p.dtype.type
    launch(_adagrad, p.size, p.buf, contiguous(g).buf, *states, t(clr), t(eps), t(weight_decay), bool(maximize))
