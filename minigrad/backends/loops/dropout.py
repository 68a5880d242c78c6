"""Dropout loop kernel: the inverted-dropout mask, in one pass over uniform draws."""
import numpy as np

from . import kernel


@kernel
def dropout_mask_loop(u, p, scale, out):
    """out[i] = scale if u[i] >= p else 0: inverted dropout from uniform draws u in [0, 1)."""
    for i in range(u.size):
        out[i] = scale if u[i] >= p else 0.0


class DropoutKernels:
    """Kernel-set entry implemented with the dropout loop (``cls.loops`` picks compiled or interpreted)."""

    @classmethod
    def dropout_mask(cls, shape, p, rng, dtype):
        """Inverted-dropout mask. The uniforms are drawn exactly as the numpy kernel draws them
        (``rng.random(shape)``, float64), so the same seed gives the same mask on every backend."""
        dtype = np.dtype(dtype)
        if dtype.char not in "fd":
            return super().dropout_mask(shape, p, rng, dtype)
        u = rng.random(shape)
        out = np.empty(u.shape, dtype=dtype)
        cls.loops.dropout_mask_loop(u.reshape(-1), float(p), dtype.type(1.0 / (1.0 - p)), out.reshape(-1))
        return out
