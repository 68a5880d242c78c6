"""Optimizer steps: numpy's own, in place, and the contract's composed defaults.

The rules, with citations, are in ``backends/kernel_set.py``. Each is written twice here,
on purpose:

* numpy's own kernels (public, first) update p and the state with numpy's in-place
  operators (``m *= beta1``), which write into the arrays the optimizer holds without
  allocating a result for every expression;
* the composed defaults (private, below) do the same arithmetic with the required kernels
  of any backend ``k``, then write the new values into p and the state with ``setitem``:
  what a backend without optimizer kernels runs (the test suite runs them on numpy's
  primitives, as the "required-only" backend). They cost numpy 1.4-2.3x the in-place
  form's time, which is why numpy has its own.

The compiled loops (``backends/loops/optim.py``) do the same arithmetic in one pass per
parameter.
"""
import math

import numpy as np

from ..kernel_set import default_for

_ALL = Ellipsis  # setitem(x, ..., v): overwrite every element of x


# ====================================================== numpy's own, in place
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


def adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
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
    bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
    p -= (lr / bias1) * m / (np.sqrt(v) / math.sqrt(bias2) + eps)  # math.sqrt: a weak Python float keeps float32


def rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
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


def adagrad_step(p, g, acc, clr, eps, weight_decay, maximize):
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * p
    acc += g * g
    p -= clr * g / (np.sqrt(acc) + eps)


# ==================================================== fused: composed defaults
@default_for("sgd_step")
def _sgd_step(k, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
    if maximize:
        g = k.neg(g)
    if weight_decay:
        g = k.add(g, k.mul(p, weight_decay))
    if momentum:
        b = g if first else k.add(k.mul(buf, momentum), k.mul(g, 1 - dampening))
        k.setitem(buf, _ALL, b)
        g = k.add(g, k.mul(b, momentum)) if nesterov else b
    k.setitem(p, _ALL, k.sub(p, k.mul(g, lr)))


@default_for("adam_step")
def _adam_step(k, p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
    if maximize:
        g = k.neg(g)
    if weight_decay:
        if decoupled:  # AdamW: decay the weights themselves, outside the adaptive step
            k.setitem(p, _ALL, k.mul(p, 1 - lr * weight_decay))
        else:  # Adam's L2 penalty: part of the gradient
            g = k.add(g, k.mul(p, weight_decay))
    k.setitem(m, _ALL, k.add(k.mul(m, beta1), k.mul(g, 1 - beta1)))
    k.setitem(v, _ALL, k.add(k.mul(v, beta2), k.mul(k.mul(g, 1 - beta2), g)))
    v_hat = v
    if vmax is not None:  # AMSGrad: the running max of v
        k.setitem(vmax, _ALL, k.maximum(vmax, v))
        v_hat = vmax
    bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
    denom = k.add(k.div(k.sqrt(v_hat), math.sqrt(bias2)), eps)
    k.setitem(p, _ALL, k.sub(p, k.div(k.mul(m, lr / bias1), denom)))


@default_for("rmsprop_step")
def _rmsprop_step(k, p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
    if maximize:
        g = k.neg(g)
    if weight_decay:
        g = k.add(g, k.mul(p, weight_decay))
    k.setitem(sq, _ALL, k.add(k.mul(sq, alpha), k.mul(k.mul(g, 1 - alpha), g)))
    if gavg is not None:  # centered: divide by an estimate of the variance, not the raw second moment
        k.setitem(gavg, _ALL, k.add(k.mul(gavg, alpha), k.mul(g, 1 - alpha)))
        denom = k.add(k.sqrt(k.sub(sq, k.mul(gavg, gavg))), eps)
    else:
        denom = k.add(k.sqrt(sq), eps)
    if momentum:
        k.setitem(buf, _ALL, k.add(k.mul(buf, momentum), k.div(g, denom)))
        k.setitem(p, _ALL, k.sub(p, k.mul(buf, lr)))
    else:
        k.setitem(p, _ALL, k.sub(p, k.div(k.mul(g, lr), denom)))


@default_for("adagrad_step")
def _adagrad_step(k, p, g, acc, clr, eps, weight_decay, maximize):
    if maximize:
        g = k.neg(g)
    if weight_decay:
        g = k.add(g, k.mul(p, weight_decay))
    k.setitem(acc, _ALL, k.add(acc, k.mul(g, g)))
    k.setitem(p, _ALL, k.sub(p, k.div(k.mul(g, clr), k.add(k.sqrt(acc), eps))))
