"""Backends load wherever they can: without numba, without a writable numba cache, without
the Cython extension. Each case runs in a fresh interpreter, with the missing piece removed."""
import os
import subprocess
import sys
import textwrap

import pytest

import minigrad as mg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code):
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_BACKEND"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


def test_without_numba_minigrad_imports_and_the_python_backend_trains():
    out, _ = _python("""
        import sys
        sys.modules["numba"] = None  # as if numba were not installed: `import numba` raises ImportError
        import numpy as np
        import minigrad as mg
        report = mg.available_backends()
        print(report["numba"]["available"], "numba is not installed" in report["numba"]["reason"])
        print(report["python"]["available"], mg.get_backend().name != "numba")
        grads = {}
        for name in ("numpy", "python"):
            mg.manual_seed(0)
            layer = mg.nn.Linear(4, 3)
            with mg.backend(name):
                mg.cross_entropy(layer(mg.randn(5, 4)).tanh(), np.array([0, 1, 2, 0, 1])).backward()
            grads[name] = layer.weight.grad.numpy()
        print(np.allclose(grads["python"], grads["numpy"], rtol=1e-5, atol=1e-6))
        print("numba" in sys.modules and sys.modules["numba"] is not None)
    """)
    assert out.split() == ["False", "True", "True", "True", "True", "False"]


def test_unwritable_numba_cache_compiles_in_memory_with_one_warning():
    if not mg.available_backends()["numba"]["available"]:
        pytest.skip("numba is not installed")
    out, err = _python("""
        import numba.core.caching as caching
        caching.CacheImpl._locator_classes = []  # no directory numba may write its cache to
        import numpy as np
        import minigrad as mg
        print(mg.get_backend().name, mg.available_backends()["numba"]["available"])
        print(float(mg.get_backend("numba").tanh(np.array([0.5]))[0]) == float(np.tanh(0.5)))
    """)
    assert out.split() == ["numba", "True", "True"]
    assert err.count("NUMBA_CACHE_DIR") == 1 and "compile in memory" in err


def test_without_the_cython_extension_the_backend_says_why():
    out, _ = _python("""
        import sys
        for build in ("", "avx2."):  # as if the extension were not built
            sys.modules[f"minigrad.backends.cython.{build}elementwise"] = None
        import minigrad as mg
        info = mg.available_backends()["cython"]
        print(info["available"])
        print(info["reason"])
    """)
    available, reason = out.split("\n", 1)
    assert available == "False" and "Cython extension is not built" in reason and "C compiler" in reason
