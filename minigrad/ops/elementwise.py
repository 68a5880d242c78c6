"""Elementwise ops: arithmetic with broadcasting, unary math, activations, comparisons.

Broadcasting follows numpy. In backward, an input that was broadcast received the
same gradient at every position it was copied to, so its gradient is the sum over
those positions (``k.sum_to_shape``).
"""
import numpy as np

from ..autograd import Function
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from .common import as_tensor, pair


def _binary(fn, a, b, op):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        a, b = pair(a, b)
    try:
        return fn.apply(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
                             "(trailing dimensions must match or be 1)") from None
        raise


def _unbroadcast(fn, g, i, shape):
    return fn.k.sum_to_shape(g, shape) if fn.needs_input_grad[i] else None


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    """out = a + b;  da = g,  db = g."""

    def forward(self, a, b):
        self.saved = (a.shape, b.shape)
        return self.k.add(a, b)

    def backward(self, g):
        sa, sb = self.saved
        return _unbroadcast(self, g, 0, sa), _unbroadcast(self, g, 1, sb)


class Sub(Function):
    """out = a - b;  da = g,  db = -g."""

    def forward(self, a, b):
        self.saved = (a.shape, b.shape)
        return self.k.sub(a, b)

    def backward(self, g):
        sa, sb = self.saved
        gb = self.k.neg(self.k.sum_to_shape(g, sb)) if self.needs_input_grad[1] else None
        return _unbroadcast(self, g, 0, sa), gb


