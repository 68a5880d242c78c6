"""Elementwise kernels on the GPU: one thread per output element, any rank, numpy broadcasting.

A binary op over shapes (3, 1) and (4,) gives (3, 4): thread i finds its (row, col) from
i, and reads each input at that position with the input's own strides, 0 along an axis
it is broadcast over. No input is ever copied to its broadcast shape. An operand may
also be a Python number (passed to the kernel as an argument, typed like the result, so
float32 stays float32 as numpy's weak scalars do). The result dtype is numpy's: the
host asks numpy what ``np.add`` of those dtypes gives, on empty arrays.

The op is an argument of the kernel (``ADD``, ``EXP`` ...): one compiled kernel serves
every op of a kind, and the branch on it is the same for every thread, so it costs
nothing measurable next to the memory traffic. NaN and inf follow IEEE and numpy:
``maximum``/``minimum`` return NaN when either side is NaN.
"""
import functools
import math

import numpy as np

from ._device import cuda, empty, launch, offset_of

NEG, EXP, LOG, SQRT, ABS, TANH = range(6)
ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, EQ, NE, LT, LE, GT, GE = range(13)
_UNARY = {NEG: np.negative, EXP: np.exp, LOG: np.log, SQRT: np.sqrt, ABS: np.abs, TANH: np.tanh}
_BINARY = {ADD: np.add, SUB: np.subtract, MUL: np.multiply, DIV: np.true_divide, POW: np.power,
           MAXIMUM: np.maximum, MINIMUM: np.minimum, EQ: np.equal, NE: np.not_equal, LT: np.less,
           LE: np.less_equal, GT: np.greater, GE: np.greater_equal}
_COMPARE = {"eq": EQ, "ne": NE, "lt": LT, "le": LE, "gt": GT, "ge": GE}
# the fused kernels: activations with up to two parameters, and the backward of each
# elementwise op from what its forward saved (x or y) and the upstream gradient g
SIGMOID, RELU, LEAKY_RELU, CLIP = range(4)
TANH_B, SIGMOID_B, RELU_B, LEAKY_RELU_B, CLIP_B, ABS_B, SQRT_B = range(7)


# ------------------------------------------------------------------ device code
@cuda.jit(device=True)
def _unop(op, x):
    if op == NEG:
        return -x
    if op == EXP:
        return math.exp(x) if x < 709.0 else (math.inf if x == x else x)  # no OverflowError in the simulator
    if op == LOG:
        return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
    if op == SQRT:
        return math.sqrt(x) if x >= 0 else math.nan
    if op == ABS:
        return math.fabs(x)  # clears the sign bit: |-0.0| = 0.0, as numpy; not abs(): this module defines its own
    return math.tanh(x)


@cuda.jit(device=True)
def _binop(op, a, b):
    if op == ADD:
        return a + b
    if op == SUB:
        return a - b
    if op == MUL:
        return a * b
    if op == DIV:
        return a / b
    if op == POW:
        return a ** b
    if op == MAXIMUM:
        return a if (a != a or a >= b) else b  # NaN in either wins, as np.maximum
    if op == MINIMUM:
        return a if (a != a or a <= b) else b
    if op == EQ:
        return a == b
    if op == NE:
        return a != b
    if op == LT:
        return a < b
    if op == LE:
        return a <= b
    if op == GT:
        return a > b
    return a >= b


@cuda.jit(device=True)
def _activation_op(op, x, p1, p2, has1, has2):
    if op == SIGMOID:
        # (1 if x >= 0 else e) / (1 + e) with e = e^{-|x|} <= 1: never overflows, and keeps
        # full precision in the negative tail, where sigma(x) ~ e^x; NaN makes e NaN
        e = math.exp(-x if x >= 0 else x)
        return (1.0 if x >= 0 else e) / (1.0 + e)
    if op == RELU:
        return x if (x != x or x > 0) else 0.0
    if op == LEAKY_RELU:
        return x if x > 0 else x * p1
    v = x  # CLIP: each bound only when given; comparisons with NaN are false, so NaN stays
    if has1 and v < p1:
        v = p1
    if has2 and v > p2:
        v = p2
    return v


