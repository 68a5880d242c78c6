"""Linear (affine) layer, plus the two shape-only layers that usually sit beside it."""
import math

import numpy as np

from .. import ops
from ..dtypes import get_default_dtype
from . import init
from .module import Module
from .parameter import Parameter


def _check_size(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: {name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{layer}: {name} must be >= 0, got {value}")
    return int(value)


class Linear(Module):
    """y = x W^T + b.

    Shapes: input (*, in_features) -> output (*, out_features);
    ``weight`` (out_features, in_features), ``bias`` (out_features,) or None.

    Init as PyTorch: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)),
    drawn weight first, then bias, from minigrad's generator.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features = _check_size("Linear", "in_features", in_features)
        self.out_features = _check_size("Linear", "out_features", out_features)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(np.zeros((self.out_features, self.in_features)), dtype=dtype)
        if bias:
            self.bias = Parameter(np.zeros(self.out_features), dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform_ with a = sqrt(5) is PyTorch's spelling of U(+-1/sqrt(fan_in)):
        # gain sqrt(2 / (1 + 5)) times sqrt(3 / fan_in) = 1 / sqrt(fan_in).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed layer)."""

    def __init__(self, *args, **kwargs):  # accepts and ignores arguments, like torch's
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge axes start_axis..end_axis into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_axis=1, end_axis=-1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x):
        return ops.flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self):
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"
