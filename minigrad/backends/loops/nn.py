"""Loop kernels for the nn ops: softmax family, losses, embedding, dropout, scatter-add."""


class NNKernels:
    """Kernel-set entries implemented with nn loops."""
