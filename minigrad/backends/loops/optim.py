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

from ._jit import kernel


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
