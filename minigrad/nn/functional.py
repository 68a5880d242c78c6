"""The functional forms of the layers, imported as ``F`` (``from minigrad.nn import functional as F``).

These are the differentiable ops of ``minigrad.ops`` under the names PyTorch users
expect; a layer module is one of these plus the parameters it owns. Differences from
``torch.nn.functional``: axes are called ``axis``, and ``pad`` takes numpy-style
widths (one ``(before, after)`` pair per axis, first axis first). ``rnn_sequence``,
``lstm_sequence`` and ``gru_sequence`` run one recurrent layer and direction over a
whole sequence as one fused node (``minigrad/ops/recurrent.py``).
"""
from ..ops import (binary_cross_entropy_with_logits, cross_entropy, dropout, embedding, gru_sequence, l1_loss,
                   leaky_relu, linear, log_softmax, lstm_sequence, mse_loss, nll_loss, pad, relu, rnn_sequence, sigmoid,
                   softmax, tanh)

__all__ = ["relu", "tanh", "sigmoid", "leaky_relu", "softmax", "log_softmax", "linear", "embedding", "dropout",
           "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy_with_logits", "pad",
           "rnn_sequence", "lstm_sequence", "gru_sequence"]
