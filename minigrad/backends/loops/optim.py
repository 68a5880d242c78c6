"""Optimizer update loop kernels: each parameter updated in place in one pass.

The numpy reference writes an Adam step as about ten array expressions; each reads and
writes whole arrays (and allocates temporaries), so one step streams the parameter's
memory ten times. A loop reads p, g and the state once per element, updates them in
registers and writes them back: one pass.

Conventions shared by every loop:

* all arrays are flat (1-D) and C-contiguous; p and the state arrays are updated in place;
* the option flags (``maximize``, ``nesterov``, ...) are loop-invariant, so LLVM moves the
  branches out of the loop ("unswitching") and vectorises each variant;
* the hyper-parameters arrive as Python floats (the cheapest arguments to pass: numba
  checks each argument's type on every call) and are cast to the parameter's dtype
  first thing (``t = p.dtype.type``), so float32 parameters get float32 arithmetic that
  rounds like numpy's float32 expressions with Python scalars.
"""
import math

import numpy as np

from . import kernel


@kernel
def sgd_loop(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
    """SGD with momentum (PyTorch's rule), per element:

        g <- -g if maximize;  g <- g + weight_decay * p
        b  = g (first step)  or  momentum * b + (1 - dampening) * g
        d  = g + momentum * b if nesterov else b      (d = g without momentum)
        p <- p - lr * d
    """
    t = p.dtype.type
    lr, momentum, keep, weight_decay = t(lr), t(momentum), t(1 - dampening), t(weight_decay)
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        if momentum != 0:
            b = gi if first else momentum * buf[i] + keep * gi
            buf[i] = b
            gi = gi + momentum * b if nesterov else b
        p[i] = p[i] - lr * gi


@kernel
def adam_loop(p, g, m, v, vmax, amsgrad, step_size, inv_sqrt_bias2, beta1, beta2, eps, weight_decay, decay,
              maximize, unit):
    """Adam / AdamW / AMSGrad, per element (Kingma & Ba 2015, Alg. 1):

        g <- -g if maximize
        p <- p * decay                   (AdamW: decay = 1 - lr * weight_decay; else 1)
        g <- g + weight_decay * p        (Adam's L2 term; weight_decay = 0 for AdamW)
        m <- beta1 m + (1 - beta1) g;    v <- beta2 v + (1 - beta2) g^2
        v_hat = max(vmax, v) kept in vmax (AMSGrad) else v
        p <- p - step_size * m / (sqrt(v_hat) * inv_sqrt_bias2 + eps)
             step_size = lr / (1 - beta1^t),  inv_sqrt_bias2 = 1 / sqrt(1 - beta2^t)

    ``unit`` is 1: see the AMSGrad line.
    """
    t = p.dtype.type
    b1, c1, b2, c2 = t(beta1), t(1 - beta1), t(beta2), t(1 - beta2)
    step_size, inv_sqrt_bias2, eps, unit = t(step_size), t(inv_sqrt_bias2), t(eps), t(unit)
    weight_decay, decay = t(weight_decay), t(decay)
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i] * decay
        if weight_decay != 0:
            gi = gi + weight_decay * pi
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            # Written plainly, "vmax[i] = max(vmax[i], vi)" compiles to a *masked* store (only
            # where vi is larger), which AMD CPUs execute very slowly (a 3x slower step). Times
            # a run-time 1 it is a value LLVM cannot see through: an ordinary store, same bits.
            vi = max(vmax[i], vi) * unit
            vmax[i] = vi
        p[i] = pi - step_size * mi / (math.sqrt(vi) * inv_sqrt_bias2 + eps)


@kernel
def rmsprop_loop(p, g, sq, buf, gavg, centered, lr, alpha, eps, weight_decay, momentum, maximize):
    """RMSprop (PyTorch's variant), per element:

        g <- -g if maximize;  g <- g + weight_decay * p
        s <- alpha s + (1 - alpha) g^2
        centered: a <- alpha a + (1 - alpha) g;  denom = sqrt(s - a^2) + eps
        else:                                    denom = sqrt(s) + eps
        momentum: b <- momentum b + g / denom;  p <- p - lr b
        else:                                   p <- p - lr g / denom
    """
    t = p.dtype.type
    a, c, lr, eps = t(alpha), t(1 - alpha), t(lr), t(eps)
    weight_decay, momentum = t(weight_decay), t(momentum)
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        si = a * sq[i] + c * gi * gi
        sq[i] = si
        if centered:
            ai = a * gavg[i] + c * gi
            gavg[i] = ai
            denom = math.sqrt(si - ai * ai) + eps
        else:
            denom = math.sqrt(si) + eps
        if momentum != 0:
            b = momentum * buf[i] + gi / denom
            buf[i] = b
            p[i] = p[i] - lr * b
        else:
            p[i] = p[i] - lr * gi / denom


