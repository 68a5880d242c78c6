"""Elementwise loop kernels: activations, their fused backward, broadcasting arithmetic.

Why loops beat numpy here: ``g * (1 - y * y)`` in numpy makes three passes over
memory and two temporary arrays; the loop below makes one pass and none. For the
forward activations the trap is transcendental functions: numba's LLVM has no SVML
vector math library, so ``math.tanh`` in a loop is a scalar libm call, ~5x slower
than numpy's SIMD ``np.tanh``. float32 tanh is therefore computed with a rational
approximation made only of multiply-adds and one division, which LLVM vectorises
(max relative error ~3e-7, a few float32 ulps). float64 uses (1 - e^{-2|x|}) /
(1 + e^{-2|x|}): libm's exp is over twice as fast as its tanh, and near 0, where
1 - e^{-2|x|} would cancel, expm1 keeps full precision. sigmoid reuses tanh through
the identity sigma(x) = (1 + tanh(x/2)) / 2, which never overflows.
"""
import math

import numpy as np
from numba.extending import register_jitable

from .. import _arrays as A
from . import kernel
from ._scalar import _tanh32, _tanh64

# ----------------------------------------------------------- unary forward
@kernel
def tanh_f32_loop(x, out):
    for i in range(x.size):
        out[i] = _tanh32(x[i])


@kernel
def tanh_loop(x, out):
    for i in range(x.size):
        out[i] = _tanh64(x[i])


@kernel
def sigmoid_f32_loop(x, out):
    half = np.float32(0.5)
    for i in range(x.size):
        out[i] = half * _tanh32(half * x[i]) + half


@kernel
def sigmoid_loop(x, out):
    for i in range(x.size):
        out[i] = 0.5 * _tanh64(0.5 * x[i]) + 0.5


@kernel
def relu_loop(x, out):
    zero = x.dtype.type(0)  # a typed constant: a bare 0 would make float32 loops compute in float64
    for i in range(x.size):
        out[i] = x[i] if x[i] > zero else zero


