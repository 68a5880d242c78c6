# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Optimizer updates in Cython: each parameter and its state updated in place, in one pass.

numpy's Adam makes about fifteen passes over memory (``m *= b1``, ``m += (1-b1)*g``,
``g*g``, ``np.sqrt(v)``, ...) and allocates a temporary for most of them. Here the loop
reads each element of p, g and the state once, keeps everything in registers, and
writes p and the state back: one pass, no temporaries.

The loops have the names, parameters and semantics of their numba twins in
``loops/optim.py``, and one Python glue layer calls both (``backends/wrappers/optim.py``;
the contract is ``backends/kernel_set.py``). Conventions shared by every loop:

* all arrays are flat, C-contiguous views of one dtype, so writing ``p[i]`` writes
  the parameter itself (the wrapper hands a non-contiguous parameter to numpy
  rather than update a copy);
* a state array that an option turns off (no momentum, no AMSGrad, not centered) is
  passed as an *empty* array of p's dtype, never None, and is never touched: the
  loop that runs is the variant without it;
* the hyper-parameters arrive as Python floats and bools and are cast to p's
  precision first thing, as the numba loops do (``t = p.dtype.type``): ``<real>lr``
  rounds a float64 to float32 exactly as ``np.float32(lr)`` does, so float32
  parameters get float32 arithmetic that rounds like numpy's float32 expressions with
  Python scalars. The arithmetic then follows the numba loop's order.

Option flags and vectorisation. gcc vectorises a loop only if its body has no
branches left, and it can turn an ``if`` into a branch-free select only when both
arms are register arithmetic: ``if maximize: gi = -gi`` is fine, but an arm that
reads or writes memory (``buf[i] = b`` only with momentum) may not be executed
speculatively. So each loop is an ``inline`` function with the array-presence flags
(``use_buf``, ``ams``, ``centered``) as arguments, called with *constant* True/False
from each branch of an ``if`` outside the loop: after inlining, gcc sees a separate
copy of the loop per combination, with those tests gone (constant-folded), and
vectorises each. The loop itself reads every state element it might need before any
select, so the remaining flags (``first``, ``nesterov``, ``maximize``, weight decay)
only choose between values in registers. (numba gets the same from LLVM's loop
unswitching.)
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


def sgd_loop(real[::1] p, const real[::1] g, real[::1] buf, double lr, double momentum, double dampening,
             bint nesterov, double weight_decay, bint maximize, bint first):
    """SGD with momentum (PyTorch's rule), in place, per element:

        g <- -g if maximize;  g <- g + weight_decay * p
        b  = g (first step)  or  momentum * b + (1 - dampening) * g
        d  = g + momentum * b if nesterov else b      (d = g without momentum)
        p <- p - lr * d

    ``buf`` is the momentum buffer; without momentum (momentum == 0 in p's precision) it
    is never touched and may be empty.
    """
    cdef Py_ssize_t n = p.shape[0]
    cdef real lr_ = <real>lr, momentum_ = <real>momentum, keep = <real>(1.0 - dampening)
    cdef real weight_decay_ = <real>weight_decay
    if n == 0:
        return
    with nogil:
        if momentum_ != 0:
            _sgd(&p[0], &g[0], &buf[0], n, lr_, momentum_, keep, weight_decay_, nesterov, maximize, first, True)
        else:
            _sgd(&p[0], &g[0], NULL, n, lr_, momentum_, keep, weight_decay_, nesterov, maximize, first, False)


# -------------------------------------------------------------------- Adam
cdef inline void _adam(real* p, const real* g, real* m, real* v, real* vmax, Py_ssize_t n,
                       real b1, real c1, real b2, real c2, real step_size, real inv_sqrt_bias2, real eps,
                       real weight_decay, real decay, real unit, bint maximize, bint ams) noexcept nogil:
    cdef Py_ssize_t i
    cdef real gi, pi, mi, vi, vm
    cdef bint coupled = weight_decay != 0
    for i in range(n):
        gi = g[i]
        if maximize:
            gi = -gi
        pi = p[i] * decay  # AdamW's decay; decay is exactly 1 otherwise (x * 1 == x)
        if coupled:
            gi = gi + weight_decay * pi
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        if ams:
            vm = vmax[i]
            # numba's max(vmax[i], vi): vi only where it is larger, so a NaN vmax stays and a
            # NaN vi does not get in. Both arms are registers and the store below is
            # unconditional, so gcc emits a blend and a plain store.
            vi = (vi if vi > vm else vm) * unit
            vmax[i] = vi
        p[i] = pi - step_size * mi / (sqrt_r(vi) * inv_sqrt_bias2 + eps)


