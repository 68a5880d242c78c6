"""Embedding: a lookup table of learned vectors, one row per token id."""
import numpy as np

from .. import ops
from ..autograd import no_grad
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from . import init
from .linear import _check_size
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """out[..., :] = weight[indices[...], :].

    Shapes: integer indices (*) -> output (*, embedding_dim);
    ``weight`` (num_embeddings, embedding_dim), initialised ~ N(0, 1).

    ``padding_idx`` (may be negative, counting from the end) marks a padding token:
    its row starts at zero and never receives a gradient, so it stays zero in training.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=None, _weight=None):
        super().__init__()
        self.num_embeddings = _check_size("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _check_size("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = _normalize_padding_idx(padding_idx, self.num_embeddings)
        if _weight is not None:  # from_pretrained: no random draw, so the generator's stream is untouched
            self.weight = _weight
            return
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(np.zeros((self.num_embeddings, self.embedding_dim)), dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        self._zero_padding_row()

    def _zero_padding_row(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0  # __setitem__ swaps in a new array

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding whose weight is a copy of ``embeddings`` (V, D); frozen unless ``freeze=False``.

        Unlike construction, the padding row is *not* zeroed: the given vectors are kept.
        """
        shape = embeddings.shape if isinstance(embeddings, Tensor) else np.shape(embeddings)
        if len(shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D (V, D), got shape {tuple(shape)}")
        return cls(shape[0], shape[1], padding_idx=padding_idx,
                   _weight=Parameter(embeddings, requires_grad=not freeze))

    def forward(self, indices):
        return ops.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"


def _normalize_padding_idx(padding_idx, n):
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(f"Embedding: padding_idx must be an int or None, got {type(padding_idx).__name__}")
    if not -n <= padding_idx < n:
        raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for {n} embeddings")
    return int(padding_idx) % n
