"""The numpy backend: the reference every other backend is tested against.

Its required kernels are numpy calls; its fused kernels are the contract's composed
defaults, defined next to them in the same family files (numpy has its own only for
the optimizer steps, which numpy's in-place operators do with fewer temporaries). So
this folder is also where each fused kernel's meaning is written down in code, by
hand: ``recurrent.py`` holds the LSTM's forward and its backpropagation through time,
step by step.
"""
from ..backend import assemble, kernels_of
from . import arrays, elementwise, matmul, nn, optim, recurrent, reduce

FAMILIES = (arrays, elementwise, reduce, matmul, nn, optim, recurrent)


BACKEND = assemble("numpy", device="cpu",
                   description="vectorised numpy: the reference every other backend is tested against",
                   own=kernels_of(*FAMILIES))
