"""Compile every CUDA kernel the CUDA tests launch to real GPU code (PTX), without a GPU.

numba's simulator runs kernels as Python, so it cannot catch what only the GPU compiler
sees: a type numba cannot unify on the CUDA target, an intrinsic the simulator lacks
(warp shuffles, which reductions use on a GPU), a shared-memory declaration that is
not a compile-time constant. Where the CUDA toolkit's NVVM library is installed (no
driver or GPU needed), this runs ``tests/test_cuda.py`` in a *compile-only* mode:

* device buffers are host numpy arrays (``device_array`` patched), so the host code of
  the backend runs as it does on a GPU (``simulated()`` is False: the GPU code paths);
* every launch compiles the kernel for the argument types it got
  (``numba.cuda.compile_ptx``, compute capability 9.0) and does not run it.

The tests' numerical checks then fail (nothing ran) and are ignored; what is reported
is each kernel signature that failed to compile. Usage:

    python tests/cuda_compile_check.py        # exit status 0: every launched kernel compiles

``tests/test_cuda.py::test_every_kernel_compiles_for_a_gpu`` runs it where NVVM exists.
"""
import os
import subprocess
import sys

CC = (9, 0)  # Hopper, the project's GPU machines


def install():
    """Patch numba.cuda for compile-only runs (call before minigrad's CUDA backend loads)."""
    import numpy as np
    from numba import cuda, typeof
    from numba.cuda import dispatcher

    class HostBuffer(np.ndarray):
        """A host array standing in for a device buffer."""

        def copy_to_device(self, host, stream=0):
            self[...] = host

        def copy_to_host(self, host=None, stream=0):
            if host is None:
                return np.array(self)
            host[...] = self
            return host

    cuda.is_available = lambda: True
    # device functions are compiled for "the current device": here, a Hopper that is not there
    dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability": CC})()
    cuda.device_array = lambda n, dtype=np.float64, **kw: np.zeros(n, dtype).view(HostBuffer)
    compiled, failures = {}, {}

    def compile_instead_of_launch(self, args, griddim, blockdim, stream, sharedmem):
        sig = tuple(typeof(np.asarray(a)) if isinstance(a, np.ndarray) else typeof(a) for a in args)
        key = (self.py_func, sig)
        if key in compiled or key in failures:
            return
        name = f"{self.py_func.__module__}.{self.py_func.__qualname__}{sig}"
        try:
            cuda.compile_ptx(self.py_func, sig, cc=CC)
            compiled[key] = name
        except Exception as e:  # any compile error is the finding
            failures[key] = f"{name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"

    dispatcher.CUDADispatcher.call = compile_instead_of_launch
    return compiled, failures


class Plugin:
    """pytest plugin: install the patches, then report at the end of the session."""

    def __init__(self):
        self.compiled, self.failures = install()

    def pytest_sessionfinish(self, session, exitstatus):
        session.exitstatus = 1 if self.failures or not self.compiled else 0

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line(f"compiled for sm_{CC[0]}{CC[1]}: {len(self.compiled)} kernel signatures; "
                                    f"failed: {len(self.failures)}")
        for msg in sorted(self.failures.values()):
            terminalreporter.write_line(f"  FAILED {msg}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0", PYTHONPATH=root)
    code = ("import sys, pytest; sys.path.insert(0, 'tests'); from cuda_compile_check import Plugin; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--no-header', '--tb=no', '-rN', "
            "'-o', 'addopts=', 'tests/test_cuda.py', '-k', 'not import_minigrad and not compiles_for_a_gpu'], plugins=[Plugin()]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    report = out.stdout[out.stdout.rfind("compiled for sm_"):] if "compiled for sm_" in out.stdout else out.stdout[-3000:]
    print(report + out.stderr[-2000:])
    return out.returncode


if __name__ == "__main__":
    sys.exit(main())
