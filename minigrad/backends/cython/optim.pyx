# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Optimizer updates in Cython: each parameter and its state updated in place, in one pass.

numpy's Adam makes about fifteen passes over memory (``m *= b1``, ``m += (1-b1)*g``,
``g*g``, ``np.sqrt(v)``, ...) and allocates a temporary for most of them. Here the loop
reads each element of p, g and the state once, keeps everything in registers, and
writes p and the state back: one pass, no temporaries.

Conventions (the wrappers in ``cython_backend.py`` take care of them):

* all arrays are flat, C-contiguous views of one dtype, so writing ``p[i]`` writes
  the parameter itself (the wrapper hands a non-contiguous parameter to numpy
  rather than update a copy);
* scalar hyper-parameters arrive already combined (``1 - beta1``, ``lr / bias1``...)
  and rounded to the array dtype, as numpy rounds a Python float that meets a
  float32 array; the arithmetic then follows the numpy reference's order;
* a state array that an option does not use is ``None`` (a typed memoryview may be).

Option flags and vectorisation. gcc vectorises a loop only if its body has no
branches left, and it can turn an ``if`` into a branch-free select only when both
arms are register arithmetic: ``if maximize: gi = -gi`` is fine, but an arm that
reads or writes memory (``buf[i] = b`` only with momentum) may not be executed
speculatively. So each kernel's loop is an ``inline`` function with the
array-presence flags (``use_buf``, ``ams``, ``centered``) as arguments, called with
*constant* True/False from each branch of an ``if`` outside the loop: after
inlining, gcc sees a separate copy of the loop per combination, with those tests
gone (constant-folded), and vectorises each. The loop itself reads every state
element it might need before any select, so the remaining flags (``first``,
``nesterov``, ``maximize``, weight decay) only choose between values in registers.
"""
from minigrad.backends.cython._common cimport real, sqrt_r


# --------------------------------------------------------------------- SGD
cdef inline void _sgd(real* p, const real* g, real* buf, Py_ssize_t n, real lr, real momentum, real keep,
                      real weight_decay, bint nesterov, bint maximize, bint first, bint use_buf) noexcept nogil:
    cdef Py_ssize_t i
    cdef real gi, pi, b
    cdef bint decay = weight_decay != 0
    for i in range(n):
        gi = g[i]
        pi = p[i]
        if maximize:
            gi = -gi
        if decay:
            gi = gi + weight_decay * pi
        if use_buf:
            b = buf[i]
            b = gi if first else momentum * b + keep * gi
            buf[i] = b
            gi = gi + momentum * b if nesterov else b
        p[i] = pi - lr * gi


def sgd_step(real[::1] p, const real[::1] g, real[::1] buf, real lr, real momentum, real keep,
             bint nesterov, real weight_decay, bint maximize, bint first):
    """SGD (PyTorch's rule), in place; ``buf`` (None: no momentum) is the momentum buffer:

        g <- -g if maximize;  g <- g + weight_decay * p
        b  = g (first step)  or  momentum * b + keep * g,   keep = 1 - dampening
        d  = g + momentum * b if nesterov else b      (d = g without momentum)
        p <- p - lr * d
    """
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        if buf is None:
            _sgd(&p[0], &g[0], NULL, n, lr, momentum, keep, weight_decay, nesterov, maximize, first, False)
        else:
            _sgd(&p[0], &g[0], &buf[0], n, lr, momentum, keep, weight_decay, nesterov, maximize, first, True)


# -------------------------------------------------------------------- Adam
cdef inline void _adam(real* p, const real* g, real* m, real* v, real* vmax, Py_ssize_t n,
                       real beta1, real one_minus_beta1, real beta2, real one_minus_beta2,
                       real step_size, real inv_sqrt_bias2, real eps, real l2, real decay_factor,
                       bint maximize, bint ams) noexcept nogil:
    cdef Py_ssize_t i
    cdef real gi, pi, mi, vi, vm
    cdef bint coupled = l2 != 0
    for i in range(n):
        gi = g[i]
        if maximize:
            gi = -gi
        pi = p[i] * decay_factor  # AdamW's decay; decay_factor is exactly 1 otherwise (x * 1 == x)
        if coupled:
            gi = gi + l2 * pi
        mi = beta1 * m[i] + one_minus_beta1 * gi
        vi = beta2 * v[i] + one_minus_beta2 * gi * gi
        m[i] = mi
        v[i] = vi
        if ams:
            vm = vmax[i]
            vi = vm if (vm > vi) | (vm != vm) else vi  # np.maximum: the larger, and NaN wins
            vmax[i] = vi
        p[i] = pi - step_size * mi / (sqrt_r(vi) * inv_sqrt_bias2 + eps)


def adam_step(real[::1] p, const real[::1] g, real[::1] m, real[::1] v, real[::1] vmax,
              real beta1, real one_minus_beta1, real beta2, real one_minus_beta2,
              real step_size, real inv_sqrt_bias2, real eps, real l2, real decay_factor, bint maximize):
    """Adam / AdamW / AMSGrad (Kingma & Ba 2015, Alg. 1), in place:

        g <- -g if maximize
        p <- p * decay_factor           (AdamW: 1 - lr * weight_decay; otherwise 1)
        g <- g + l2 * p                 (Adam's L2 weight decay; 0 for AdamW)
        m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
        v_hat = max(vmax, v), kept in vmax (AMSGrad: vmax not None), else v
        p <- p - step_size * m / (sqrt(v_hat) * inv_sqrt_bias2 + eps)
    with step_size = lr / (1 - beta1^t) and inv_sqrt_bias2 = 1 / sqrt(1 - beta2^t): the
    reference divides by sqrt(1 - beta2^t); multiplying by its inverse instead (as the
    numba kernel does) differs by at most an ulp and saves one division per element,
    which is what bounds this loop's speed.
    """
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        if vmax is None:
            _adam(&p[0], &g[0], &m[0], &v[0], NULL, n, beta1, one_minus_beta1, beta2, one_minus_beta2,
                  step_size, inv_sqrt_bias2, eps, l2, decay_factor, maximize, False)
        else:
            _adam(&p[0], &g[0], &m[0], &v[0], &vmax[0], n, beta1, one_minus_beta1, beta2, one_minus_beta2,
                  step_size, inv_sqrt_bias2, eps, l2, decay_factor, maximize, True)


# ----------------------------------------------------------------- RMSprop
cdef inline void _rmsprop(real* p, const real* g, real* sq, real* buf, real* gavg, Py_ssize_t n,
                          real lr, real alpha, real one_minus_alpha, real eps, real weight_decay, real momentum,
                          bint maximize, bint use_buf, bint centered) noexcept nogil:
    cdef Py_ssize_t i
    cdef real gi, pi, si, ai, denom, b
    cdef bint decay = weight_decay != 0
    for i in range(n):
        gi = g[i]
        pi = p[i]
        if maximize:
            gi = -gi
        if decay:
            gi = gi + weight_decay * pi
        si = alpha * sq[i] + one_minus_alpha * gi * gi
        sq[i] = si
        if centered:
            ai = alpha * gavg[i] + one_minus_alpha * gi
            gavg[i] = ai
            denom = sqrt_r(si - ai * ai) + eps
        else:
            denom = sqrt_r(si) + eps
        if use_buf:
            b = momentum * buf[i] + gi / denom
            buf[i] = b
            p[i] = pi - lr * b
        else:
            p[i] = pi - lr * gi / denom


def rmsprop_step(real[::1] p, const real[::1] g, real[::1] sq, real[::1] buf, real[::1] gavg,
                 real lr, real alpha, real one_minus_alpha, real eps, real weight_decay, real momentum,
                 bint maximize):
    """RMSprop (PyTorch's variant), in place; ``gavg`` (not None) gives the centered
    variant, ``buf`` (not None) momentum:

        g <- -g if maximize;  g <- g + weight_decay * p
        s <- alpha s + (1 - alpha) g^2
        centered: a <- alpha a + (1 - alpha) g;  denom = sqrt_r(s - a^2) + eps;  else denom = sqrt_r(s) + eps
        momentum: b <- momentum b + g / denom;  p <- p - lr b;  else p <- p - lr g / denom
    """
    cdef Py_ssize_t n = p.shape[0]
    cdef real* b = NULL
    cdef real* a = NULL
    if n == 0:
        return
    if buf is not None:
        b = &buf[0]
    if gavg is not None:
        a = &gavg[0]
    with nogil:
        # One call per combination, each with constant flags: four specialised loops.
        if b == NULL and a == NULL:
            _rmsprop(&p[0], &g[0], &sq[0], b, a, n, lr, alpha, one_minus_alpha, eps, weight_decay, momentum,
                     maximize, False, False)
        elif a == NULL:
            _rmsprop(&p[0], &g[0], &sq[0], b, a, n, lr, alpha, one_minus_alpha, eps, weight_decay, momentum,
                     maximize, True, False)
        elif b == NULL:
            _rmsprop(&p[0], &g[0], &sq[0], b, a, n, lr, alpha, one_minus_alpha, eps, weight_decay, momentum,
                     maximize, False, True)
        else:
            _rmsprop(&p[0], &g[0], &sq[0], b, a, n, lr, alpha, one_minus_alpha, eps, weight_decay, momentum,
                     maximize, True, True)


# ----------------------------------------------------------------- Adagrad
def adagrad_step(real[::1] p, const real[::1] g, real[::1] acc, real clr, real eps, real weight_decay,
                 bint maximize):
    """Adagrad (Duchi et al. 2011), in place:  g <- -g if maximize;  g <- g + weight_decay p;
    S <- S + g^2;  p <- p - clr g / (sqrt_r(S) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef bint decay = weight_decay != 0
    cdef real gi, pi, s
    with nogil:
        for i in range(n):
            gi = g[i]
            pi = p[i]
            if maximize:
                gi = -gi
            if decay:
                gi = gi + weight_decay * pi
            s = acc[i] + gi * gi
            acc[i] = s
            p[i] = pi - clr * gi / (sqrt_r(s) + eps)
