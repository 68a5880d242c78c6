"""The cython backend: the loop kernels written in Cython, compiled ahead of time by ``setup.py``.

Each ``.pyx`` here defines the same loops, under the same names and parameters, as its
twin in ``backends/loops/`` (which numba compiles); ``_common.pxd`` holds the scalar
helpers they share. The Python in front of them (checks, layout, allocation) is the
shared glue of ``backends/wrappers``, so this file only hands it the loops: each
``real`` loop comes in a float and a double specialisation, and picking it here, once,
costs one dict lookup per call instead of Cython's per-call type dispatch (~0.3 us).

Builds (``setup.py``): on x86-64 every module exists twice, for the baseline x86-64 and,
in ``avx2/``, for CPUs with AVX2 and FMA, which are loaded where numpy reports those
instructions; ``MINIGRAD_NATIVE=1`` at install builds one set for the installing CPU.
The extension is optional: without a C compiler the install skips it, and this backend
reports why it is missing.
"""
import importlib
import types

FAMILIES = ("elementwise", "reduce", "matmul", "nn", "optim", "recurrent")


def _has_avx2_and_fma():
    """What numpy's own CPU dispatch detected on this machine (False where it cannot say)."""
    for where in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            features = importlib.import_module(where).__cpu_features__
        except (ImportError, AttributeError):
            continue
        return bool(features.get("AVX2") and features.get("FMA3"))
    return False


def _import_families():
    """The loop modules of the best build for this CPU."""
    if _has_avx2_and_fma():
        try:
            return [importlib.import_module(f"{__name__}.avx2.{f}") for f in FAMILIES]
        except ImportError:
            pass  # built natively, or by a compiler without AVX2 support: the one build below
    return [importlib.import_module(f"{__name__}.{f}") for f in FAMILIES]


def _is_loop(name):
    """A kernel of the contract's loop set (the module's other functions are its plumbing)."""
    return name.endswith(("_loop", "_parts")) or name == "matmul_split"


def _specialisations(modules, ctype):
    """Every loop of the modules in its ``ctype`` ("float" or "double") version."""
    found = {}
    for module in modules:
        for name, fn in vars(module).items():
            if _is_loop(name) and hasattr(fn, "__signatures__"):  # a fused Cython function
                assert name not in found, f"two Cython loops named {name!r}"
                found[name] = fn[ctype]
    return types.SimpleNamespace(**found)


def cython_backend():
    """Assemble the "cython" backend (ImportError when the extension is not built)."""
    try:
        modules = _import_families()
    except ImportError as e:
        raise ImportError(f"the Cython extension is not built ({e}); `pip install -e .` builds it when a C "
                          "compiler is available") from None
    from ..loops import recurrent_plan
    from ..wrappers import loop_backend
    from ..wrappers.matmul import loop_matmul, threaded_matmul
    L = {"f": _specialisations(modules, "float"), "d": _specialisations(modules, "double")}
    threads = modules[FAMILIES.index("recurrent")].threads  # OpenMP's count: products and recurrences split
    for ns in L.values():
        ns.threads = threads
        ns.blas_on_caller = True  # every BLAS call of this backend runs on the calling thread (one pool)
    loops = types.SimpleNamespace(**{n: getattr(m, n) for m in modules for n in vars(m) if _is_loop(n)},
                                  threads=threads)

    def matmul_loop(a, b):
        """``a @ b`` by the hand-written Cython loop (float32/float64), for the benchmarks."""
        return loop_matmul(lambda x, y, out: L[out.dtype.char].matmul_loop(x, y, out), a, b)

    build = modules[0].BUILD  # elementwise.pyx reports how setup.py compiled it
    return loop_backend("cython", f"Cython kernels compiled ahead of time by setup.py ({build}; typed memoryviews, "
                        "nogil); matmul: numpy's BLAS split across OpenMP threads", L, own_matmul=threaded_matmul,
                        extras={"loops": loops, "matmul_loop": matmul_loop, "recurrent_plan": recurrent_plan(L)})
