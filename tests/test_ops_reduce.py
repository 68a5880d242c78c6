"""Reductions: sum, mean, max, min, var (axis None/int/tuple/negative, keepdims), argmax/argmin."""
import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close, f64

# (shape, axis) cases: all axes, single, negative, tuple (incl. negative), size-1 axis, 0-d.
AXES = [
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), 1),
    ((3, 4), -1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, 0)),
    ((2, 3, 4), (0, 1, 2)),
    ((2, 1, 4), 1),
    ((5,), 0),
    ((5,), None),
    ((), None),
    ((1, 1), (0, 1)),
]

REDUCTIONS = {
    "sum": (lambda x, axis, keepdims: mg.sum(x, axis, keepdims), np.sum),
    "mean": (lambda x, axis, keepdims: mg.mean(x, axis, keepdims), np.mean),
    "max": (lambda x, axis, keepdims: mg.max(x, axis, keepdims), np.max),
    "min": (lambda x, axis, keepdims: mg.min(x, axis, keepdims), np.min),
    "var": (lambda x, axis, keepdims: mg.var(x, axis, keepdims=keepdims), np.var),
    "sum_method": (lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims), np.sum),
    "mean_method": (lambda x, axis, keepdims: x.mean(axis, keepdims), np.mean),
    "max_method": (lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims), np.max),
    "min_method": (lambda x, axis, keepdims: x.min(axis, keepdims), np.min),
    "var_method": (lambda x, axis, keepdims: x.var(axis, keepdims=keepdims), np.var),
}


def _distinct(shape, seed):
    """Distinct values (no ties, so max/min are differentiable), shuffled."""
    n = int(np.prod(shape, dtype=np.int64))
    rng = np.random.default_rng(seed)
    return (rng.permutation(n) * 0.37 - n * 0.15 + rng.uniform(-0.05, 0.05, n)).reshape(shape)


@pytest.mark.parametrize("name", list(REDUCTIONS))
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", AXES, ids=str)
def test_reduction_forward(backend, name, shape, axis, keepdims):
    if name.startswith("var") and shape == () :
        pytest.skip("var of a single element is 0; covered by test_var_ddof")
    fn, ref = REDUCTIONS[name]
    x = _distinct(shape, 0).astype(np.float32)
    out = fn(mg.tensor(x), axis, keepdims)
    expected = np.asarray(ref(x, axis=axis, keepdims=keepdims))
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(REDUCTIONS))
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", AXES, ids=str)
def test_reduction_gradcheck(backend, name, shape, axis, keepdims):
    fn, _ = REDUCTIONS[name]
    x = f64(_distinct(shape, 1))
    assert mg.gradcheck(lambda x: fn(x, axis, keepdims), [x])


def test_sum_mean_gradient_values(backend):
    x = mg.tensor(np.ones((2, 3, 4)), requires_grad=True)
    x.sum(axis=(0, 2)).backward(mg.tensor([1.0, 2.0, 3.0]))
    assert_close(x.grad, np.broadcast_to(np.array([1.0, 2.0, 3.0])[None, :, None], (2, 3, 4)))
    x.grad = None
    x.mean().backward()
    assert_close(x.grad, np.full((2, 3, 4), 1 / 24))
    x.grad = None
    x.mean(axis=-1, keepdims=True).sum().backward()
    assert_close(x.grad, np.full((2, 3, 4), 1 / 4))


def test_max_min_tie_rule_shares_gradient_equally(backend):
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    assert_close(x.grad, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max().backward()
    assert_close(x.grad, [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    x.grad = None
    x.min(axis=0).sum().backward()
    assert_close(x.grad, [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("axis", [None, 0, (0, 1), -1])
def test_var_ddof(backend, ddof, axis):
    x = np.random.default_rng(2).standard_normal((3, 4))
    out = mg.var(mg.tensor(x.astype(np.float32)), axis=axis, ddof=ddof)
    assert_close(out, np.var(x.astype(np.float32), axis=axis, ddof=ddof), rtol=1e-5, atol=1e-5)
    assert mg.gradcheck(lambda t: t.var(axis=axis, ddof=ddof), [f64(x)])


def test_var_of_one_element(backend):
    x = f64([2.0])
    assert mg.var(x).item() == 0.0
    assert mg.gradcheck(lambda t: mg.var(t), [x])


def test_reductions_of_integer_tensors(backend):
    i = mg.tensor([[1, 2], [3, 4]])
    assert i.sum().item() == 10
    assert i.sum(axis=0).tolist() == [4, 6]
    assert i.max().item() == 4 and i.min(axis=1).tolist() == [1, 3]
    assert i.mean().item() == pytest.approx(2.5)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(backend, axis, keepdims):
    x = _distinct((3, 4), 3).astype(np.float32)
    t = mg.tensor(x, requires_grad=True)
    for ours, ref in ((mg.argmax(t, axis, keepdims), np.argmax), (t.argmin(axis=axis, keepdims=keepdims), np.argmin)):
        expected = ref(x, axis=axis, keepdims=keepdims)
        assert ours.dtype.kind == "i"
        assert not ours.requires_grad
        assert ours.shape == np.shape(expected)
        np.testing.assert_array_equal(ours.numpy(), expected)


def test_argmax_first_of_ties():
    assert mg.tensor([1.0, 5.0, 5.0, 0.0]).argmax().item() == 1
    assert mg.tensor([1.0, 0.0, 0.0]).argmin().item() == 1


def test_reductions_chain_through_graph(backend):
    x = f64(np.random.default_rng(4).standard_normal((3, 5)))
    assert mg.gradcheck(lambda x: (x - x.mean(axis=1, keepdims=True)) / (x.var(axis=1, keepdims=True) + 1e-5) ** 0.5,
                        [x])
    assert mg.gradcheck(lambda x: (x - x.max(axis=-1, keepdims=True)).exp().sum(axis=-1).log(), [x])
