# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Elementwise kernels in Cython: activations and their fused backward passes.

What Cython makes of this file: ``setup.py`` translates it to a C file
(``elementwise.c``, tens of thousands of lines, almost all of it Python glue) and gcc
compiles that to an extension module. The loops themselves become plain C loops:

* ``const float[::1] x`` is a *typed memoryview*: at the call Cython takes the
  ndarray's buffer once (pointer, shape, strides); inside the loop ``x[i]`` is then a
  single load, ``((float *)x.data)[i]``. ``::1`` promises unit stride, so gcc sees
  contiguous arrays and can vectorise. Untyped, ``x[i]`` would be a Python
  ``__getitem__`` call returning a boxed Python float: ~100x slower.
* ``boundscheck(False)`` and ``wraparound(False)`` (first line of this file) drop the
  per-access index check and the negative-index fix-up, branches that would sit in
  every loop and stop vectorisation. ``cdivision(True)`` drops the zero-divisor test
  Cython puts before each ``/`` (C semantics: x / 0 is inf or nan, as in numpy).
* ``with nogil`` releases the interpreter lock: the loop touches no Python object,
  so other Python threads may run meanwhile. Cython refuses to compile a ``nogil``
  block that uses a Python object, which also proves the loop is pure C.
* ``real`` is a fused type (``_common.pxd``): each kernel is compiled once for float
  and once for double; a call picks the specialisation from the array dtype, or the
  caller picks it once, by index: ``relu_loop["float"]`` is the float32 function.

Why each loop first copies ``x[i]`` into a local: in ``g[i] if x[i] > 0 else
g[i] * s`` Cython emits the loads of ``g[i]`` *inside* the C if/else, and gcc will
not turn a branch containing memory loads into a branch-free select, so the loop
stays scalar and pays a mispredicted branch for every other element of random
data (~20x slower at 32k elements, measured). With the loads hoisted into locals,
both arms are register arithmetic and gcc vectorises the loop with a blend.

Constants are written ``<real>1``, not ``1``: Cython types a bare number in float
arithmetic as a C double, and ``1.0 - y * y`` would then run in double precision
(half the SIMD width) in the float32 build.

Every loop has the name, the parameters and the semantics of its numba twin in
``loops/elementwise.py``: one Python glue layer (``backends/wrappers/elementwise.py``)
calls either set, after flattening, broadcasting and checking dtypes; the float32
and float64 specialisations of each loop are picked once, when the backend is
assembled (``cython/__init__.py``). The kernel contract is ``backends/kernel_set.py``.
The formulas, and their operation order, are the numba loops', so the two backends
round alike. The scalar parameters (``slope``, ``lo``, ``hi``) are ``real``: the glue
passes them in x's dtype, which is also what keeps numba's float32 loops in float32.

NaN and inf (the contract's rules, as PyTorch): NaN in gives NaN out. A test ``x > 0``
is false for NaN, so each select below is written so that the NaN case falls on the
side PyTorch takes: relu keeps x unless x <= 0, relu's gradient passes g unless
x <= 0, clip's gradient is g only where lo <= x <= hi (0 for NaN), abs's is sign(x) g
with sign(NaN) = 0.
"""
from minigrad.backends.cython._common cimport real, sigmoid_r, tanh_r

# Which build this is, as setup.py compiled it (the MINIGRAD_BUILD macro), for available_backends().
cdef extern from *:
    """
    #ifndef MINIGRAD_BUILD
    #define MINIGRAD_BUILD "portable build"
    #endif
    """
    const char* MINIGRAD_BUILD

BUILD = MINIGRAD_BUILD.decode()


# ----------------------------------------------------------- unary forward
def tanh_loop(const real[::1] x, real[::1] out):
    """out = tanh(x): float32 by the vectorisable rational form, float64 from exp (``_common.pxd``)."""
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in range(n):
            out[i] = tanh_r(x[i])


def sigmoid_loop(const real[::1] x, real[::1] out):
    """out = 1 / (1 + e^-x), computed as (1 or e) / (1 + e), e = e^{-|x|}: never overflows,
    and accurate in the negative tail (sigma(-80) = 1.8e-35 in float32)."""
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in range(n):
            out[i] = sigmoid_r(x[i])


def relu_loop(const real[::1] x, real[::1] out):
    """out = max(x, 0); NaN stays NaN."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real xi
    with nogil:
        for i in range(n):
            xi = x[i]
            out[i] = 0 if xi <= 0 else xi


def leaky_relu_loop(const real[::1] x, real slope, real[::1] out):
    """out = x where x > 0, else slope * x (NaN: slope * NaN = NaN)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real xi
    with nogil:
        for i in range(n):
            xi = x[i]
            out[i] = xi if xi > 0 else xi * slope


def clip_loop(const real[::1] x, real lo, real hi, real[::1] out):
    """out = min(max(x, lo), hi) (-inf / inf for a missing bound); NaN stays NaN."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real v
    with nogil:
        for i in range(n):
            v = x[i]
            v = lo if v < lo else v
            out[i] = hi if v > hi else v


# ---------------------------------------------------------- fused backward
# One pass, no temporaries: numpy's ``g * (1 - y * y)`` makes three passes over
# memory and allocates two intermediate arrays.
def tanh_backward_loop(const real[::1] y, const real[::1] g, real[::1] out):
    """out = g (1 - y^2), the derivative of tanh written in terms of its output y."""
    cdef Py_ssize_t i, n = y.shape[0]
    with nogil:
        for i in range(n):
            out[i] = g[i] * (<real>1 - y[i] * y[i])


def sigmoid_backward_loop(const real[::1] y, const real[::1] g, real[::1] out):
    """out = g y (1 - y), y = sigma(x)."""
    cdef Py_ssize_t i, n = y.shape[0]
    with nogil:
        for i in range(n):
            out[i] = g[i] * y[i] * (<real>1 - y[i])


def relu_backward_loop(const real[::1] x, const real[::1] g, real[::1] out):
    """out = 0 where x <= 0, else g (so a NaN x passes g, as PyTorch's relu does)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real xi, gi
    with nogil:
        for i in range(n):
            xi = x[i]
            gi = g[i]
            out[i] = 0 if xi <= 0 else gi


def leaky_relu_backward_loop(const real[::1] x, const real[::1] g, real slope, real[::1] out):
    """out = g where x > 0, else slope * g."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real xi, gi
    with nogil:
        for i in range(n):
            xi = x[i]
            gi = g[i]
            out[i] = gi if xi > 0 else gi * slope


def clip_backward_loop(const real[::1] x, const real[::1] g, real lo, real hi, real[::1] out):
    """out = g where lo <= x <= hi, else 0 (also 0 for a NaN x: no gradient flows through a clamp)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real xi, gi
    with nogil:
        for i in range(n):
            xi = x[i]
            gi = g[i]
            # "&" rather than "and": Python's "and" short-circuits, i.e. a second branch.
            out[i] = gi if (lo <= xi) & (xi <= hi) else 0


def abs_backward_loop(const real[::1] x, const real[::1] g, real[::1] out):
    """out = sign(x) g, with sign(0) = sign(NaN) = 0."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real xi, gi
    with nogil:
        for i in range(n):
            xi = x[i]
            gi = g[i]
            out[i] = gi if xi > 0 else (-gi if xi < 0 else 0)


def sqrt_backward_loop(const real[::1] y, const real[::1] g, real[::1] out):
    """out = g / (2 y), y = sqrt(x)."""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef real yi
    with nogil:
        for i in range(n):
            yi = y[i]
            out[i] = g[i] / (yi + yi)  # 2 y as the numba loop writes it (the same bits as 2 * y)
