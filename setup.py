"""Build script: compiles minigrad's Cython kernels (metadata lives in pyproject.toml).

``pip install -e .`` runs it: Cython translates each ``.pyx`` below to C, and the
machine's C compiler builds extension modules from it. It needs only Cython and a C
compiler: typed memoryviews read numpy arrays through Python's buffer protocol, so no
numpy headers are involved (numpy is needed to run the kernels, not to build them).
Nor is any BLAS: ``recurrent.pyx`` declares the cblas gemm signatures it calls and
receives the functions' addresses from numpy's OpenBLAS at import.

The extension is optional. Where there is no working C compiler, every module that
fails to build is skipped with a warning (shown by ``pip install -v``), the install
still succeeds, and ``available_backends()`` says why the cython backend is missing
(the numpy, numba and python backends need no compiler).

Portable by default. On x86-64 every module is built twice: for the baseline x86-64
(SSE2: runs on any x86-64 CPU) and, in ``cython/avx2/``, for x86-64-v3 (AVX2 + FMA,
CPUs since 2013-2015); the backend loads the second where the CPU has those
instructions. Native tuning is opt-in: ``MINIGRAD_NATIVE=1 pip install -e .`` builds
one set with ``-march=native`` (this CPU's full vector width, AVX-512 included; the
binaries may not run on another CPU). Measured on a Zen 4 machine, tanh on 64x512
float32: 59 us baseline, 21 us x86-64-v3, 14 us native.

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
* ``-fopenmp`` (``recurrent`` and ``matmul``, where the compiler builds and links an
  OpenMP program): their split loops run on OpenMP threads. Without it they run on one
  thread and the backend never picks them.
* ``-g0``: no debug information (Python's own CFLAGS ask for ``-g``). For the ~40,000
  lines of C that Cython generates per module it makes the build ~25% slower and the
  module five times larger, and nobody steps through that C in a debugger.

A flag the compiler rejects is left out (probed once per build), so the build also
works with compilers that lack one of them; MSVC gets ``/O2``.
"""
import os
import platform
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

MODULES = ["elementwise", "reduce", "matmul", "nn", "optim", "recurrent"]  # minigrad/backends/cython/<name>.pyx
OPENMP_MODULES = {"recurrent", "matmul"}  # their split loops run on OpenMP threads
PACKAGE = "minigrad.backends.cython"

NATIVE = os.environ.get("MINIGRAD_NATIVE", "") not in ("", "0")
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-g0"] + (["-march=native"] if NATIVE else [])
AVX2_FLAGS = [["-march=x86-64-v3"], ["-march=haswell"], ["-mavx2", "-mfma"]]  # the first this compiler takes
BUILD_ERRORS = (CCompilerError, CompileError, ExecError, LinkError, PlatformError, OSError)


def _openmp_flags(compiler):
    """The flags that build and link an OpenMP program with this compiler, or None (the split
    loops then run on one thread and the backend never chooses them)."""
    flags = ["/openmp"] if compiler.compiler_type == "msvc" else ["-fopenmp"]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n")
        try:
            objects = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            compiler.link_executable(objects, "omp_probe", output_dir=tmp, extra_postargs=flags)
        except Exception:
            return None
    return flags


def _accepts(compiler, flags):
    """True if the C compiler builds a trivial file with ``flags`` (and without warnings becoming errors)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            compiler.compile([src], output_dir=tmp, extra_postargs=list(flags))
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    """build_ext that picks the flags this compiler accepts, compiles the modules in parallel
    (one C file per core), and skips, with a warning, any module that fails to build."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            flags, avx2 = ["/O2"], None
        else:
            flags = [f for f in FLAGS if _accepts(self.compiler, [f])]
            avx2 = next((f for f in AVX2_FLAGS if _accepts(self.compiler, f)), None)
        openmp = _openmp_flags(self.compiler)
        wanted = []
        for ext in self.extensions:
            if openmp and ext.name.rsplit(".", 1)[-1] in OPENMP_MODULES:
                ext.extra_compile_args = ext.extra_compile_args + openmp
                ext.extra_link_args = ext.extra_link_args + openmp
            if getattr(ext, "avx2", False):
                if avx2 is None:
                    continue  # no compiler support: the baseline build serves every CPU
                ext.extra_compile_args = flags + avx2 + ext.extra_compile_args
                build = f"AVX2 + FMA build, {' '.join(avx2)}"
            else:
                ext.extra_compile_args = flags + ext.extra_compile_args
                build = "native build, -march=native" if "-march=native" in flags else "portable build"
            ext.define_macros.append(("MINIGRAD_BUILD", f'"{build}"'))  # what available_backends() reports
            wanted.append(ext)
        self.extensions = wanted
        self.failed = []
        super().build_extensions()
        failed = {name for name, _ in self.failed}
        self.extensions = [ext for ext in self.extensions if ext.name not in failed]  # nothing to install for them
        if self.failed:
            self._warn()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except BUILD_ERRORS as e:  # no (working) C compiler: the backend is optional
            self.failed.append((ext.name, f"{type(e).__name__}: {e}"))

    def _warn(self):
        first = f"{self.failed[0][0]}: {self.failed[0][1]}"[:300]
        bar = "=" * 78
        print(f"\n{bar}\nWARNING: minigrad's Cython kernels were not built ({len(self.failed)} module(s) failed;\n"
              f"first: {first}).\nminigrad works without them: the numba, numpy and python backends need no C "
              f"compiler.\nInstall a C compiler (gcc, clang) and reinstall to get the cython backend.\n{bar}\n",
              file=sys.stderr)


extensions = cythonize([Extension(f"{PACKAGE}.{name}", [f"minigrad/backends/cython/{name}.pyx"]) for name in MODULES],
                       language_level=3, quiet=True, nthreads=os.cpu_count() or 1)
if X86_64 and not NATIVE:
    # The same generated C once more, compiled for AVX2 + FMA, as the package cython.avx2.
    for base in list(extensions):
        twin = Extension(base.name.replace(f"{PACKAGE}.", f"{PACKAGE}.avx2."), list(base.sources))
        twin.avx2 = True
        extensions.append(twin)

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
