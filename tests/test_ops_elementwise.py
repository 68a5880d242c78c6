"""Elementwise ops: arithmetic with broadcasting (and the reflected/scalar forms), unary
math, activations, clip, maximum/minimum, where, astype, comparisons.

Forward values are compared with numpy on every CPU backend (float32, within TOL);
gradients are checked in float64 against central finite differences (mg.gradcheck).
"""
import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close, f64

# (a.shape, b.shape) pairs: equal, size-1 dims, broadcast both ways, leading dims, 0-d.
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((4,), (2, 3, 4)),
    ((2, 3, 4), (4,)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
    ((1,), (5,)),
    ((2, 1, 3), (4, 1)),
    ((1, 1), (1, 1)),
]


def _nonzero(rng, shape, lo=0.5, hi=2.0):
    """Values with |v| in [lo, hi] and random sign: safe for division, abs, relu..."""
    return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def _positive(rng, shape, lo=0.5, hi=2.0):
    return rng.uniform(lo, hi, shape)


# name -> (minigrad fn, numpy fn, data maker for a, data maker for b)
BINARY = {
    "add": (lambda a, b: a + b, np.add, _nonzero, _nonzero),
    "sub": (lambda a, b: a - b, np.subtract, _nonzero, _nonzero),
    "mul": (lambda a, b: a * b, np.multiply, _nonzero, _nonzero),
    "div": (lambda a, b: a / b, np.divide, _nonzero, _nonzero),
    "pow": (lambda a, b: a ** b, np.power, _positive, _nonzero),
    "maximum": (mg.maximum, np.maximum, _nonzero, _nonzero),
    "minimum": (mg.minimum, np.minimum, _nonzero, _nonzero),
    "add_fn": (mg.ops.add, np.add, _nonzero, _nonzero),
    "mul_fn": (mg.ops.mul, np.multiply, _nonzero, _nonzero),
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_forward(backend, name, shapes):
    fn, ref, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(1)
    a = make_a(rng, shapes[0]).astype(np.float32)
    b = make_b(rng, shapes[1]).astype(np.float32)
    out = fn(mg.tensor(a), mg.tensor(b))
    expected = ref(a, b)
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    assert_close(out, expected)


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_gradcheck(backend, name, shapes):
    fn, _, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(2)
    a, b = f64(make_a(rng, shapes[0])), f64(make_b(rng, shapes[1]))
    assert mg.gradcheck(fn, [a, b])


@pytest.mark.parametrize("name", ["add", "mul", "div", "pow"])
def test_binary_gradcheck_one_side_requires_grad(backend, name):
    fn, _, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(3)
    a = f64(make_a(rng, (3, 1)))
    b = f64(make_b(rng, (1, 4)), requires_grad=False)
    assert mg.gradcheck(fn, [a, b])
    assert mg.gradcheck(lambda b_, a_: fn(a_, b_), [f64(make_b(rng, (4,))), f64(make_a(rng, (2, 4)), False)])


# Scalar and reflected forms: (minigrad fn, numpy fn, data maker)
SCALAR_FORMS = {
    "x+3": (lambda x: x + 3, lambda x: x + 3, _nonzero),
    "3+x": (lambda x: 3 + x, lambda x: 3 + x, _nonzero),
    "x-1.5": (lambda x: x - 1.5, lambda x: x - 1.5, _nonzero),
    "2.0-x": (lambda x: 2.0 - x, lambda x: 2.0 - x, _nonzero),
    "x*2.5": (lambda x: x * 2.5, lambda x: x * 2.5, _nonzero),
    "-3*x": (lambda x: -3 * x, lambda x: -3 * x, _nonzero),
    "x/4": (lambda x: x / 4, lambda x: x / 4, _nonzero),
    "1/x": (lambda x: 1 / x, lambda x: 1 / x, _nonzero),
    "2.0/x": (lambda x: 2.0 / x, lambda x: 2.0 / x, _nonzero),
    "x**2": (lambda x: x ** 2, lambda x: x ** 2, _nonzero),
    "x**3": (lambda x: x ** 3, lambda x: x ** 3, _nonzero),
    "x**-1": (lambda x: x ** -1, lambda x: x ** -1.0, _nonzero),
    "x**0.5": (lambda x: x ** 0.5, lambda x: x ** 0.5, _positive),
    "x**-1.5": (lambda x: x ** -1.5, lambda x: x ** -1.5, _positive),
    "2**x": (lambda x: 2 ** x, lambda x: 2.0 ** x, _nonzero),
    "0.5**x": (lambda x: 0.5 ** x, lambda x: 0.5 ** x, _nonzero),
    "x**1": (lambda x: x ** 1, lambda x: x ** 1, _nonzero),
}
UNARY_SHAPES = [(), (1,), (5,), (3, 4), (2, 1, 3)]


@pytest.mark.parametrize("form", list(SCALAR_FORMS))
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
def test_scalar_forms_forward(backend, form, shape):
    fn, ref, make = SCALAR_FORMS[form]
    x = make(np.random.default_rng(4), shape).astype(np.float32)
    out = fn(mg.tensor(x))
    assert out.dtype == np.float32, "a Python scalar must not promote a float32 tensor"
    assert out.shape == shape
    assert_close(out, ref(x).astype(np.float32))


@pytest.mark.parametrize("form", list(SCALAR_FORMS))
@pytest.mark.parametrize("shape", [(), (1,), (3, 4)], ids=str)
def test_scalar_forms_gradcheck(backend, form, shape):
    fn, _, make = SCALAR_FORMS[form]
    assert mg.gradcheck(fn, [f64(make(np.random.default_rng(5), shape))])


def test_pow_tensor_exponent_broadcast(backend):
    rng = np.random.default_rng(6)
    a, b = f64(_positive(rng, (3, 1))), f64(rng.uniform(-2, 2, (4,)))
    assert mg.gradcheck(lambda a, b: a ** b, [a, b])
    assert mg.gradcheck(lambda a, b: mg.ops.pow(a, b), [a, b])


def test_pow_exponent_zero_gradient_is_zero(backend):
    x = mg.tensor([1.5, -2.0, 0.0], requires_grad=True)
    y = x ** 0
    assert_close(y, np.ones(3))
    y.sum().backward()
    assert_close(x.grad, np.zeros(3))  # also at x = 0, as torch


# -------------------------------------------------------------------- unary
def _abs_away_from_zero(rng, shape):
    return _nonzero(rng, shape, 0.2, 2.0)


def _away_from(points, margin=0.05):
    """A maker of values in (-1.5, 1.5) at least ``margin`` from every point (kinks)."""
    def make(rng, shape):
        x = rng.uniform(-1.5, 1.5, shape)
        for p in points:
            near = np.abs(x - p) < margin
            x = np.where(near, p + np.where(x >= p, margin, -margin) * 2, x)
        return x
    return make


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name -> (minigrad fn, numpy fn, data maker)
UNARY = {
    "neg": (lambda x: -x, np.negative, _nonzero),
    "neg_fn": (mg.ops.neg, np.negative, _nonzero),
    "exp": (mg.exp, np.exp, _nonzero),
    "exp_method": (lambda x: x.exp(), np.exp, _nonzero),
    "log": (mg.log, np.log, _positive),
    "log_method": (lambda x: x.log(), np.log, _positive),
    "sqrt": (mg.sqrt, np.sqrt, _positive),
    "sqrt_method": (lambda x: x.sqrt(), np.sqrt, _positive),
    "abs": (mg.abs, np.abs, _abs_away_from_zero),
    "abs_builtin": (abs, np.abs, _abs_away_from_zero),
    "tanh": (mg.tanh, np.tanh, _nonzero),
    "sigmoid": (mg.sigmoid, _np_sigmoid, _nonzero),
    "sigmoid_method": (lambda x: x.sigmoid(), _np_sigmoid, _nonzero),
    "relu": (mg.relu, lambda x: np.maximum(x, 0), _abs_away_from_zero),
    "relu_method": (lambda x: x.relu(), lambda x: np.maximum(x, 0), _abs_away_from_zero),
    "leaky_relu": (mg.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), _abs_away_from_zero),
    "leaky_relu_0.2": (lambda x: mg.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                       _abs_away_from_zero),
    "leaky_relu_method": (lambda x: x.leaky_relu(0.3), lambda x: np.where(x > 0, x, 0.3 * x),
                          _abs_away_from_zero),
    "clip": (lambda x: mg.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), _away_from([-0.5, 0.5])),
    "clip_min_only": (lambda x: mg.clip(x, min=-0.5), lambda x: np.maximum(x, -0.5), _away_from([-0.5])),
    "clip_max_only": (lambda x: x.clip(max=0.25), lambda x: np.minimum(x, 0.25), _away_from([0.25])),
    "clamp": (lambda x: mg.clamp(x, -1.0, 0.0), lambda x: np.clip(x, -1.0, 0.0), _away_from([-1.0, 0.0])),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
