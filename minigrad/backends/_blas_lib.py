"""Finding the BLAS library numpy itself loaded, so compiled loops can call it mid-loop.

A recurrence needs one matrix product per time step, called from inside the compiled
loop that runs the sequence. Both compiled backends call the ``cblas_sgemm`` /
``cblas_dgemm`` of the OpenBLAS that numpy already has in the process: one BLAS, one
thread pool, and no dependency on SciPy (whose own OpenBLAS would start a second pool
competing for the same cores). numba registers the functions with LLVM by name
(``loops/_blas.py``); Cython receives their addresses (``cython/recurrent.pyx``).

This module imports neither numba nor llvmlite, so the cython backend can use it alone.
"""
import ctypes
import functools
import glob
import os

import numpy as np


@functools.lru_cache(maxsize=None)  # scans the process's libraries: once is enough
def numpy_blas():
    """(ctypes library, symbol prefix, symbol suffix, int bits) of numpy's BLAS, or None."""
    # numpy's wheels bundle OpenBLAS beside the package: look there first, so that another
    # library's BLAS (SciPy's own OpenBLAS, say) is never picked while numpy's is there.
    root = os.path.dirname(np.__file__)
    paths = []
    for pattern in (root + ".libs/*blas*", root + "/.dylibs/*blas*"):
        paths += sorted(glob.glob(pattern))
    try:  # otherwise (Linux): a BLAS numpy was linked against, mapped into this process
        with open("/proc/self/maps") as maps:
            paths += [line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line]
    except OSError:
        pass
    for path in dict.fromkeys(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # numpy >= 2 wheels: scipy-openblas with 64-bit ints and a prefix + suffix; then others.
        for prefix, suffix, bits in (("scipy_", "64_", 64), ("", "64_", 64), ("", "", 32)):
            if hasattr(lib, f"{prefix}cblas_sgemm{suffix}") and hasattr(lib, f"{prefix}cblas_dgemm{suffix}"):
                return lib, prefix, suffix, bits
    return None


def gemm_addresses():
    """(address of cblas_sgemm, address of cblas_dgemm, int bits) in numpy's BLAS, or None.

    ``int bits`` (32 or 64) is the width of the dimension and leading-dimension arguments:
    numpy >= 2 wheels ship an ILP64 OpenBLAS, whose ``m, n, k, lda, ...`` are int64.
    """
    found = numpy_blas()
    if found is None:
        return None
    lib, prefix, suffix, bits = found
    fns = [getattr(lib, f"{prefix}cblas_{name}{suffix}") for name in ("sgemm", "dgemm")]
    return tuple(ctypes.cast(fn, ctypes.c_void_p).value for fn in fns) + (bits,)


def describe():
    """numpy's BLAS as OpenBLAS reports itself: its build config and the kernel ("core") it
    chose for this CPU (environment variables such as ``OPENBLAS_CORETYPE`` change the
    choice, and with it the speed of every product); None where that BLAS cannot say."""
    found = numpy_blas()
    if found is None:
        return None
    lib, prefix, suffix, _ = found
    out = {}
    for key, name in (("config", "openblas_get_config"), ("core", "openblas_get_corename")):
        fn = getattr(lib, f"{prefix}{name}{suffix}", None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            out[key] = fn().decode(errors="replace").strip()
    return out or None


def set_num_threads(n):
    """Set how many threads numpy's OpenBLAS uses (process-wide); False if that BLAS has no such call.

    OpenBLAS starts one thread per core. Two processes that both multiply matrices on a
    2-core machine then run four BLAS threads on two cores, and OpenBLAS's threads,
    which wait for work by spinning, stall each other: measured 3-13x slower small
    products. Parallel test workers (``pytest -n 2``) set 1 here.
    """
    found = numpy_blas()
    if found is None:
        return False
    lib, prefix, suffix, _ = found
    fn = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
    if fn is None:
        return False
    fn(ctypes.c_int(int(n)))
    return True


def get_num_threads():
    """How many threads numpy's OpenBLAS uses now; None where that BLAS cannot say."""
    found = numpy_blas()
    if found is None:
        return None
    lib, prefix, suffix, _ = found
    fn = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
    return None if fn is None else int(fn())


class single_threaded:
    """``with single_threaded():`` numpy's OpenBLAS runs each call on the calling thread, then
    goes back to its thread count. For compiled loops that call BLAS from several threads of
    their own at once (each its own share of the work): OpenBLAS's pool would otherwise try
    to split every one of those calls again, over cores that are already busy. Setting the
    count costs well under a microsecond."""

    def __enter__(self):
        self.before = get_num_threads()
        if self.before is not None and self.before != 1:
            set_num_threads(1)
        return self

    def __exit__(self, *exc):
        if self.before is not None and self.before != 1:
            set_num_threads(self.before)
        return False
