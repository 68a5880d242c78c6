"""Elementwise loop kernels (numba compiled, and the same source uncompiled) vs numpy."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.backends import get_backend
from tests.conftest import assert_close

pytestmark = pytest.mark.skipif(not mg.available_backends()["numba"]["available"], reason="numba not installed")
LOOP_BACKENDS = ["numba", "python"]
SHAPES = [(1,), (7,), (13, 17), (3, 1, 5), (2, 0)]


def _inputs(shape, dtype, layout, seed=0):
    rng = np.random.default_rng(seed)
    if layout == "transposed":  # non-contiguous: a transposed view
        x = (rng.standard_normal(shape[::-1]) * 3).astype(dtype).T
    elif layout == "strided":  # every other element of a bigger array
        x = (rng.standard_normal((2,) + shape) * 3).astype(dtype)[::2][0]
    else:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    return x, g


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
def test_unary_and_backward_kernels_match_numpy(name, dtype, shape, layout):
    k, ref = get_backend(name), get_backend("numpy")
    x, g = _inputs(shape, dtype, layout)
    y = ref.tanh(x)
    s = ref.sigmoid(x)
    pos = np.abs(x) + 0.5
    cases = [
        ("tanh", (x,)), ("sigmoid", (x,)), ("relu", (x,)), ("leaky_relu", (x, 0.2)),
        ("clip", (x, -1.0, 0.5)), ("clip", (x, None, 0.5)), ("clip", (x, -0.3, None)),
        ("tanh_backward", (y, g)), ("sigmoid_backward", (s, g)), ("relu_backward", (x, g)),
        ("leaky_relu_backward", (x, g, 0.2)), ("clip_backward", (x, g, -1.0, 0.5)),
        ("clip_backward", (x, g, None, 0.5)), ("abs_backward", (x, g)), ("sqrt_backward", (np.sqrt(pos), g)),
    ]
    for kernel, args in cases:
        out = getattr(k, kernel)(*args)
        expected = getattr(ref, kernel)(*args)
        assert out.shape == expected.shape and out.dtype == expected.dtype, kernel
        # float32 tanh/sigmoid use a rational approximation: a few ulps, not bit-exact
        assert_close(out, expected, dtype, **({"rtol": 1e-6, "atol": 1e-7} if dtype == np.float32 else {}))


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_and_sigmoid_at_extremes(name, dtype):
    k = get_backend(name)
    x = np.array([0.0, -0.0, 1e-30, -1e-12, 1e-5, 0.549, 0.551, 7.9, 8.0, 20.0, -20.0, 88.0, -100.0, 1e4, -1e4],
                 dtype=dtype)
    exact = np.tanh(x.astype(np.float64))
    t = k.tanh(x)
    assert np.all(np.abs(t) <= 1) and np.isfinite(t).all()
    np.testing.assert_allclose(t, exact, rtol=4e-7 if dtype == np.float32 else 1e-15, atol=3e-7 if dtype == np.float32 else 0)
    s = k.sigmoid(x)
    assert np.all((s >= 0) & (s <= 1)) and np.isfinite(s).all()
    np.testing.assert_allclose(s, 0.5 * np.tanh(0.5 * x.astype(np.float64)) + 0.5, atol=3e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
def test_backward_kernels_accept_broadcast_gradient_and_mixed_dtype(name):
    k, ref = get_backend(name), get_backend("numpy")
    y = np.tanh(np.random.default_rng(1).standard_normal((4, 5))).astype(np.float32)
    g = np.broadcast_to(np.float64(0.5), (4, 5))  # a read-only broadcast view, other dtype
    out = k.tanh_backward(y, g)
    assert out.dtype == np.float32
    assert_close(out, 0.5 * (1 - y * y))
    assert_close(k.relu_backward(y, g), ref.relu_backward(y, g.astype(np.float32)))


@pytest.mark.parametrize("name", LOOP_BACKENDS)
def test_loop_kernels_reject_integer_input(name):
    with pytest.raises(TypeError, match="expected float32 or float64, got int64"):
        get_backend(name).tanh(np.arange(3))