@kernel
def adagrad_loop(p, g, acc, clr, eps, weight_decay, maximize):
    """Adagrad, per element:  g <- -g if maximize;  g <- g + weight_decay p;
    S <- S + g^2;  p <- p - clr g / (sqrt(S) + eps)."""
    t = p.dtype.type
    clr, eps, weight_decay = t(clr), t(eps), t(weight_decay)
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        s = acc[i] + gi * gi
        acc[i] = s
        p[i] = p[i] - clr * gi / (math.sqrt(s) + eps)


# --------------------------------------------------------------- wrappers
# Stand-in for a state array an option turns off (no momentum, no AMSGrad, not centered): the
# loop never touches it, but numba needs an array there to type the call. Empty, and distinct
# from every real array, so it cannot alias one.
_UNUSED = {"f": np.empty(0, dtype=np.float32), "d": np.empty(0, dtype=np.float64)}


def _loopable(p, g, *states):
    """True when p and the states are C-contiguous float32/float64 arrays of one shape and dtype
    (they are updated in place through flat views) and g has that shape. Kept cheap: it runs
    on every step of every parameter."""
    if p.dtype.char not in "fd" or g.shape != p.shape or not (p.flags.c_contiguous and p.flags.writeable):
        return False
    for s in states:
        if s is not None and (s.dtype != p.dtype or s.shape != p.shape
                              or not (s.flags.c_contiguous and s.flags.writeable)):
            return False
    return True


def _grad(g, p):
    """g as a flat C-contiguous array of p's dtype (a copy only when g is strided or of another dtype)."""
    if g.dtype != p.dtype or not g.flags.c_contiguous:
        g = np.ascontiguousarray(g, dtype=p.dtype)
    return g.ravel()


def _flat(state, p):
    return _UNUSED[p.dtype.char] if state is None else state.ravel()


class OptimKernels:
    """Fused optimizer steps. Same signatures and semantics as the numpy reference; a parameter
    that cannot be viewed flat (non-contiguous, or a state of another dtype) is left to it."""

    @classmethod
    def sgd_step(cls, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
        buf = buf if momentum else None  # without momentum the buffer is never read
        if not _loopable(p, g, buf):
            return super().sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first)
        cls.loops.sgd_loop(p.ravel(), _grad(g, p), _flat(buf, p), float(lr), float(momentum), float(dampening),
                           bool(nesterov), float(weight_decay), bool(maximize), bool(first))

    @classmethod
    def adam_step(cls, p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
        if not _loopable(p, g, m, v, vmax):
            return super().adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled,
                                     maximize)
        decay = 1 - lr * weight_decay if (weight_decay and decoupled) else 1.0
        coupled = weight_decay if (weight_decay and not decoupled) else 0.0
        cls.loops.adam_loop(p.ravel(), _grad(g, p), m.ravel(), v.ravel(), _flat(vmax, p), vmax is not None,
                            lr / (1 - beta1 ** step), 1 / math.sqrt(1 - beta2 ** step), float(beta1), float(beta2),
                            float(eps), float(coupled), float(decay), bool(maximize), 1.0)

    @classmethod
    def rmsprop_step(cls, p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
        buf = buf if momentum else None
        if not _loopable(p, g, sq, buf, gavg):
            return super().rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize)
        cls.loops.rmsprop_loop(p.ravel(), _grad(g, p), sq.ravel(), _flat(buf, p), _flat(gavg, p), gavg is not None,
                               float(lr), float(alpha), float(eps), float(weight_decay), float(momentum),
                               bool(maximize))

    @classmethod
    def adagrad_step(cls, p, g, acc, clr, eps, weight_decay, maximize):
        if not _loopable(p, g, acc):
            return super().adagrad_step(p, g, acc, clr, eps, weight_decay, maximize)
        cls.loops.adagrad_loop(p.ravel(), _grad(g, p), acc.ravel(), float(clr), float(eps), float(weight_decay),
                               bool(maximize))
