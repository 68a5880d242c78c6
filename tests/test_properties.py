"""Property tests over random shapes (hypothesis): broadcasting binary ops and reductions
agree with numpy, and their gradients have the right shape and value."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from conftest import assert_close

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _unbroadcast(g, shape):
    """Independent reference for the backward of broadcasting: sum g over the broadcast axes."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# name -> (minigrad fn, numpy fn, d/da, d/db)  (numpy arrays in, arrays out)
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: np.ones_like(a + b), lambda a, b: np.ones_like(a + b)),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: np.ones_like(a + b), lambda a, b: -np.ones_like(a + b)),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b ** 2),
    "maximum": (mg.maximum, np.maximum, lambda a, b: (a > b) + 0.0 * b, lambda a, b: (b > a) + 0.0 * a),
}


@st.composite
def _broadcast_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    return shapes.input_shapes, shapes.result_shape, seed


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(case=_broadcast_pair())
def test_broadcasting_binary_ops(backend, name, case):
    (sa, sb), out_shape, seed = case
    fn, ref, da, db = BINARY[name]
    rng = np.random.default_rng(seed)
    # |values| in [0.5, 2] (safe for div); distinct enough that maximum has no ties
    a = rng.uniform(0.5, 2.0, sa) * rng.choice([-1.0, 1.0], sa)
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)
    ta = mg.tensor(a, dtype=mg.float64, requires_grad=True)
    tb = mg.tensor(b, dtype=mg.float64, requires_grad=True)
    out = fn(ta, tb)
    assert out.shape == out_shape
    assert_close(out, ref(a, b), np.float64)
    g = rng.standard_normal(out_shape)
    out.backward(mg.tensor(g, dtype=mg.float64))
    assert ta.grad.shape == sa and tb.grad.shape == sb
    assert_close(ta.grad, _unbroadcast(g * da(a, b), sa), np.float64)
    assert_close(tb.grad, _unbroadcast(g * db(a, b), sb), np.float64)
    # float32 forward matches numpy's float32 result
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    assert_close(fn(mg.tensor(a32), mg.tensor(b32)), ref(a32, b32))


@st.composite
def _reduction_case(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"])) if ndim else "none"
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        negate = draw(st.lists(st.booleans(), min_size=len(picked), max_size=len(picked)))
        axis = tuple(a - ndim if n else a for a, n in zip(picked, negate))
    keepdims = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 31 - 1))
    return shape, axis, keepdims, seed


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var"])
@SETTINGS
@given(case=_reduction_case())
def test_reductions_match_numpy(backend, name, case):
    shape, axis, keepdims, seed = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    ours = getattr(mg.tensor(x), name)(axis=axis, keepdims=keepdims)
    expected = np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims))
    assert ours.shape == expected.shape
    assert_close(ours, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["sum", "mean"])
@SETTINGS
@given(case=_reduction_case())
def test_sum_mean_gradients(backend, name, case):
    shape, axis, keepdims, seed = case
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal(shape), dtype=mg.float64, requires_grad=True)
    out = getattr(x, name)(axis=axis, keepdims=keepdims)
    g = rng.standard_normal(out.shape)
    out.backward(mg.tensor(g, dtype=mg.float64))
    assert x.grad.shape == shape
    # each element receives the gradient of the value it was reduced into (/ N for mean)
    keep_shape = np.sum(np.zeros(shape), axis=axis, keepdims=True).shape
    expected = np.broadcast_to(g.reshape(keep_shape), shape)
    if name == "mean":
        expected = expected / _count(shape, axis)
    assert_close(x.grad, expected, np.float64)


@pytest.mark.parametrize("name", ["max", "min", "var"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_reduction_case())
def test_max_min_var_gradcheck(backend, name, case):
    shape, axis, keepdims, seed = case
    n = int(np.prod(shape, dtype=np.int64))
    x = (np.random.default_rng(seed).permutation(n) * 0.5 + 0.1).reshape(shape)  # distinct: no ties
    t = mg.tensor(x, dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [t])


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 31 - 1))
def test_broadcast_gradcheck(backend, shapes, seed):
    (sa, sb), _ = shapes
    rng = np.random.default_rng(seed)
    a = mg.tensor(rng.uniform(0.5, 2, sa), dtype=mg.float64, requires_grad=True)
    b = mg.tensor(rng.uniform(-2, 2, sb), dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda a, b: (a * b - b / a) ** 2 + a ** b, [a, b])


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), seed=st.integers(0, 2 ** 31 - 1))
def test_broadcast_to_and_back(backend, shape, seed):
    """expand to a larger shape then sum back: the gradient counts the copies."""
    rng = np.random.default_rng(seed)
    target = tuple(int(rng.integers(1, 4)) if n == 1 else n for n in shape)
    target = (2,) + target
    x = mg.tensor(rng.standard_normal(shape), dtype=mg.float64, requires_grad=True)
    y = x.broadcast_to(target)
    assert_close(y, np.broadcast_to(x.numpy(), target), np.float64)
    y.sum().backward()
    copies = int(np.prod(target)) // int(np.prod(shape))
    assert_close(x.grad, np.full(shape, float(copies)), np.float64)