def test_unary_forward(backend, name, shape):
    fn, ref, make = UNARY[name]
    x = make(np.random.default_rng(7), shape).astype(np.float32)
    out = fn(mg.tensor(x))
    assert out.shape == shape and out.dtype == np.float32
    assert_close(out, ref(x).astype(np.float32))


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 1, 3)], ids=str)
def test_unary_gradcheck(backend, name, shape):
    fn, _, make = UNARY[name]
    assert mg.gradcheck(fn, [f64(make(np.random.default_rng(8), shape))])


def test_sigmoid_is_stable_for_large_inputs(backend):
    x = mg.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0], requires_grad=True)
    with np.errstate(all="raise"):
        y = mg.sigmoid(x)
        y.sum().backward()
    assert_close(y, [0.0, 0.0, 0.5, 1.0, 1.0])
    assert np.isfinite(x.grad.numpy()).all()
    assert_close(x.grad, [0.0, 0.0, 0.25, 0.0, 0.0])


def test_tanh_saturates_without_nan(backend):
    x = mg.tensor([-1e4, 1e4], requires_grad=True)
    y = mg.tanh(x)
    y.sum().backward()
    assert_close(y, [-1.0, 1.0])
    assert_close(x.grad, [0.0, 0.0])


def test_kink_gradients_match_the_documented_choice(backend):
    """At the kink: relu' = 0, |x|' = 0, clip passes the gradient at the boundary (as torch)."""
    x = mg.tensor([0.0, -1.0, 1.0], requires_grad=True)
    mg.relu(x).sum().backward()
    assert_close(x.grad, [0.0, 0.0, 1.0])
    x.grad = None
    mg.abs(x).sum().backward()
    assert_close(x.grad, [0.0, -1.0, 1.0])
    x.grad = None
    mg.clip(x, -1.0, 1.0).sum().backward()
    assert_close(x.grad, [1.0, 1.0, 1.0])
    x.grad = None
    mg.clip(x * 2, -1.0, 1.0).sum().backward()
    assert_close(x.grad, [2.0, 0.0, 0.0])


