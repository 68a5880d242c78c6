"""Scalar helpers shared by the loop kernels: tanh, sigmoid, exp, log1p, NaN-propagating max/min.

Each is a plain Python function when the "python" backend runs the loops, and turns
into vectorisable code when numba compiles a loop that calls it (``helper``: compiled
into the calling kernel; ``compiled_form``: what the function becomes inside compiled
code, chosen from the argument types). None of them is a ``@kernel``: a @kernel
helper would run compiled even when called from an uncompiled loop, and
``loops.collect()`` would list it as a kernel.

Why polynomials: numba's LLVM has no SVML vector math library, so ``math.exp`` or
``math.tanh`` in a loop is one scalar libm call per element (~6 ns). The helpers below
are the classic Cephes algorithms written with multiply-adds, one division and a bit
trick, which LLVM vectorises (~1 ns per element).

NaN and inf pass through every helper: a clamp is written ``min(max(x, lo), hi)``
with x first, and numba's ``max(a, b)`` keeps ``a`` unless ``b > a``, so a NaN x stays
NaN (the kernels are compiled without the ``nnan`` fast-math flag: see ``_jit.py``).
"""
import math

import numpy as np

from ._jit import HAVE_NUMBA, compiled_form, helper

if HAVE_NUMBA:
    from numba import types as _types

# --------------------------------------------------------------------- tanh
# Rational approximation tanh(x) ~ x P(x^2) / Q(x^2) on [-7.905, 7.905] (outside it
# tanh rounds to +-1 in float32); the classic minimax form used by vector math libraries.
_CLAMP = 7.90531110763549805
_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
      1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


@helper(inline=True)
def _tanh32(x):
    v = min(max(x, np.float32(-_CLAMP)), np.float32(_CLAMP))
    v2 = v * v
    p = np.float32(_P[0])
    p = p * v2 + np.float32(_P[1])
    p = p * v2 + np.float32(_P[2])
    p = p * v2 + np.float32(_P[3])
    p = p * v2 + np.float32(_P[4])
    p = p * v2 + np.float32(_P[5])
    p = p * v2 + np.float32(_P[6])
    q = np.float32(_Q[0])
    q = q * v2 + np.float32(_Q[1])
    q = q * v2 + np.float32(_Q[2])
    q = q * v2 + np.float32(_Q[3])
    return v * p / q


@helper(inline=True)
def _tanh64(x):
    a = abs(x)
    if a < 0.55:
        e = math.expm1(-2.0 * a)  # accurate where 1 - exp(-2a) would cancel
        r = -e / (e + 2.0)
    else:
        e = math.exp(-2.0 * a)
        r = (1.0 - e) / (1.0 + e)
    return r if x >= 0 else -r


def _tanh(x):
    """tanh at the precision of x (interpreted: picks the helper by the scalar's type)."""
    return _tanh32(x) if isinstance(x, np.float32) else _tanh64(x)


@compiled_form(_tanh)
def _tanh_compiled(x):
    if x == _types.float32:
        return lambda x: _tanh32(x)
    return lambda x: _tanh64(x)


# ---------------------------------------------------------------------- exp
_LOG2E = 1.4426950408889634
# ln 2 split in two (Cody & Waite): _LN2_HI has few mantissa bits so n * _LN2_HI is exact.
_LN2_HI = 6.93145751953125e-1
_LN2_LO = 1.42860682030941723212e-6
# Cephes exp: exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) on |r| <= ln(2)/2.
_EP = (1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1)
_EQ = (3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1, 2.0)


@helper(inline=True)
def _exp_poly(x):
    """exp(x) in float64 (from float32 or float64 x), vectorisable; relative error < 3e-14.

    exp(x) = 2^n exp(r) with n = round(x / ln 2) and |r| <= ln(2)/2. exp(r) comes from a
    rational function; 2^n is built directly as the bits of a float64 (exponent field
    n + 1023, shifted 52 places). x is clamped to [-709, 709], the range where that
    exponent field is valid: below about -708.4 the result is 0 (libm gives denormals
    down to -745), above 709 it saturates at e^709 ~ 8e307. Every caller passes x <= 0.
    A NaN x gives NaN. fast-math lets LLVM merge the two halves of ln 2, which costs
    accuracy only for large |n|: < 3e-14 relative over the whole range, ~1e-15 for |x| < 30.
    """
    x = min(max(float(x), -709.0), 709.0)  # float(): float64 arithmetic, compiled or interpreted
    n = np.floor(_LOG2E * x + 0.5)
    r = x - n * _LN2_HI - n * _LN2_LO
    rr = r * r
    p = r * ((_EP[0] * rr + _EP[1]) * rr + _EP[2])
    q = ((_EQ[0] * rr + _EQ[1]) * rr + _EQ[2]) * rr + _EQ[3]
    e = 1.0 + 2.0 * p / (q - p)
    n = max(-1100.0, n)  # a NaN n becomes -1100 (max keeps its first argument): a defined int conversion
    # int32 first: AVX2 converts doubles to int32 in vector registers, not to int64.
    return e * np.int64((np.int64(np.int32(n)) + 1023) << 52).view(np.float64)