def adam_loop(real[::1] p, const real[::1] g, real[::1] m, real[::1] v, real[::1] vmax, bint amsgrad,
              double step_size, double inv_sqrt_bias2, double beta1, double beta2, double eps,
              double weight_decay, double decay, bint maximize, double unit):
    """Adam / AdamW / AMSGrad (Kingma & Ba 2015, Alg. 1), in place, per element:

        g <- -g if maximize
        p <- p * decay                   (AdamW: decay = 1 - lr * weight_decay; else 1)
        g <- g + weight_decay * p        (Adam's L2 term; weight_decay = 0 for AdamW)
        m <- beta1 m + (1 - beta1) g;    v <- beta2 v + (1 - beta2) g^2
        v_hat = max(vmax, v) kept in vmax (AMSGrad) else v
        p <- p - step_size * m / (sqrt(v_hat) * inv_sqrt_bias2 + eps)
             step_size = lr / (1 - beta1^t),  inv_sqrt_bias2 = 1 / sqrt(1 - beta2^t)

    ``vmax`` may be empty (never touched) when ``amsgrad`` is False. ``unit`` is 1: the
    numba loop multiplies the AMSGrad maximum by it, a value LLVM cannot see through, so
    that its store stays a plain store rather than a slow masked one. gcc needs no such
    trick (see ``_adam``); the multiplication is kept, so both loops compute the same
    thing for any ``unit``, at the cost of one multiply per element.
    """
    cdef Py_ssize_t n = p.shape[0]
    cdef real b1 = <real>beta1, c1 = <real>(1.0 - beta1), b2 = <real>beta2, c2 = <real>(1.0 - beta2)
    cdef real step_size_ = <real>step_size, inv_sqrt_bias2_ = <real>inv_sqrt_bias2, eps_ = <real>eps
    cdef real unit_ = <real>unit, weight_decay_ = <real>weight_decay, decay_ = <real>decay
    if n == 0:
        return
    with nogil:
        if amsgrad:
            _adam(&p[0], &g[0], &m[0], &v[0], &vmax[0], n, b1, c1, b2, c2, step_size_, inv_sqrt_bias2_, eps_,
                  weight_decay_, decay_, unit_, maximize, True)
        else:
            _adam(&p[0], &g[0], &m[0], &v[0], NULL, n, b1, c1, b2, c2, step_size_, inv_sqrt_bias2_, eps_,
                  weight_decay_, decay_, unit_, maximize, False)


# ----------------------------------------------------------------- RMSprop
cdef inline void _rmsprop(real* p, const real* g, real* sq, real* buf, real* gavg, Py_ssize_t n,
                          real lr, real a, real c, real eps, real weight_decay, real momentum,
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
        si = a * sq[i] + c * gi * gi
        sq[i] = si
        if centered:
            ai = a * gavg[i] + c * gi
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


def rmsprop_loop(real[::1] p, const real[::1] g, real[::1] sq, real[::1] buf, real[::1] gavg, bint centered,
                 double lr, double alpha, double eps, double weight_decay, double momentum, bint maximize):
    """RMSprop (PyTorch's variant), in place, per element:

        g <- -g if maximize;  g <- g + weight_decay * p
        s <- alpha s + (1 - alpha) g^2
        centered: a <- alpha a + (1 - alpha) g;  denom = sqrt(s - a^2) + eps
        else:                                    denom = sqrt(s) + eps
        momentum: b <- momentum b + g / denom;  p <- p - lr b
        else:                                   p <- p - lr g / denom

    ``gavg`` (not centered) and ``buf`` (momentum == 0 in p's precision) may be empty:
    they are never touched then.
    """
    cdef Py_ssize_t n = p.shape[0]
    cdef real a = <real>alpha, c = <real>(1.0 - alpha), lr_ = <real>lr, eps_ = <real>eps
    cdef real weight_decay_ = <real>weight_decay, momentum_ = <real>momentum
    cdef bint use_buf = momentum_ != 0
    if n == 0:
        return
    with nogil:
        # One call per combination, each with constant flags: four specialised loops.
        if not use_buf and not centered:
            _rmsprop(&p[0], &g[0], &sq[0], NULL, NULL, n, lr_, a, c, eps_, weight_decay_, momentum_,
                     maximize, False, False)
        elif not centered:
            _rmsprop(&p[0], &g[0], &sq[0], &buf[0], NULL, n, lr_, a, c, eps_, weight_decay_, momentum_,
                     maximize, True, False)
        elif not use_buf:
            _rmsprop(&p[0], &g[0], &sq[0], NULL, &gavg[0], n, lr_, a, c, eps_, weight_decay_, momentum_,
                     maximize, False, True)
        else:
            _rmsprop(&p[0], &g[0], &sq[0], &buf[0], &gavg[0], n, lr_, a, c, eps_, weight_decay_, momentum_,
                     maximize, True, True)


# ----------------------------------------------------------------- Adagrad
def adagrad_loop(real[::1] p, const real[::1] g, real[::1] acc, double clr, double eps, double weight_decay,
                 bint maximize):
    """Adagrad (Duchi et al. 2011), in place, per element:  g <- -g if maximize;
    g <- g + weight_decay p;  S <- S + g^2;  p <- p - clr g / (sqrt(S) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef real clr_ = <real>clr, eps_ = <real>eps, weight_decay_ = <real>weight_decay
    cdef bint decay = weight_decay_ != 0
    cdef real gi, pi, s
    with nogil:
        for i in range(n):
            gi = g[i]
            pi = p[i]
            if maximize:
                gi = -gi
            if decay:
                gi = gi + weight_decay_ * pi
            s = acc[i] + gi * gi
            acc[i] = s
            p[i] = pi - clr_ * gi / (sqrt_r(s) + eps_)
