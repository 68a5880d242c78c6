"""The cuda backend: every kernel on the GPU, written with numba.cuda, on device arrays.

Tensors on ``device="cuda"`` hold ``CudaArray``s (``array.py``): views of flat device
buffers that numpy cannot touch. The family files are the other backends' twins:
``arrays`` (transfers, views, indexing), ``elementwise``, ``reduce``, ``matmul``, ``nn``, ``optim``,
``recurrent``.
A fused kernel not written here runs the contract's composed default
(``backends/reference/``) on these kernels, on the device: never numpy on device data;
``available_backends(kernels=True)["cuda"]["kernels"]`` lists which.

Loading it imports numba.cuda; ``import minigrad`` does not. Without a GPU it raises an
ImportError that says how to use numba's simulator instead (``NUMBA_ENABLE_CUDASIM=1``).
"""


def cuda_backend():
    """Assemble the "cuda" backend (ImportError when no GPU, and no simulator, is there)."""
    from . import _runtime
    _runtime.load()
    from ..backend import assemble, kernels_of
    from . import arrays, elementwise, matmul, nn, optim, recurrent, reduce
    where = "numba's CUDA simulator (CPU threads: for tests)" if _runtime.simulated() else "the GPU"
    return assemble("cuda", device="cuda", own=kernels_of(arrays, elementwise, reduce, matmul, nn, optim, recurrent),
                    description=f"numba.cuda kernels on {where}; matmul: {matmul._using()}",
                    extras={"stats": _runtime.STATS})