@helper(inline=True)
def _log1p_series(e):
    """log(1 + e) for 0 <= e <= 1, in float64, vectorisable; accurate to ~1 ulp, also for tiny e.

    log(1 + e) = 2 atanh(s) with s = e / (2 + e) <= 1/3, and
    2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...): 17 terms reach float64 precision at s = 1/3.
    No ``1 + e`` is ever formed, so nothing is lost when e is below machine epsilon.
    """
    s = e / (2.0 + e)
    z = s * s
    t = 1.0 / 33.0
    for k in range(15, -1, -1):  # Horner in z, constant trip count: fully unrolled by LLVM
        t = t * z + 1.0 / (2 * k + 1)
    return 2.0 * s * t


# ------------------------------------------------------------------ sigmoid
# sigma(x) = 1 / (1 + e^-x). Written as  s = (1 if x >= 0 else e) / (1 + e),  e = e^{-|x|} <= 1,
# it never overflows and keeps full relative precision in the negative tail, where
# sigma(x) ~ e^x: the form 0.5 tanh(x/2) + 0.5 would round everything below
# x ~ -17 (float32) / -37 (float64) to 0, and log(sigma(x)) to -inf.
# float32 uses a float32 exp (twice the vector width of the float64 one).
_EXPF_MIN = -87.33  # below, e^x is not a normal float32: the helper returns 0


@helper(inline=True)
def _expf_neg(x):
    """e^x for float32 x <= 0 (Cephes expf), vectorisable; 0 below -87.33; relative error < 3e-7.

    e^x = 2^n e^r, n = round(x / ln 2), |r| <= ln(2)/2, e^r from a degree-7 polynomial,
    2^n built as the bits of a float32 (exponent field n + 127, shifted 23 places).
    """
    xc = max(x, np.float32(_EXPF_MIN))
    n = np.floor(np.float32(_LOG2E) * xc + np.float32(0.5))
    r = xc - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)  # ln 2 in two parts
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * (r * r) + r + np.float32(1)
    n = max(np.float32(-200), n)  # a NaN n becomes -200 (max keeps its first argument): a defined int conversion
    two_n = np.int32((np.int32(n) + 127) << 23).view(np.float32)
    return np.float32(0) if x < np.float32(_EXPF_MIN) else p * two_n  # a NaN x fails the test: NaN


@helper(inline=True)
def _sigmoid32(x):
    one = np.float32(1)
    e = _expf_neg(-abs(x))
    return (one if x >= np.float32(0) else e) / (one + e)


@helper(inline=True)
def _sigmoid64(x):
    e = _exp_poly(-abs(x))
    return (1.0 if x >= 0 else e) / (1.0 + e)


def _sigmoid(x):
    """sigma(x) at the precision of x (interpreted: by the scalar's type)."""
    return _sigmoid32(x) if isinstance(x, np.float32) else _sigmoid64(x)


@compiled_form(_sigmoid)
def _sigmoid_compiled(x):
    if x == _types.float32:
        return lambda x: _sigmoid32(x)
    return lambda x: _sigmoid64(x)


# ------------------------------------------------- NaN-propagating max / min
def _maximum(v, acc):
    """max(v, acc), NaN if either is NaN (numpy's max semantics)."""
    return v if (v > acc or v != v) else acc


def _minimum(v, acc):
    """min(v, acc), NaN if either is NaN (numpy's min semantics)."""
    return v if (v < acc or v != v) else acc


# Inside compiled code the two helpers become one LLVM intrinsic each: LLVM vectorises
# it (a select chain with a NaN test would stay scalar: numba puts no fast-math flags on
# selects, and LLVM will only vectorise a select-based max reduction that may ignore NaN).
if HAVE_NUMBA:
    from llvmlite import ir
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _llvm_binary_intrinsic(name):
        @intrinsic
        def call(typingctx, a, b):
            if not (isinstance(a, _types.Float) and a == b):
                return None

            def codegen(context, builder, sig, args):
                ty = args[0].type
                fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty, ty]),
                                                    f"llvm.{name}.f{a.bitwidth}")
                return builder.call(fn, args)
            return a(a, a), codegen
        return call

    _llvm_maximum = _llvm_binary_intrinsic("maximum")
    _llvm_minimum = _llvm_binary_intrinsic("minimum")

    @compiled_form(_maximum)
    def _maximum_compiled(v, acc):
        if isinstance(v, _types.Float) and v == acc:
            return lambda v, acc: _llvm_maximum(v, acc)

    @compiled_form(_minimum)
    def _minimum_compiled(v, acc):
        if isinstance(v, _types.Float) and v == acc:
            return lambda v, acc: _llvm_minimum(v, acc)
