"""Optimizer steps of the compiled CPU backends: each parameter updated in place in one loop.

The loops (``loops/optim.py``, ``cython/optim.pyx``) see p, g and the state as flat
C-contiguous arrays and update p and the state through those views. A parameter that
cannot be viewed flat (non-contiguous, or a state of another dtype) is left to the numpy
backend's kernel, as are integer dtypes. ``L`` maps a dtype character to its loop set.
"""
import math

import numpy as np

from ..reference import BACKEND as NUMPY

# Stand-in for a state array an option turns off (no momentum, no AMSGrad, not centered): the
# loop never touches it, but a compiled loop needs an array there to type the call. Empty,
# and distinct from every real array, so it cannot alias one.
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


# Hyper-parameters go to the loops as Python floats and bools: the cheapest arguments to
# pass (numba checks each argument's type on every call); the loops cast them to p's dtype.
def sgd_step(L, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
    buf = buf if momentum else None  # without momentum the buffer is never read
    if not _loopable(p, g, buf):
        return NUMPY.sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first)
    L[p.dtype.char].sgd_loop(p.ravel(), _grad(g, p), _flat(buf, p), float(lr), float(momentum), float(dampening),
                             bool(nesterov), float(weight_decay), bool(maximize), bool(first))


def adam_step(L, p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
    if not _loopable(p, g, m, v, vmax):
        return NUMPY.adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize)
    decay = 1 - lr * weight_decay if (weight_decay and decoupled) else 1.0
    coupled = weight_decay if (weight_decay and not decoupled) else 0.0
    L[p.dtype.char].adam_loop(p.ravel(), _grad(g, p), m.ravel(), v.ravel(), _flat(vmax, p), vmax is not None,
                              lr / (1 - beta1 ** step), 1 / math.sqrt(1 - beta2 ** step), float(beta1),
                              float(beta2), float(eps), float(coupled), float(decay), bool(maximize), 1.0)


def rmsprop_step(L, p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
    buf = buf if momentum else None
    if not _loopable(p, g, sq, buf, gavg):
        return NUMPY.rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize)
    L[p.dtype.char].rmsprop_loop(p.ravel(), _grad(g, p), sq.ravel(), _flat(buf, p), _flat(gavg, p),
                                 gavg is not None, float(lr), float(alpha), float(eps), float(weight_decay),
                                 float(momentum), bool(maximize))


def adagrad_step(L, p, g, acc, clr, eps, weight_decay, maximize):
    if not _loopable(p, g, acc):
        return NUMPY.adagrad_step(p, g, acc, clr, eps, weight_decay, maximize)
    L[p.dtype.char].adagrad_loop(p.ravel(), _grad(g, p), acc.ravel(), float(clr), float(eps), float(weight_decay),
                                 bool(maximize))
