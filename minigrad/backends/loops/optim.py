"""Optimizer update loop kernels: each parameter updated in place in one pass."""


class OptimKernels:
    """Kernel-set entries implemented with optimizer loops."""