@cuda.jit(device=True)
def _gradient_op(op, x, g, p1, p2, has1, has2):
    """dL/dinput of an elementwise op from x (or y, what the forward saved) and g."""
    if op == TANH_B:
        return g * (1 - x * x)  # y = tanh(x): 1 - y^2
    if op == SIGMOID_B:
        return g * x * (1 - x)  # y = sigma(x): y (1 - y)
    if op == RELU_B:
        return 0.0 if x <= 0 else g  # a NaN x passes g, as PyTorch's relu does
    if op == LEAKY_RELU_B:
        return g if x > 0 else g * p1
    if op == CLIP_B:
        inside = (not has1 or x >= p1) and (not has2 or x <= p2)
        return g if inside else 0.0
    if op == ABS_B:
        return g if x > 0 else (-g if x < 0 else 0.0)  # sign(0) = sign(NaN) = 0
    return g / (2 * x)  # SQRT_B, y = sqrt(x)


@cuda.jit
def _activation(op, x, x_off, x_strides, shape, p1, p2, has1, has2, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = _activation_op(op, x[offset_of(i, shape, x_strides, x_off)], p1, p2, has1, has2)


@cuda.jit
def _gradient(op, x, x_off, x_strides, g, g_off, g_strides, shape, p1, p2, has1, has2, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = _gradient_op(op, x[offset_of(i, shape, x_strides, x_off)], g[offset_of(i, shape, g_strides, g_off)],
                              p1, p2, has1, has2)


@cuda.jit
def _unary(op, x, x_off, x_strides, shape, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = _unop(op, x[offset_of(i, shape, x_strides, x_off)])


@cuda.jit
def _binary(op, a, a_off, a_strides, b, b_off, b_strides, shape, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = _binop(op, a[offset_of(i, shape, a_strides, a_off)], b[offset_of(i, shape, b_strides, b_off)])


@cuda.jit
def _binary_scalar(op, a, a_off, a_strides, s, scalar_first, shape, out):
    i = cuda.grid(1)
    if i < out.size:
        v = a[offset_of(i, shape, a_strides, a_off)]
        out[i] = _binop(op, s, v) if scalar_first else _binop(op, v, s)


@cuda.jit
def _select(c, c_off, c_strides, a, a_off, a_strides, b, b_off, b_strides, shape, out):
    i = cuda.grid(1)
    if i < out.size:
        if c[offset_of(i, shape, c_strides, c_off)]:
            out[i] = a[offset_of(i, shape, a_strides, a_off)]
        else:
            out[i] = b[offset_of(i, shape, b_strides, b_off)]


@cuda.jit
def _fill(out, value):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = value


# ------------------------------------------------------------ host helpers
@functools.lru_cache(maxsize=None)
def _result_dtype(ufunc, *operands):
    """numpy's result dtype of ufunc on these operands (dtypes, or Python scalar types, which are weak)."""
    probe = [np.empty(0, o) if isinstance(o, np.dtype) else o(0) for o in operands]
    return np.dtype(ufunc(*probe).dtype)


def _is_scalar(v):
    return isinstance(v, (bool, int, float, np.number, np.bool_))


def _broadcast(x, shape):
    """(buffer, offset, strides) reading x as if it had ``shape`` (numpy's rules; stride 0 where stretched)."""
    lead = len(shape) - x.ndim
    strides = [0] * lead + [0 if n == 1 and m != 1 else s for n, m, s in zip(x.shape, shape[lead:], x.strides)]
    return x.buf, x.offset, tuple(strides) or (1,)


def _unary_op(op, x):
    out = empty(x.shape, _result_dtype(_UNARY[op], x.dtype))
    buf, off, strides = x.kernel_args()
    launch(_unary, out.size, op, buf, off, strides, x.flat_shape(), out.buf)
    return out


def _binary_op(op, a, b):
    ufunc = _BINARY[op]
    if _is_scalar(b) or _is_scalar(a):
        scalar_first = _is_scalar(a)
        arr, s = (b, a) if scalar_first else (a, b)
        dtype = _result_dtype(ufunc, *((type(s), arr.dtype) if scalar_first else (arr.dtype, type(s))))
        compute = _result_dtype(np.add, arr.dtype, type(s))  # the type the arithmetic runs in
        out = empty(arr.shape, dtype)
        buf, off, strides = arr.kernel_args()
        launch(_binary_scalar, out.size, op, buf, off, strides, compute.type(s), scalar_first, arr.flat_shape(),
               out.buf)
        return out
    shape = np.broadcast_shapes(a.shape, b.shape)
    out = empty(shape, _result_dtype(ufunc, a.dtype, b.dtype))
    loop = shape or (1,)
    launch(_binary, out.size, op, *_broadcast(a, loop), *_broadcast(b, loop), loop, out.buf)
    return out


# ============================================================= required kernels
def neg(x):
    return _unary_op(NEG, x)


def exp(x):
    return _unary_op(EXP, x)


def log(x):
    return _unary_op(LOG, x)


def sqrt(x):
    return _unary_op(SQRT, x)


def abs(x):
    return _unary_op(ABS, x)


def tanh(x):
    return _unary_op(TANH, x)


def add(a, b):
    return _binary_op(ADD, a, b)


def sub(a, b):
    return _binary_op(SUB, a, b)


def mul(a, b):
    return _binary_op(MUL, a, b)


def div(a, b):
    return _binary_op(DIV, a, b)


def pow(a, b):
    return _binary_op(POW, a, b)


def maximum(a, b):
    return _binary_op(MAXIMUM, a, b)


def minimum(a, b):
    return _binary_op(MINIMUM, a, b)


def compare(op, a, b):
    return _binary_op(_COMPARE[op], a, b)


def where(cond, a, b):
    """a where cond else b; a or b may be Python numbers (made 0-d arrays of the result dtype)."""
    types = [type(v) if _is_scalar(v) else v.dtype for v in (a, b)]
    dtype = _result_dtype(np.where, np.dtype(bool), *types)
    a, b = (_scalar_array(v, dtype) if _is_scalar(v) else v for v in (a, b))
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    out = empty(shape, dtype)
    loop = shape or (1,)
    launch(_select, out.size, *_broadcast(cond, loop), *_broadcast(a, loop), *_broadcast(b, loop), loop, out.buf)
    return out


def _scalar_array(value, dtype):
    """A 0-d CudaArray holding ``value`` (filled on the device: no transfer)."""
    out = empty((), dtype)
    launch(_fill, 1, out.buf, np.dtype(dtype).type(value))
    return out


# ============================================================= fused kernels
# Float arrays take one fused kernel; anything else (integer relu or clip) the same
# arithmetic from the required kernels above.
def _floats(*arrays):
    return all(a.dtype.char in "fd" for a in arrays)


def _activate(op, x, p1=0.0, p2=0.0, has1=False, has2=False):
    out = empty(x.shape, x.dtype)
    buf, off, strides = x.kernel_args()
    launch(_activation, out.size, op, buf, off, strides, x.flat_shape(), x.dtype.type(p1), x.dtype.type(p2),
           has1, has2, out.buf)
    return out


def _grad(op, x, g, p1=0.0, p2=0.0, has1=False, has2=False):
    shape = np.broadcast_shapes(x.shape, g.shape)
    dtype = _result_dtype(np.multiply, x.dtype, g.dtype)
    out = empty(shape, dtype)
    loop = shape or (1,)
    launch(_gradient, out.size, op, *_broadcast(x, loop), *_broadcast(g, loop), loop, dtype.type(p1),
           dtype.type(p2), has1, has2, out.buf)
    return out


def sigmoid(x):
    return _activate(SIGMOID, x) if _floats(x) else div(1.0, add(exp(neg(x)), 1.0))


def relu(x):
    return _activate(RELU, x) if _floats(x) else maximum(x, 0)


def leaky_relu(x, slope):
    return _activate(LEAKY_RELU, x, slope) if _floats(x) else where(compare("gt", x, 0), x, mul(x, slope))


def clip(x, lo, hi):
    if _floats(x):
        return _activate(CLIP, x, 0.0 if lo is None else lo, 0.0 if hi is None else hi, lo is not None,
                         hi is not None)
    x = x if lo is None else maximum(x, lo)
    return x if hi is None else minimum(x, hi)


def tanh_backward(y, g):
    return _grad(TANH_B, y, g)


def sigmoid_backward(y, g):
    return _grad(SIGMOID_B, y, g)


def relu_backward(x, g):
    return _grad(RELU_B, x, g)


def leaky_relu_backward(x, g, slope):
    return _grad(LEAKY_RELU_B, x, g, slope)


def clip_backward(x, g, lo, hi):
    return _grad(CLIP_B, x, g, 0.0 if lo is None else lo, 0.0 if hi is None else hi, lo is not None, hi is not None)


def abs_backward(x, g):
    return _grad(ABS_B, x, g)


def sqrt_backward(y, g):
    return _grad(SQRT_B, y, g)
