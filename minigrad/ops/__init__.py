"""Differentiable ops, grouped by kind. Each file pairs every op's forward with its backward."""
from . import indexing
from .device import to_device
from .elementwise import (abs, add, astype, clip, compare, div, exp, leaky_relu, log, maximum, minimum, mul, neg,
                          pow, relu, sigmoid, sqrt, sub, tanh, where)
from .indexing import getitem
from .join import cat, chunk, split, stack
from .matmul import matmul
from .nn import (binary_cross_entropy_with_logits, cross_entropy, dropout, embedding, l1_loss, linear,
                 log_softmax, mse_loss, nll_loss, softmax)
from .recurrent import gru_sequence, lstm_sequence, rnn_sequence
from .reduce import argmax, argmin, max, mean, min, sum, var
from .shape import broadcast_to, expand, flatten, flip, pad, permute, reshape, squeeze, transpose, unsqueeze

__all__ = [n for n in dir() if not n.startswith("_") and n != "indexing"]
