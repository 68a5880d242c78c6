"""Fused recurrent layers: a whole sequence per layer and direction as one autograd Function.

``FusedRNN``, ``FusedLSTM``, ``FusedGRU`` (``.apply(x, w_ih, w_hh, b_ih, b_hh, h0[, c0],
mask=, reverse=, relu=)`` -> (out, h_n[, c_n])) and ``fused_direction``, the drop-in for
``rnn.layers.composed_direction`` that the layers use by default. The recurrence runs in
the active backend's kernels; their contract is ``CONTRACT.md`` in this folder.
"""
from .function import FUSED, FusedGRU, FusedLSTM, FusedRNN, fused_direction

__all__ = ["FusedRNN", "FusedLSTM", "FusedGRU", "FUSED", "fused_direction"]
