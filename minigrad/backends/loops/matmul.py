"""Matrix multiplication: BLAS through numba, and a hand-written loop for comparison."""


class MatmulKernels:
    """Kernel-set entries for matmul."""
