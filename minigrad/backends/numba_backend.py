"""The numba backend: loop kernels compiled to machine code by numba's ``@njit``.

It implements a kernel with a loop only where the compiled loop is at least as fast
as numpy's vectorised version (fused backward passes, activations, reductions that
numpy would do in several passes, optimizer updates); plain arithmetic such as
``a + b`` is memory-bound and numpy's SIMD loop is already optimal, so those kernels
are numpy's. ``available_backends()["numba"]["reuses"]`` lists every such kernel.
"""
from . import loops
from .loops import dropout, elementwise, gather, losses, matmul, optim, recurrent, recurrent_backward, reduce, softmax
from .numpy_backend import NumpyBackend

MODULES = (elementwise, reduce, softmax, losses, gather, dropout, optim, matmul, recurrent, recurrent_backward)


class NumbaBackend(elementwise.ElementwiseKernels, reduce.ReduceKernels, softmax.SoftmaxKernels, losses.LossKernels,
                   gather.GatherKernels, dropout.DropoutKernels, optim.OptimKernels, matmul.MatmulKernels,
                   recurrent.RecurrentKernels,
                   NumpyBackend):
    name = "numba"
    device = "cpu"
    description = "numba @njit loop kernels (compiled on first use, cached on disk)"
    loops = loops.collect(MODULES, compiled=True)