class Mul(Function):
    """out = a * b;  da = g * b,  db = g * a."""

    def forward(self, a, b):
        self.saved = (a, b)
        return self.k.mul(a, b)

    def backward(self, g):
        a, b = self.saved
        k = self.k
        ga = k.sum_to_shape(k.mul(g, b), a.shape) if self.needs_input_grad[0] else None
        gb = k.sum_to_shape(k.mul(g, a), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """out = a / b;  da = g / b,  db = -g * a / b^2 = -g * out / b."""

    def forward(self, a, b):
        out = self.k.div(a, b)
        self.saved = (a.shape, b, out)
        return out

    def backward(self, g):
        sa, b, out = self.saved
        k = self.k
        ga = k.sum_to_shape(k.div(g, b), sa) if self.needs_input_grad[0] else None
        gb = k.sum_to_shape(k.neg(k.div(k.mul(g, out), b)), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class PowScalar(Function):
    """out = x ** p for a Python number p;  dx = g * p * x^(p-1)."""

    def forward(self, x, p):
        self.saved = (x, p)
        return self.k.pow(x, p)

    def backward(self, g):
        x, p = self.saved
        k = self.k
        if p == 0:  # x^0 is constant; p * x^(p-1) would give 0 * inf = nan at x = 0
            return k.zeros(x.shape, g.dtype)
        return k.mul(g, k.mul(k.pow(x, p - 1), p))


class Pow(Function):
    """out = a ** b (both tensors);  da = g * b * a^(b-1),  db = g * out * ln(a)."""

    def forward(self, a, b):
        out = self.k.pow(a, b)
        self.saved = (a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        k = self.k
        ga = k.sum_to_shape(k.mul(g, k.mul(b, k.pow(a, k.sub(b, 1)))), a.shape) if self.needs_input_grad[0] else None
        gb = k.sum_to_shape(k.mul(g, k.mul(out, k.log(a))), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class _Extremum(Function):
    """out = max(a, b) or min(a, b); the gradient goes to the winner, split evenly on ties.

    PyTorch's rule, also at NaN: an operand gets no gradient only where it loses (for max,
    a < b), so where either is NaN neither loses and both get g.
    """

    def forward(self, a, b):
        self.saved = (a, b)
        return self.kernel(a, b)

    def backward(self, g):
        a, b = self.saved
        k = self.k
        tie = k.compare("eq", a, b)

        def share(loses):  # 1/2 on a tie, 0 where this operand loses, else 1
            return k.astype(k.where(tie, 0.5, k.where(loses, 0.0, 1.0)), g.dtype)

        need_a, need_b = self.needs_input_grad
        ga = k.sum_to_shape(k.mul(g, share(k.compare(self.a_loses, a, b))), a.shape) if need_a else None
        gb = k.sum_to_shape(k.mul(g, share(k.compare(self.b_loses, a, b))), b.shape) if need_b else None
        return ga, gb


class Maximum(_Extremum):
    a_loses, b_loses = "lt", "gt"

    def kernel(self, a, b):
        return self.k.maximum(a, b)


class Minimum(_Extremum):
    a_loses, b_loses = "gt", "lt"

    def kernel(self, a, b):
        return self.k.minimum(a, b)


def add(a, b): return _binary(Add, a, b, "add")
def sub(a, b): return _binary(Sub, a, b, "sub")
def mul(a, b): return _binary(Mul, a, b, "mul")
def div(a, b): return _binary(Div, a, b, "div")
def maximum(a, b): return _binary(Maximum, a, b, "maximum")
def minimum(a, b): return _binary(Minimum, a, b, "minimum")


def pow(a, b):
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return PowScalar.apply(a, p=b)
    return _binary(Pow, a, b, "pow")


# ------------------------------------------------------------------- unary
class Neg(Function):
    """out = -x;  dx = -g."""

    def forward(self, x):
        return self.k.neg(x)

    def backward(self, g):
        return self.k.neg(g)


class Exp(Function):
    """out = e^x;  dx = g * out."""

    def forward(self, x):
        y = self.k.exp(x)
        self.saved = y
        return y

    def backward(self, g):
        return self.k.mul(g, self.saved)


class Log(Function):
    """out = ln x;  dx = g / x."""

    def forward(self, x):
        self.saved = x
        return self.k.log(x)

    def backward(self, g):
        return self.k.div(g, self.saved)


class Sqrt(Function):
    """out = sqrt(x);  dx = g / (2 out)."""

    def forward(self, x):
        y = self.k.sqrt(x)
        self.saved = y
        return y

    def backward(self, g):
        return self.k.sqrt_backward(self.saved, g)


class Abs(Function):
    """out = |x|;  dx = g * sign(x) (0 at x = 0)."""

    def forward(self, x):
        self.saved = x
        return self.k.abs(x)

    def backward(self, g):
        return self.k.abs_backward(self.saved, g)


class Tanh(Function):
    """out = tanh x;  dx = g * (1 - out^2)."""

    def forward(self, x):
        y = self.k.tanh(x)
        self.saved = y
        return y

    def backward(self, g):
        return self.k.tanh_backward(self.saved, g)


class Sigmoid(Function):
    """out = 1 / (1 + e^-x), computed without overflow;  dx = g * out * (1 - out)."""

    def forward(self, x):
        y = self.k.sigmoid(x)
        self.saved = y
        return y

    def backward(self, g):
        return self.k.sigmoid_backward(self.saved, g)


class Relu(Function):
    """out = max(x, 0);  dx = g where x > 0, else 0."""

    def forward(self, x):
        self.saved = x
        return self.k.relu(x)

    def backward(self, g):
        return self.k.relu_backward(self.saved, g)


class LeakyRelu(Function):
    """out = x if x > 0 else slope * x;  dx = g or slope * g."""

    def forward(self, x, slope):
        self.saved = (x, slope)
        return self.k.leaky_relu(x, slope)

    def backward(self, g):
        x, slope = self.saved
        return self.k.leaky_relu_backward(x, g, slope)


class Clip(Function):
    """out = min(max(x, lo), hi);  dx = g inside [lo, hi], 0 where clipped."""

    def forward(self, x, lo, hi):
        self.saved = (x, lo, hi)
        return self.k.clip(x, lo, hi)

    def backward(self, g):
        x, lo, hi = self.saved
        return self.k.clip_backward(x, g, lo, hi)


def _floating(x):
    """Transcendental functions of integer tensors give the default float dtype (as in PyTorch)."""
    return x if x.dtype.kind == "f" else astype(x, get_default_dtype())


def neg(x): return Neg.apply(x)
def exp(x): return Exp.apply(_floating(x))
def log(x): return Log.apply(_floating(x))
def sqrt(x): return Sqrt.apply(_floating(x))
def abs(x): return Abs.apply(x)
def tanh(x): return Tanh.apply(_floating(x))
def sigmoid(x): return Sigmoid.apply(_floating(x))
def relu(x): return Relu.apply(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyRelu.apply(x, slope=float(negative_slope))


def clip(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is greater than max ({max})")
    return Clip.apply(x, lo=min, hi=max)


# --------------------------------------------------------- select and cast
class Where(Function):
    """out = a where cond else b;  da = g where cond,  db = g elsewhere."""

    def forward(self, cond, a, b):
        self.saved = (cond, a.shape, b.shape)
        return self.k.where(cond, a, b)

    def backward(self, g):
        cond, sa, sb = self.saved
        k = self.k
        zero = k.zeros((), g.dtype)
        ga = k.sum_to_shape(k.where(cond, g, zero), sa) if self.needs_input_grad[1] else None
        gb = k.sum_to_shape(k.where(cond, zero, g), sb) if self.needs_input_grad[2] else None
        return None, ga, gb


def where(cond, a, b):
    """Elementwise ``a if cond else b`` with broadcasting; ``cond`` must be boolean."""
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if like is None:
        a = Tensor(a)
        like = a
    cond = as_tensor(cond, like)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a boolean tensor, got dtype {cond.dtype}")
    a, b = as_tensor(a, like), as_tensor(b, like)
    try:
        return Where.apply(cond, a, b)
    except ValueError:
        raise ValueError(f"where: shapes cond {cond.shape}, a {a.shape}, b {b.shape} "
                         "cannot be broadcast together") from None


class Cast(Function):
    """out = x converted to another dtype;  dx = g converted back."""

    def forward(self, x, dtype):
        self.saved = x.dtype
        return self.k.astype(x, dtype)

    def backward(self, g):
        return self.k.astype(g, self.saved)


def astype(x, dtype):
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if dtype.kind != "f":  # integer/bool results have no gradient (and must not require one)
        return Tensor._wrap(x._k().astype(x.data, dtype), False, x._device)
    return Cast.apply(x, dtype=dtype)


def compare(op, a, b):
    """Elementwise comparison (eq, ne, lt, le, gt, ge) -> boolean tensor, no gradient."""
    a, b = pair(a, b)
    try:
        out = a._k().compare(op, a.data, b.data)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    return Tensor._wrap(out, False, a._device)
