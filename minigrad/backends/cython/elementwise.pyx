# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Elementwise kernels in Cython: typed memoryviews compiled to C loops without the GIL.

Each kernel works on flat, C-contiguous 1-D views (the Python wrapper in
``cython_backend.py`` flattens and checks) and on float32 or float64 through one
fused type, so Cython emits one C function per dtype.
"""
from libc.math cimport tanh, tanhf, expf, exp

ctypedef fused real:
    float
    double


def tanh_forward(const real[::1] x, real[::1] out):
    """out = tanh(x)."""
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        if real is float:
            for i in range(n):
                out[i] = tanhf(x[i])
        else:
            for i in range(n):
                out[i] = tanh(x[i])


def tanh_backward(const real[::1] y, const real[::1] g, real[::1] out):
    """out = g * (1 - y^2), the derivative of tanh written in terms of its output y."""
    cdef Py_ssize_t i, n = y.shape[0]
    with nogil:
        for i in range(n):
            out[i] = g[i] * (1 - y[i] * y[i])


def sigmoid_forward(const real[::1] x, real[::1] out):
    """out = 1 / (1 + e^-x), with e^x used for negative x so that exp never overflows."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef real e
    with nogil:
        for i in range(n):
            if x[i] >= 0:
                e = expf(-x[i]) if real is float else exp(-x[i])
                out[i] = 1 / (1 + e)
            else:
                e = expf(x[i]) if real is float else exp(x[i])
                out[i] = e / (1 + e)


def sigmoid_backward(const real[::1] y, const real[::1] g, real[::1] out):
    """out = g * y * (1 - y)."""
    cdef Py_ssize_t i, n = y.shape[0]
    with nogil:
        for i in range(n):
            out[i] = g[i] * y[i] * (1 - y[i])


def relu_backward(const real[::1] x, const real[::1] g, real[::1] out):
    """out = g where x > 0, else 0."""
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in range(n):
            out[i] = g[i] if x[i] > 0 else 0
