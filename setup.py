"""Build script: compiles minigrad's Cython kernels (metadata lives in pyproject.toml).

``pip install -e .`` runs it: Cython translates each ``.pyx`` below to C, and the
machine's C compiler builds one extension module from each. It needs only Cython
and a C compiler: typed memoryviews read numpy arrays through Python's buffer
protocol, so no numpy headers are involved (numpy is needed to run the kernels, not
to build them). Nor is any BLAS: ``recurrent.pyx`` declares the cblas gemm signatures it
calls and receives the functions' addresses from numpy's OpenBLAS at import.

Compiler flags (gcc/clang), and why:

* ``-O3``: turns on the loop vectoriser.
* ``-fno-trapping-math``: promises the program never inspects floating-point
  exception flags. Without it gcc may not turn ``a if c else b * s`` into a
  branch-free select (computing ``b * s`` for every element could raise a flag the
  source would not have raised), so such loops stay scalar and branchy.
* ``-fno-math-errno``: ``sqrt`` need not set errno for negative input, so it becomes
  one SIMD instruction instead of a libm call.
  Neither flag changes a single computed value, unlike ``-ffast-math``, which would
  let the compiler reorder sums and assume no NaN or inf ever occurs.
* ``-g0``: no debug information (Python's own CFLAGS ask for ``-g``). For the ~40,000
  lines of C that Cython generates per module it makes the build ~25% slower and the
  module five times larger, and nobody steps through that C in a debugger.
* ``-march=native``: use this CPU's full vector width (AVX2 and FMA on a recent x86,
  8 floats per instruction instead of SSE2's 4). numba compiles for the host CPU at
  run time, so without it the comparison would not be like for like. The resulting
  binary may not run on an older CPU: set ``MINIGRAD_PORTABLE=1`` when building
  something to ship to other machines.

A flag the compiler rejects is left out (probed once per build), so the build also
works with compilers that lack one of them; MSVC gets ``/O2``.
"""
import os
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODULES = ["elementwise", "reduce", "nn", "optim", "recurrent"]  # minigrad/backends/cython/<name>.pyx

WANTED_FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-g0"]
if not os.environ.get("MINIGRAD_PORTABLE"):
    WANTED_FLAGS.append("-march=native")


def _accepts(compiler, flag):
    """True if the C compiler builds a trivial file with ``flag`` (and without warnings becoming errors)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    """build_ext that picks the optimisation flags this compiler accepts and compiles
    the modules in parallel (one C file per core)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            flags = ["/O2"]
        else:
            flags = [f for f in WANTED_FLAGS if _accepts(self.compiler, f)]
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
        super().build_extensions()


extensions = [
    Extension(
        f"minigrad.backends.cython.{name}",
        [f"minigrad/backends/cython/{name}.pyx"],
    )
    for name in MODULES
]

setup(
    ext_modules=cythonize(extensions, language_level=3, quiet=True, nthreads=os.cpu_count() or 1),
    cmdclass={"build_ext": BuildExt},
)
