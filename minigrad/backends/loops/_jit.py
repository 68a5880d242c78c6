"""The decorators that make a plain Python loop a numba kernel, and nothing more.

``@kernel`` compiles a loop with numba's ``njit``; the "python" backend runs the same
function object's ``.py_func``. Without numba installed every decorator here is the
identity, so the loop sources stay importable and the "python" backend still runs them.

Compilation options, and why:

* ``fastmath=FAST``: LLVM may reassociate sums (that is what lets a reduction use
  several vector accumulators), contract a * b + c into one FMA, use reciprocals, fast
  approximations of libm functions and ignore the sign of zero. It may *not* assume
  that NaN and inf never occur: numba's ``fastmath=True`` would also set ``nnan`` and
  ``ninf``, under which LLVM folds ``x != x`` to False and may turn ``x if x > 0 else 0``
  into a max that drops NaN. Every kernel must pass NaN and inf through as numpy does
  (the contract's rule), so those two flags are never set.
* ``error_model="numpy"``: x / 0 gives inf or nan as numpy does, instead of Python's
  ZeroDivisionError; the Python model puts a zero test before every division, and
  that branch stops LLVM from vectorising any loop that divides.
* ``cache=True``: the machine code is written to disk (next to the source, or under
  ``NUMBA_CACHE_DIR``), so a later process loads it instead of compiling again. Where
  no cache directory is writable, the kernels compile in memory, with one warning.
* ``nogil=True``: a compiled loop releases the interpreter lock.
"""
import warnings

try:
    import numba
    from numba import prange  # a parallel loop in a ``@kernel(parallel=True)``; range when interpreted
    from numba.extending import overload as _overload
    from numba.extending import register_jitable as _register_jitable
except ImportError:  # the "python" backend runs the loops without numba
    numba = None
    prange = range

HAVE_NUMBA = numba is not None
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast-math without nnan/ninf: see above
_warned = []


def kernel(fn=None, **options):
    """``@kernel``: a loop kernel, compiled by numba (see the module docstring for the options)."""
    if fn is None:
        return lambda f: kernel(f, **options)
    fn.is_loop_kernel = True  # how loops.collect() finds the kernels of a module
    if not HAVE_NUMBA:
        return fn
    opts = dict(cache=True, nogil=True, fastmath=set(FAST), error_model="numpy")
    opts.update(options)
    try:
        return numba.njit(**opts)(fn)
    except RuntimeError as e:  # numba: "cannot cache function ...: no locator available"
        if not opts["cache"] or "cannot cache" not in str(e):
            raise
        if not _warned:
            _warned.append(e)
            warnings.warn(f"minigrad: numba cannot write its cache here ({e}); the loop kernels compile in "
                          "memory on every run. Set NUMBA_CACHE_DIR to a writable directory to keep them.",
                          RuntimeWarning, stacklevel=2)
        return numba.njit(**dict(opts, cache=False))(fn)


def helper(fn=None, inline=False):
    """A scalar or row helper that loops call: compiled into (inlined by) the calling kernel,
    a plain Python function when the kernel runs interpreted. (A ``@kernel`` helper would run
    compiled even when called from an uncompiled loop.)"""
    if fn is None:
        return lambda f: helper(f, inline)
    if not HAVE_NUMBA:
        return fn
    return _register_jitable(inline="always" if inline else "never")(fn)


def compiled_form(py_func):
    """``@compiled_form(f)``: the decorated function chooses, at compile time, what ``f``
    becomes inside compiled loops (a numba ``@overload``); interpreted, ``f`` runs as written."""
    if not HAVE_NUMBA:
        return lambda typer: typer
    return _overload(py_func)
