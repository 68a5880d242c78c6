"""Dropout: randomly zero activations while training, as a regulariser."""
import numbers

from .. import ops
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training and scale the rest by 1/(1-p),
    so the expected output equals the input; the identity in eval mode.

    Shapes: any -> the same. The mask is drawn from minigrad's seeded generator.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x):
        return ops.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
