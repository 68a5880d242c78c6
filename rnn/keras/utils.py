"""Keras's utils: ``to_categorical`` and ``pad_sequences``."""
import numpy as np

from .preprocessing.sequence import pad_sequences  # noqa: F401


def to_categorical(y, num_classes=None, dtype="float32"):
    """Integer class ids (...,) -> one-hot (..., num_classes)."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError("to_categorical: class ids must be integers")
        y = y.astype(np.int64)
    if y.ndim and y.shape[-1] == 1 and y.ndim > 1:
        y = y[..., 0]
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= n):
        bad = int(y.min() if y.min() < 0 else y.max())
        raise ValueError(f"to_categorical: class ids must be in [0, {n}), got {bad}")
    return np.eye(n, dtype=dtype)[y]
