"""Elementwise loop kernels: activations and their fused backward passes.

Every loop here sees flat, C-contiguous 1-D arrays of one float dtype and writes
``out``; the wrappers (``backends/wrappers/elementwise.py``) flatten, cast and
allocate first, and hand anything else (integer dtypes) to numpy.

Why loops beat numpy here: ``g * (1 - y * y)`` in numpy makes three passes over
memory and two temporary arrays; the loop below makes one pass and none. For the
forward activations the trap is transcendental functions: numba's LLVM has no SVML
vector math library, so ``math.tanh`` in a loop is a scalar libm call, ~5x slower
than numpy's SIMD ``np.tanh``. The scalar helpers (``_scalar.py``) are polynomial
forms that LLVM vectorises.

NaN and inf (the contract's rules, as PyTorch): NaN in gives NaN out. A test ``x > 0``
is false for NaN, so each ``if`` below is written so that the NaN case falls on the
side PyTorch takes: relu keeps x unless x <= 0, relu's gradient passes g unless
x <= 0, clip's gradient is g only where lo <= x <= hi (0 for NaN), abs's is sign(x) g
with sign(NaN) = 0.

Constants are typed like the data (``zero = x.dtype.type(0)``): a bare 0 would make a
float32 loop compute in float64.
"""
from ._jit import kernel
from ._scalar import _sigmoid, _tanh


# ----------------------------------------------------------- unary forward
@kernel
def tanh_loop(x, out):
    """out = tanh(x): a rational approximation in float32, exp-based in float64 (``_scalar.py``)."""
    for i in range(x.size):
        out[i] = _tanh(x[i])


@kernel
def sigmoid_loop(x, out):
    """out = 1 / (1 + e^-x), computed as (1 or e) / (1 + e), e = e^{-|x|}: never overflows,
    and accurate in the negative tail (sigma(-80) = 1.8e-35 in float32)."""
    for i in range(x.size):
        out[i] = _sigmoid(x[i])


@kernel
def relu_loop(x, out):
    """out = max(x, 0); NaN stays NaN."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        out[i] = zero if v <= zero else v


@kernel
def leaky_relu_loop(x, slope, out):
    """out = x where x > 0, else slope * x (NaN: slope * NaN = NaN)."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        out[i] = v if v > zero else v * slope


@kernel
def clip_loop(x, lo, hi, out):
    """out = min(max(x, lo), hi) (-inf / inf for a missing bound); NaN stays NaN."""
    for i in range(x.size):
        out[i] = min(max(x[i], lo), hi)


# ---------------------------------------------------------- fused backward
@kernel
def tanh_backward_loop(y, g, out):
    """out = g (1 - y^2), y = tanh(x)."""
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = g[i] * (one - y[i] * y[i])


@kernel
def sigmoid_backward_loop(y, g, out):
    """out = g y (1 - y), y = sigma(x)."""
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = g[i] * y[i] * (one - y[i])


@kernel
def relu_backward_loop(x, g, out):
    """out = 0 where x <= 0, else g (so a NaN x passes g, as PyTorch's relu does)."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        gi = g[i]
        out[i] = zero if x[i] <= zero else gi


@kernel
def leaky_relu_backward_loop(x, g, slope, out):
    """out = g where x > 0, else slope * g."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        gi = g[i]
        out[i] = gi if x[i] > zero else gi * slope


@kernel
def clip_backward_loop(x, g, lo, hi, out):
    """out = g where lo <= x <= hi, else 0 (also 0 for a NaN x)."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        gi = g[i]
        out[i] = gi if lo <= x[i] <= hi else zero


@kernel
def abs_backward_loop(x, g, out):
    """out = sign(x) g, with sign(0) = sign(NaN) = 0."""
    zero = x.dtype.type(0)
    for i in range(x.size):
        v, gi = x[i], g[i]
        out[i] = gi if v > zero else (-gi if v < zero else zero)


@kernel
def sqrt_backward_loop(y, g, out):
    """out = g / (2 y), y = sqrt(x)."""
    for i in range(y.size):
        out[i] = g[i] / (y[i] + y[i])  # 2 y without an int constant (see the module docstring)
