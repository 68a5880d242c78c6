"""The python backend: numba's loop kernels run *uncompiled*, by the interpreter.

Every loop here is the very function object the numba backend compiles, taken
through ``.py_func``: the same source, line for line. Timing this backend against
``"numba"`` measures exactly what JIT compilation buys. It is slow by design; it
exists to be read and measured.
"""
from . import loops
from .loops.matmul import interpreted_matmul
from .numba_backend import MODULES, NumbaBackend


class PythonBackend(NumbaBackend):
    name = "python"
    device = "cpu"
    description = "numba's loop kernels run uncompiled (py_func): the same source, interpreted"
    runs_source_of = "numba"
    loops = loops.collect(MODULES, compiled=False)
    # BLAS cannot run "uncompiled": the python backend multiplies matrices with the hand
    # loop (numba's matmul_loop source), where numba calls numpy's BLAS matmul.
    matmul = classmethod(interpreted_matmul)
