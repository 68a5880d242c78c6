"""The Python in front of compiled CPU loops, shared by the numba, python and cython backends.

A compiled loop sees flat or blocked C-contiguous arrays of one float dtype and checks
no bounds. The functions of this package are the kernels themselves (same names and
parameters as the contract, plus a first parameter ``L``): they check shapes, lay the
inputs out, allocate the outputs, pick the loop compiled for the dtype and call it.
A backend made of loops is then one call, ``loop_backend``, given its loop sets:

    L = {"f": loops for float32, "d": loops for float64}

numba's loops are one set for both (a dispatcher compiles each dtype); Cython's are its
float and double specialisations. The loop names and parameters are the same in
``loops/*.py`` and ``cython/*.pyx``; that is what lets one glue layer serve both.
"""
import types

from .. import kernel_set
from ..backend import assemble, kernels_of
from ..reference import BACKEND as NUMPY
from . import elementwise, nn, optim, recurrent, reduce

FAMILIES = (elementwise, reduce, nn, optim, recurrent)

# The required kernels the loop backends take from numpy, and why (each is also numpy's
# in the measurements of benchmarks/RESULTS.md):
TAKEN_FROM_NUMPY = kernel_set.names(family="arrays") + [
    # every CPU backend holds numpy arrays: numpy's plumbing (above) serves them all.
    # Memory-bound arithmetic: one pass over memory either way, and numpy's SIMD loops
    # already run at memory speed.
    "neg", "abs", "add", "sub", "mul", "div", "pow", "maximum", "minimum", "compare", "where",
    # exp, log, sqrt: numpy's own SIMD implementations; a loop would call libm per element.
    "exp", "log", "sqrt",
    # argmax/argmin: numpy's SIMD arg-reductions run ~4x faster than a loop that must carry
    # an index along with each lane (3.8 vs 16.5 us on (64, 512) float32).
    "argmax", "argmin",
    # embedding, a row gather: numpy's fancy indexing copies whole rows with memcpy, and a
    # loop measured 0.8-0.9x its speed on small batches.
    "embedding",
]


def loop_backend(name, description, L, own_matmul=None, extras=None):
    """Assemble a CPU backend whose kernels are this package's, running the loop sets ``L``.

    ``own_matmul``: a matmul(L, a, b) of its own; otherwise numpy's (BLAS) is taken.
    """
    own = kernels_of(*FAMILIES, bind=L)
    taken = list(TAKEN_FROM_NUMPY)
    if own_matmul is None:
        taken.append("matmul")
    else:
        own["matmul"] = types.MethodType(own_matmul, L)
    return assemble(name, device="cpu", description=description, own=own, take={NUMPY: taken}, extras=extras)