@kernel
def leaky_relu_loop(x, slope, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = x[i] if x[i] > zero else x[i] * slope


@kernel
def clip_loop(x, lo, hi, out):
    for i in range(x.size):
        out[i] = min(max(x[i], lo), hi)


# ---------------------------------------------------------- fused backward
@kernel
def tanh_backward_loop(y, g, out):
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = g[i] * (one - y[i] * y[i])


@kernel
def sigmoid_backward_loop(y, g, out):
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = g[i] * y[i] * (one - y[i])


@kernel
def relu_backward_loop(x, g, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = g[i] if x[i] > zero else zero


@kernel
def leaky_relu_backward_loop(x, g, slope, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = g[i] if x[i] > zero else g[i] * slope


@kernel
def clip_backward_loop(x, g, lo, hi, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = g[i] if lo <= x[i] <= hi else zero


@kernel
def abs_backward_loop(x, g, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = g[i] if x[i] > zero else (-g[i] if x[i] < zero else zero)


@kernel
def sqrt_backward_loop(y, g, out):
    for i in range(y.size):
        out[i] = g[i] / (y[i] + y[i])  # 2 y without an int constant (see relu_loop)


# ---------------------------------------------------- binary, broadcasting
ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM = range(6)


@register_jitable(inline="always")
def _binop(op, x, y):
    if op == ADD:
        return x + y
    if op == SUB:
        return x - y
    if op == MUL:
        return x * y
    if op == DIV:
        return x / y
    if op == MAXIMUM:
        return max(x, y)
    return min(x, y)


@kernel
def binary_same_loop(op, a, b, out):
    """out[i] = a[i] op b[i] (equal shapes, flattened)."""
    for i in range(out.size):
        out[i] = _binop(op, a[i], b[i])


@kernel
def binary_scalar_loop(op, a, s, out, scalar_first):
    """out[i] = a[i] op s, or s op a[i] when scalar_first."""
    if scalar_first:
        for i in range(out.size):
            out[i] = _binop(op, s, a[i])
    else:
        for i in range(out.size):
            out[i] = _binop(op, a[i], s)


@kernel
def binary_rows_loop(op, a, b, out, block_first):
    """a viewed as rows of len(b): out[r, c] = a[r, c] op b[c] (or b[c] op a[r, c])."""
    cols = b.size
    for r in range(a.size // cols):
        base = r * cols
        if block_first:
            for c in range(cols):
                out[base + c] = _binop(op, b[c], a[base + c])
        else:
            for c in range(cols):
                out[base + c] = _binop(op, a[base + c], b[c])


# --------------------------------------------------------------- wrappers
def _floats(x):
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise TypeError(f"loop kernel: expected float32 or float64, got {x.dtype}")


def unary(loop, x, *args):
    """Run ``loop(x_flat, *args, out_flat)`` and return out shaped like x."""
    _floats(x)
    out = np.empty(x.shape, dtype=x.dtype)
    loop(A.flat(x), *args, out.reshape(-1))
    return out


def saved_and_grad(loop, saved, g, *args):
    """Backward kernels out = f(saved, g): both of one shape; g cast to saved's dtype."""
    if g.shape != saved.shape:
        g = np.broadcast_to(g, saved.shape)
    if g.dtype != saved.dtype:
        g = g.astype(saved.dtype)
    _floats(saved)
    out = np.empty(saved.shape, dtype=saved.dtype)
    loop(A.flat(saved), A.flat(g), *args, out.reshape(-1))
    return out


def binary(loops, op, a, b):
    """a op b with numpy broadcasting and numpy's dtype promotion, by loop kernels."""
    dtype = np.result_type(a, b)
    if dtype.kind != "f":  # integer arithmetic keeps numpy's exact rules (e.g. int / int -> float)
        return None
    a = np.asarray(a, dtype=dtype) if a.dtype != dtype else a
    b = np.asarray(b, dtype=dtype) if b.dtype != dtype else b
    mode, shape = A.broadcast_plan(a, b)
    out = np.empty(shape, dtype=dtype)
    o = out.reshape(-1)
    if mode == A.SAME:
        loops.binary_same_loop(op, A.flat(a), A.flat(b), o)
    elif mode == A.SCALAR_B:
        loops.binary_scalar_loop(op, A.materialise(a, shape), b.reshape(-1)[0], o, False)
    elif mode == A.SCALAR_A:
        loops.binary_scalar_loop(op, A.materialise(b, shape), a.reshape(-1)[0], o, True)
    elif mode == A.ROWS_B:
        loops.binary_rows_loop(op, A.flat(a), A.flat(b), o, False)
    elif mode == A.ROWS_A:
        loops.binary_rows_loop(op, A.flat(b), A.flat(a), o, True)
    else:
        loops.binary_same_loop(op, A.materialise(a, shape), A.materialise(b, shape), o)
    return out


class ElementwiseKernels:
    """Kernel-set entries implemented with the loops above (``cls.loops`` picks compiled or not)."""

    @classmethod
    def tanh(cls, x):
        return unary(cls.loops.tanh_f32_loop if x.dtype == np.float32 else cls.loops.tanh_loop, x)

    @classmethod
    def sigmoid(cls, x):
        return unary(cls.loops.sigmoid_f32_loop if x.dtype == np.float32 else cls.loops.sigmoid_loop, x)

    @classmethod
    def relu(cls, x): return unary(cls.loops.relu_loop, x)
    @classmethod
    def leaky_relu(cls, x, slope): return unary(cls.loops.leaky_relu_loop, x, x.dtype.type(slope))

    @classmethod
    def clip(cls, x, lo, hi):
        lo = -np.inf if lo is None else lo
        hi = np.inf if hi is None else hi
        return unary(cls.loops.clip_loop, x, x.dtype.type(lo), x.dtype.type(hi))

    @classmethod
    def tanh_backward(cls, y, g): return saved_and_grad(cls.loops.tanh_backward_loop, y, g)
    @classmethod
    def sigmoid_backward(cls, y, g): return saved_and_grad(cls.loops.sigmoid_backward_loop, y, g)
    @classmethod
    def relu_backward(cls, x, g): return saved_and_grad(cls.loops.relu_backward_loop, x, g)
    @classmethod
    def abs_backward(cls, x, g): return saved_and_grad(cls.loops.abs_backward_loop, x, g)
    @classmethod
    def sqrt_backward(cls, y, g): return saved_and_grad(cls.loops.sqrt_backward_loop, y, g)

    @classmethod
    def leaky_relu_backward(cls, x, g, slope):
        return saved_and_grad(cls.loops.leaky_relu_backward_loop, x, g, x.dtype.type(slope))

    @classmethod
    def clip_backward(cls, x, g, lo, hi):
        lo = -np.inf if lo is None else lo
        hi = np.inf if hi is None else hi
        return saved_and_grad(cls.loops.clip_backward_loop, x, g, x.dtype.type(lo), x.dtype.type(hi))