# -------------------------------------------------------- maximum / minimum
def test_maximum_minimum_tie_splits_gradient_evenly(backend):
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = mg.tensor([1.0, 5.0, 0.0], requires_grad=True)
    mg.maximum(a, b).sum().backward()
    assert_close(a.grad, [0.5, 0.0, 1.0])
    assert_close(b.grad, [0.5, 1.0, 0.0])
    a.grad = b.grad = None
    mg.minimum(a, b).sum().backward()
    assert_close(a.grad, [0.5, 1.0, 0.0])
    assert_close(b.grad, [0.5, 0.0, 1.0])


def test_maximum_with_scalar(backend):
    x = f64(_nonzero(np.random.default_rng(9), (3, 4)))
    assert_close(mg.maximum(x, 0.0), np.maximum(x.numpy(), 0.0), np.float64)
    assert_close(mg.minimum(1.0, x), np.minimum(1.0, x.numpy()), np.float64)
    assert mg.gradcheck(lambda x: mg.maximum(x, 0.0) + mg.minimum(0.3, x), [x])


# -------------------------------------------------------------------- where
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), (3, 4)), ((4,), (2, 4), ()),
                                    ((2, 3), (), (3,)), ((), (2,), (2,))], ids=str)
def test_where_forward_and_gradcheck(backend, shapes):
    rng = np.random.default_rng(10)
    cs, as_, bs = shapes
    cond = rng.random(cs) > 0.5
    a, b = rng.standard_normal(as_), rng.standard_normal(bs)
    out = mg.where(mg.tensor(cond), mg.tensor(a), mg.tensor(b))
    assert_close(out, np.where(cond, a, b).astype(np.float32))
    assert mg.gradcheck(lambda a, b: mg.where(mg.tensor(cond), a, b), [f64(a), f64(b)])


