"""matmul: numba splits products over its threads (test_recurrent_split.py); python runs the hand-written loop; the loop itself."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.backends import get_backend
from minigrad.backends.wrappers import matmul as mm

pytestmark = pytest.mark.skipif(not mg.available_backends()["numba"]["available"], reason="numba not installed")
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

SHAPE_PAIRS = [((1,), (1,)), ((5,), (5,)), ((3,), (3, 7)), ((7, 3), (3,)), ((1, 1), (1, 1)), ((2, 3), (3, 5)),
               ((13, 7), (7, 11)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
               ((0, 3), (3, 4)), ((3, 0), (0, 4)), ((2, 0, 3), (3, 5))]


def _pair(sa, sb, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)


def _close(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = RTOL.get(got.dtype, 0)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)


def test_numba_multiplies_on_its_threads_and_python_runs_the_hand_loop():
    report = mg.available_backends()
    assert "matmul" not in report["numba"]["reuses"]
    assert get_backend("numba").matmul.__func__ is mm.threaded_matmul
    py = get_backend("python")
    assert py.matmul.__func__ is mm.interpreted_matmul
    assert "matmul" not in report["python"]["reuses"]
    assert py.loops.matmul_loop is get_backend("numba").loops.matmul_loop.py_func


@pytest.mark.parametrize("name", ["python", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS, ids=str)
def test_loop_backend_matmul_matches_numpy(name, dtype, sa, sb):
    a, b = _pair(sa, sb, dtype)
    _close(get_backend(name).matmul(a, b), np.matmul(a, b))


@pytest.mark.parametrize("name", ["numba", "python"])
def test_matmul_loop_on_strided_mixed_and_integer_operands(name):
    k = get_backend(name)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((7, 5)).T          # (5, 7), not C-contiguous
    b = rng.standard_normal((3, 7, 8))[:, :, ::2]  # (3, 7, 4), strided
    _close(k.matmul_loop(a, b), np.matmul(a, b))
    _close(k.matmul_loop(a.astype(np.float32), b), np.matmul(a.astype(np.float32), b))  # promotes to float64
    ai, bi = rng.integers(-5, 5, (4, 3)), rng.integers(-5, 5, (3, 2))
    np.testing.assert_array_equal(k.matmul_loop(ai, bi), ai @ bi)
    np.testing.assert_array_equal(k.matmul(ai, bi), ai @ bi)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (31, 17, 13), (64, 128, 67)])
def test_compiled_matmul_loop_matches_blas(dtype, m, k, n):
    a, b = _pair((m, k), (k, n), dtype, seed=m)
    out = np.full((m, n), np.nan, dtype=dtype)  # the loop zeroes out itself
    get_backend("numba").loops.matmul_loop(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=RTOL[np.dtype(dtype)] * 10, atol=RTOL[np.dtype(dtype)] * 10)


@pytest.mark.parametrize("name", ["numba", "python"])
def test_matmul_loop_rejects_misaligned_shapes(name):
    with pytest.raises(ValueError, match="do not align"):
        get_backend(name).matmul_loop(np.ones((2, 3)), np.ones((4, 2)))


def test_matmul_op_and_its_gradient_on_the_python_backend():
    grads = {}
    for name in ("numpy", "python"):
        mg.manual_seed(2)
        a = mg.randn(2, 3, 4, requires_grad=True)
        b = mg.randn(4, 5, requires_grad=True)
        v = mg.randn(5, requires_grad=True)
        with mg.backend(name):
            ((a @ b) @ v).sum().backward()
        grads[name] = (a.grad.numpy(), b.grad.numpy(), v.grad.numpy())
    for got, want in zip(grads["python"], grads["numpy"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
