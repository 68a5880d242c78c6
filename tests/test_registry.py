"""Backend selection, the default, and the numba/python "same source" contract."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import backends
from minigrad.backends import loops

numba_available = mg.available_backends()["numba"]["available"]
needs_numba = pytest.mark.skipif(not numba_available, reason="numba is not installed")


def _run(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=120)
    return out.returncode, out.stdout.strip(), out.stderr


@needs_numba
def test_default_is_the_fastest_available_and_env_var_overrides():
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_BACKEND"}
    code = "import minigrad as mg; print(mg.get_backend().name)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120).stdout.strip() == backends.default_cpu_backend() == "numba"
    assert _run(code, MINIGRAD_BACKEND="numpy")[1] == "numpy"
    rc, _, err = _run(code, MINIGRAD_BACKEND="nope")
    assert rc != 0 and "unknown backend 'nope'" in err


@needs_numba
def test_python_backend_runs_the_very_same_function_objects_as_numba():
    nb, py = backends.get_backend("numba"), backends.get_backend("python")
    names = [n for n, f in vars(nb.loops).items() if hasattr(f, "py_func")]
    assert len(names) >= 10
    assert callable(nb.loops.threads) and not hasattr(py.loops, "threads")  # only numba's loops split across threads
    for name in names:
        compiled, plain = getattr(nb.loops, name), getattr(py.loops, name)
        assert plain is compiled.py_func, name  # not a copy: the identical function object
        assert not hasattr(plain, "py_func")  # and it is not compiled


@needs_numba
def test_python_backend_reports_what_numba_reuses():
    report = mg.available_backends()
    # python reuses what numba reuses; neither takes numpy's matmul: numba splits products over
    # its threads (threaded_matmul), python runs the hand loop (BLAS cannot run uncompiled)
    assert report["python"]["reuses"] == report["numba"]["reuses"]
    assert "matmul" not in report["numba"]["reuses"]
    assert "add" in report["numba"]["reuses"]  # memory-bound arithmetic: numpy's SIMD loop is kept
    assert "tanh_backward" not in report["numba"]["reuses"]


def test_plumbing_kernels_are_not_reported_as_reuse():
    assert "reshape" not in backends.kernel_names()
    assert "reshape" in backends.kernel_names(include_plumbing=True)
    for info in mg.available_backends().values():
        assert "asarray" not in info["reuses"]


def test_set_backend_rejects_a_non_cpu_backend_name():
    with pytest.raises(ValueError, match="'cuda' is a device, not a CPU backend"):
        mg.set_backend("cuda")
    with pytest.raises(ValueError, match="unknown backend"):
        mg.set_backend("tpu")


@needs_numba
def test_loop_kernel_names_are_unique_across_families():
    import types
    a = types.ModuleType("a")
    b = types.ModuleType("b")

    @loops.kernel
    def same_loop(x):
        return x

    same_loop.__module__ = "a"
    a.same_loop = same_loop
    b.same_loop = same_loop
    same_loop2 = loops.kernel(same_loop.py_func)
    same_loop2.__module__ = "b"
    b.same_loop = same_loop2
    with pytest.raises(RuntimeError, match="two loop kernels named 'same_loop'"):
        loops.collect([a, b])


@needs_numba
@pytest.mark.parametrize("name", ["numba", "python"])
def test_loop_backends_match_numpy_on_a_training_step(name):
    grads = {}
    for backend in ("numpy", name):
        mg.manual_seed(5)
        w = mg.randn(6, 4, requires_grad=True)
        x = mg.randn(3, 6)
        with mg.backend(backend):
            h = (x @ w).tanh()
            loss = (h.sigmoid() * h.relu()).sum() + mg.clip(h, -0.5, 0.5).leaky_relu(0.1).mean()
            loss.backward()
        grads[backend] = w.grad.numpy()
    np.testing.assert_allclose(grads[name], grads["numpy"], rtol=2e-5, atol=2e-6)


@needs_numba
def test_python_backend_loops_call_no_compiled_code():
    """Uncompiled loops must stay pure Python all the way down: a helper they call
    must not be a numba dispatcher (use register_jitable for shared scalar helpers)."""
    from numba.core.dispatcher import Dispatcher
    py = backends.get_backend("python")
    for name, fn in vars(py.loops).items():
        for global_name in fn.__code__.co_names:
            target = fn.__globals__.get(global_name)
            assert not isinstance(target, Dispatcher), f"{name} calls compiled {global_name}"
