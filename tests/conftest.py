"""Shared test fixtures: the backends every op test runs on, tolerances, the torch oracle."""
import os

# The CUDA tests need a GPU or numba's simulator, which must be chosen before numba.cuda is
# first imported: without an NVIDIA device, the simulator runs them (tiny shapes).
if not os.path.exists("/dev/nvidiactl"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.backends import _blas_lib, kernel_set  # noqa: E402

# Tests check numbers, not speed: one BLAS thread per test process, so that the
# parallel workers of ``pytest -n 2`` do not run four spinning OpenBLAS threads on two cores.
_blas_lib.set_num_threads(1)
# For the same reason the recurrences take the one-thread path unless a test forces the
# split (MINIGRAD_RNN_SPLIT=1, with monkeypatch): its threads meet at a barrier every time
# step, and with the other worker busy on the same cores each barrier can wait for a
# descheduled thread (docs/kernels.md: 5x slower training under such contention).
os.environ.setdefault("MINIGRAD_RNN_SPLIT", "0")

# A backend made of the contract's required tier alone (numpy's primitives): every fused
# kernel runs its composed default. The whole op suite runs on it, which proves that a new
# backend is correct once it has the required kernels.
if "required-only" not in mg.available_backends():  # this file may be imported twice (conftest, tests.conftest)
    mg.backends.register("required-only", own={},
                         take={mg.backends.get_backend("numpy"): kernel_set.names(kernel_set.REQUIRED)},
                         description="numpy's required kernels only; every fused kernel is the composed default")

# Every available CPU backend; op tests take the ``backend`` fixture to run on each. A new
# backend joins every op test by being registered (and so listed here).
CPU_BACKENDS = [name for name, info in mg.available_backends().items()
                if info["available"] and info["device"] == "cpu"]

# Tolerances for comparing a backend's result with the numpy reference (or torch), per dtype.
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}


def assert_close(actual, expected, dtype=np.float32, **override):
    """Compare arrays/tensors with the tolerance of ``dtype`` (override rtol/atol if needed)."""
    tol = dict(TOL[np.dtype(dtype)], **override)
    a = actual.numpy() if isinstance(actual, mg.Tensor) else np.asarray(actual)
    e = expected.numpy() if isinstance(expected, mg.Tensor) else np.asarray(expected)
    np.testing.assert_allclose(a, e, **tol)


@pytest.fixture(params=CPU_BACKENDS)
def backend(request):
    """Run the test with each available CPU backend active."""
    with mg.backend(request.param):
        yield request.param


@pytest.fixture(autouse=True)
def _seed():
    mg.manual_seed(0)
    np.random.seed(0)
    yield


def f64(a, requires_grad=True):
    """A float64 leaf tensor for gradcheck."""
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype=mg.float64, requires_grad=requires_grad)


try:
    import torch as _torch
except ImportError:  # the suite passes without PyTorch; parity tests skip
    _torch = None

needs_torch = pytest.mark.skipif(_torch is None, reason="PyTorch is not installed (pip install torch)")


def mse_failing_at(batch, bad):
    """An MSE loss whose ``batch``-th call (from 1) returns ``bad`` (nan or inf) times the loss:
    a run that goes wrong in the middle, to check what the loops do before the step."""
    calls = []

    def loss(pred, target):
        calls.append(1)
        value = ((pred - target) ** 2).mean()
        return value * bad if len(calls) == batch else value

    loss.calls = calls
    return loss