def test_where_accepts_comparisons_numpy_masks_and_scalars(backend):
    x = f64(np.array([-2.0, -0.5, 0.5, 2.0]))
    out = mg.where(x > 0, x, 0.0)
    assert_close(out, [0.0, 0.0, 0.5, 2.0], np.float64)
    assert out.dtype == np.float64
    out = mg.where(np.array([True, False, True, False]), 1.0, x)
    assert_close(out, [1.0, -0.5, 1.0, 2.0], np.float64)
    assert mg.gradcheck(lambda x: mg.where(x > 0, x * x, -x), [x])


# ------------------------------------------------------------------- astype
def test_astype_forward_and_gradient_dtype(backend):
    x = mg.tensor([1.5, -2.25, 3.0], requires_grad=True)
    y = x.astype(mg.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y * mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64)).sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, [1.0, 2.0, 3.0])
    assert x.double().dtype == np.float64 and x.float().dtype == np.float32
    assert x.astype(np.float32) is x, "casting to the same dtype is a no-op"


def test_astype_gradcheck_through_float32(backend):
    # A linear fn, so finite differences with a large eps are exact up to float32 rounding.
    x = f64(np.random.default_rng(11).standard_normal((2, 3)))
    assert mg.gradcheck(lambda x: x.astype(mg.float32).astype(mg.float64) * 3.0, [x], eps=1e-2)
    assert mg.gradcheck(lambda x: mg.astype(x, np.float32).double().exp(), [x], eps=1e-3, atol=1e-3, rtol=1e-2)


def test_astype_to_integer_is_not_differentiable(backend):
    x = mg.tensor([1.7, -2.2], requires_grad=True)
    y = x.astype(mg.int64)
    assert y.dtype == np.int64
    assert y.tolist() == [1, -2]
    assert not y.requires_grad, "an integer tensor cannot require grad"
    assert x.long().dtype == np.int64


# -------------------------------------------------------------- comparisons
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_return_bool_tensors(backend, op):
    import operator
    f = getattr(operator, op)
    a = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    b = np.array([[2.0], [2.0]], dtype=np.float32)
    ta = mg.tensor(a, requires_grad=True)
    out = f(ta, mg.tensor(b))
    assert out.dtype == np.bool_ and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), f(a, b))
    np.testing.assert_array_equal(f(ta, 2.0).numpy(), f(a, 2.0))
    np.testing.assert_array_equal(f(2.0, ta).numpy(), f(2.0, a))


def test_integer_arithmetic_keeps_integer_dtype(backend):
    i = mg.tensor([1, 2, 3])
    assert (i + 1).dtype == np.int64
    assert (i * 2).tolist() == [2, 4, 6]
    assert (i * 0.5).dtype.kind == "f"
    assert_close(i * 0.5, [0.5, 1.0, 1.5])


def test_float64_stays_float64(backend):
    x = f64([1.0, 2.0])
    for y in (x + 1, 2.0 * x, x / 3, x ** 2, 2 ** x, mg.exp(x), mg.sigmoid(x), mg.clip(x, 0, 1.5)):
        assert y.dtype == np.float64


def test_numpy_and_list_operands_take_a_float64_tensors_dtype(backend):
    """A float64 tensor's constants are not rounded through float32 on the way in."""
    x = f64([1.0])
    assert (x + np.array([0.1])).item() == 1.1
    assert (x * [0.1]).item() == 0.1
    y = mg.tensor([1.0])
    assert (y + np.array([0.1])).dtype == np.float32, "float64 numpy data does not promote a float32 tensor"


def test_numpy_left_operand_returns_a_tensor_and_keeps_the_graph(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = np.float64(2.0) * x + np.ones(2)
    assert isinstance(y, mg.Tensor) and y.requires_grad
    y.sum().backward()
    assert_close(x.grad, [2.0, 2.0])
