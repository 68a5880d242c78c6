"""The backend registry and the compiled Cython kernels."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import backends
from tests.conftest import assert_close


def test_registry_reports_every_backend_with_state():
    report = mg.available_backends()
    assert report["numpy"]["available"] and report["numpy"]["reuses"] == {}
    for name, info in report.items():
        assert set(info) == {"available", "device", "reason", "reuses"}
        assert info["reason"], f"{name} must say what it is or why it is missing"


def test_set_backend_and_context_manager_restore():
    start = mg.get_backend().name
    with mg.backend("numpy") as b:
        assert b.name == "numpy" and mg.get_backend() is b
    assert mg.get_backend().name == start
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        mg.set_backend("nope")
    assert mg.get_backend().name == start


def test_kernel_set_is_complete():
    names = backends.kernel_names()
    for required in ["add", "matmul", "sum_to_shape", "scatter_add", "cross_entropy", "adam_step", "dropout_mask"]:
        assert required in names


cython = pytest.mark.skipif(not mg.available_backends()["cython"]["available"],
                            reason="cython extension not built (pip install -e .)")


@cython
def test_cython_backend_lists_the_kernels_it_reuses():
    info = mg.available_backends()["cython"]
    own = set(backends.kernel_names()) - set(info["reuses"])
    assert {"tanh", "tanh_backward", "sigmoid", "sigmoid_backward", "relu_backward", "matmul"} <= own


@cython
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (13, 17), (3, 1, 5)])
def test_cython_kernels_match_numpy(shape, dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    cy, ref = backends.get_backend("cython"), backends.get_backend("numpy")
    for name in ["tanh", "sigmoid"]:
        assert_close(getattr(cy, name)(x), getattr(ref, name)(x), dtype, rtol=1e-6 if dtype == np.float32 else 1e-12)
    y = ref.tanh(x)
    for name, saved in [("tanh_backward", y), ("sigmoid_backward", ref.sigmoid(x)), ("relu_backward", x)]:
        out = getattr(cy, name)(saved, g)
        assert out.dtype == dtype and out.shape == shape
        assert_close(out, getattr(ref, name)(saved, g), dtype)


@cython
def test_cython_kernels_accept_strided_and_extreme_inputs():
    cy = backends.get_backend("cython")
    x = np.linspace(-100, 100, 40, dtype=np.float32).reshape(5, 8).T  # non-contiguous
    s = cy.sigmoid(x)
    assert np.isfinite(s).all() and s.min() < 1e-30 and s.max() == 1.0
    assert_close(cy.tanh(x), np.tanh(x))


@cython
def test_training_step_same_on_cython_and_numpy():
    grads = {}
    for name in ["numpy", "cython"]:
        mg.manual_seed(3)
        w = mg.randn(4, 3, requires_grad=True)
        x = mg.randn(5, 4)
        with mg.backend(name):
            ((x @ w).tanh().sigmoid().relu() ** 2).mean().backward()
        grads[name] = w.grad.numpy()
    assert_close(grads["cython"], grads["numpy"])
