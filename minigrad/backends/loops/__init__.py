"""Loop kernels: explicit ``for`` loops over arrays, and the two backends that run them.

Each function in the family files here (``elementwise``, ``reduce``, ``matmul``, ``nn``,
``optim``, ``recurrent``) is decorated with ``@kernel`` (numba's ``njit``, ``_jit.py``) and
is run by two backends:

* ``"numba"`` calls the compiled function: LLVM turns the loop into machine code
  (typed, inlined, vectorised where it can be);
* ``"python"`` calls the *same* function's ``.py_func``: the identical source, run by the
  Python interpreter one element at a time. It needs no numba.

So "numba vs python" measures exactly what JIT compilation buys, nothing else. Both
backends put the same Python glue in front of the loops (``backends/wrappers``), which
Cython's backend shares too.
"""
import types

from . import _jit, elementwise, matmul, nn, optim, recurrent, recurrent_parallel, reduce
from ._jit import kernel  # noqa: F401  (the decorator, for writing new loop kernels)

MODULES = (elementwise, reduce, matmul, nn, optim, recurrent, recurrent_parallel)
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def collect(modules, compiled=True):
    """A namespace of every ``@kernel`` in ``modules``: compiled, or as plain Python (py_func)."""
    found = {}
    for module in modules:
        for name, obj in vars(module).items():
            plain = getattr(obj, "py_func", obj)
            if getattr(plain, "is_loop_kernel", False) and obj.__module__ == module.__name__:
                if name in found:
                    raise RuntimeError(f"two loop kernels named {name!r} ({found[name].__module__}, {module.__name__})")
                found[name] = obj
    return types.SimpleNamespace(**{n: (getattr(f, "py_func", f) if not compiled else f) for n, f in found.items()})


def recurrent_plan(L):
    """The backend's ``recurrent_plan(cell, batch, hidden, dtype="float32")``: which path a
    sequence of that size takes, and why (wrappers/_recurrent_plan.py)."""
    from ..wrappers._recurrent_plan import plan

    def recurrent_plan(cell, batch, hidden, dtype="float32"):
        """{"path": "split" or "blas", "threads", "unit", "why"} for a ``cell`` ("rnn", "lstm", "gru") sequence."""
        if cell not in _GATES:
            raise ValueError(f"recurrent_plan: cell must be one of {sorted(_GATES)}, got {cell!r}")
        return plan(L, dtype, batch, hidden, _GATES[cell])
    return recurrent_plan


def numba_backend():
    """The "numba" backend: the loops compiled (on first use; the machine code is cached on disk)."""
    if not _jit.HAVE_NUMBA:
        raise ImportError("numba is not installed (pip install numba); the 'python' backend runs the same "
                          "loops without it")
    from ..wrappers import loop_backend
    from ..wrappers.matmul import loop_matmul, threaded_matmul
    from . import _first_compile
    _first_compile.install()  # a first run's compilation announces itself (once)
    loops = collect(MODULES, compiled=True)
    loops.threads = _jit.numba.get_num_threads  # what lets the recurrences split across cores
    loops.blas_on_caller = True  # every BLAS call of this backend runs on the calling thread (run_loop)
    L = {"f": loops, "d": loops}
    extras = {"loops": loops, "matmul_loop": lambda a, b: loop_matmul(loops.matmul_loop, a, b),
              "recurrent_plan": recurrent_plan(L)}
    return loop_backend("numba", "numba @njit loop kernels (compiled on first use, cached on disk)", L,
                        own_matmul=threaded_matmul, extras=extras)


def python_backend():
    """The "python" backend: numba's loops run uncompiled, by the interpreter (no numba needed).

    BLAS cannot run "uncompiled": its matmul is the hand loop (``matmul_loop``'s source)."""
    from ..wrappers import loop_backend
    from ..wrappers.matmul import interpreted_matmul, loop_matmul
    loops = collect(MODULES, compiled=False)
    return loop_backend("python", "numba's loop kernels run uncompiled (py_func): the same source, interpreted",
                        {"f": loops, "d": loops}, own_matmul=interpreted_matmul,
                        extras={"loops": loops, "matmul_loop": lambda a, b: loop_matmul(loops.matmul_loop, a, b)})
