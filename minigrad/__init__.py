"""minigrad: a small reverse-mode autograd framework with swappable compiled backends.

    import minigrad as mg
    x = mg.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad            # tensor([[2., 4.]])
"""
from . import memory

memory._apply_default()  # keep freed memory for the next step: see minigrad/memory.py

from . import backends, random  # noqa: E402
from .autograd import Function, detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad, \
    set_grad_enabled
from .backends import available_backends, backend, get_backend, set_backend
from .creation import (arange, eye, full, full_like, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       tensor, zeros, zeros_like)
from .dtypes import bool_, float16, float32, float64, get_default_dtype, int32, int64, set_default_dtype
from .ops import (abs, add, argmax, argmin, astype, binary_cross_entropy_with_logits, broadcast_to, cat, chunk, clip,
                  cross_entropy, div, dropout, embedding, exp, expand, flatten, flip, l1_loss, leaky_relu, linear, log,
                  log_softmax, matmul, max, maximum, mean, min, minimum, mse_loss, mul, neg, nll_loss, pad, pow, permute, relu,
                  reshape, sigmoid, softmax, split, sqrt, squeeze, stack, sub, sum, tanh, transpose, unsqueeze, var,
                  where)
from .gradcheck import GradcheckError, gradcheck
from .plot import plot_curves
from .random import manual_seed
from .serialization import CheckpointError, load, save
from .checkpoint import load_checkpoint, save_checkpoint
from .tensor import Tensor

from . import nn, optim  # noqa: E402  (they build on everything above)

clamp = clip

__version__ = "0.1.0"
