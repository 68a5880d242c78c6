"""Loop kernels: explicit ``for`` loops over arrays, compiled by numba.

Each function in this package is decorated with ``@kernel`` (numba's ``njit``) and
is used by two backends:

* ``"numba"`` calls the compiled function: LLVM turns the loop into machine code
  (typed, inlined, vectorised where it can be);
* ``"python"`` calls the *same* function's ``.py_func``: the identical source, run
  by the Python interpreter one element at a time.

So "numba vs python" measures exactly what JIT compilation buys, nothing else.

The backend classes reach the loops through a namespace (``cls.loops.name``) built by
``collect()``: compiled dispatchers for numba, their ``py_func`` for python.
"""
import types

from numba import njit
from numba.core.registry import CPUDispatcher


def kernel(fn=None, **options):
    """``@kernel``: compile with numba, caching the machine code on disk.

    ``cache=True`` writes the compiled code next to the source (``__pycache__``), so a
    later process loads it instead of compiling again. ``fastmath`` lets LLVM
    reassociate float arithmetic so that loops vectorise; kernels that need strict
    IEEE order pass ``fastmath=False``. ``error_model="numpy"`` makes x / 0 give inf or
    nan as numpy does, instead of Python's ZeroDivisionError: the Python model puts a
    zero test before every division, and that branch stops LLVM from vectorising any
    loop that divides.
    """
    opts = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
    opts.update(options)
    if fn is None:
        return lambda f: njit(**opts)(f)
    return njit(**opts)(fn)


def collect(modules, compiled=True):
    """A namespace of every ``@kernel`` in ``modules``: compiled, or as plain Python (py_func)."""
    found = {}
    for module in modules:
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                if name in found:
                    raise RuntimeError(f"two loop kernels named {name!r} ({found[name].__module__}, {module.__name__})")
                found[name] = obj
    return types.SimpleNamespace(**{n: (f if compiled else f.py_func) for n, f in found.items()})
