"""Reduction loop kernels (sum, mean, max, min, var, arg-reductions, gradient norms)."""


class ReduceKernels:
    """Kernel-set entries implemented with reduction loops."""
