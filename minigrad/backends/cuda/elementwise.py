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
        return x if x >= 0 else -x  # (NaN: -NaN is NaN); not abs(): this module defines its own
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
