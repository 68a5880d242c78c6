"""Losses as modules: ``criterion = nn.CrossEntropyLoss(); loss = criterion(logits, targets)``.

Each wraps the function of the same name in ``minigrad.ops.nn``, which documents the
maths. Settings are checked when the module is built, so a typo in ``reduction``
fails at construction rather than at the first training step. Class weights are
buffers: they follow ``.double()`` / ``.to(device)`` and are saved in ``state_dict``.
"""
import numpy as np

from .. import ops
from ..ops.common import check_reduction
from ..tensor import Tensor
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def _weight_buffer(self, weight):
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(np.asarray(weight))
        self.register_buffer("weight", weight)

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """reduce((input - target)^2); input and target have the same shape."""

    def forward(self, input, target):
        return ops.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """reduce(|input - target|); input and target have the same shape."""

    def forward(self, input, target):
        return ops.l1_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (N, C) or (N, C, d1, ...) and integer targets (N,) or (N, d1, ...).

    ``weight`` (C,) rescales classes; targets equal to ``ignore_index`` are skipped;
    ``label_smoothing`` in [0, 1) mixes the one-hot target with the uniform distribution.
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1), got {label_smoothing}")
        if weight is not None and label_smoothing:
            raise ValueError("CrossEntropyLoss: weight together with label_smoothing is not supported")
        self._weight_buffer(weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, logits, targets):
        return ops.cross_entropy(logits, targets, self.weight, self.ignore_index, self.reduction,
                                 self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of integer targets under log-probabilities (e.g. from LogSoftmax)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self._weight_buffer(weight)
        self.ignore_index = ignore_index

    def forward(self, log_probs, targets):
        return ops.nll_loss(log_probs, targets, self.weight, self.ignore_index, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on raw scores, stable for any magnitude; targets in [0, 1], same shape.

    ``weight`` (broadcastable to the input) rescales each element's loss.
    """

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self._weight_buffer(weight)

    def forward(self, logits, targets):
        return ops.binary_cross_entropy_with_logits(logits, targets, self.weight, self.reduction)
