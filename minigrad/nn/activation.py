"""Activation functions as modules, so they can sit in a Sequential. Shapes: any -> the same."""
from .. import ops
from .module import Module


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return ops.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    def forward(self, x):
        return ops.tanh(x)


class Sigmoid(Module):
    """1 / (1 + e^-x), computed stably for large |x|."""

    def forward(self, x):
        return ops.sigmoid(x)


class Softmax(Module):
    """e^x / sum e^x along ``axis``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return ops.softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """x - log sum e^x along ``axis`` (more accurate than log(softmax(x)))."""

    def forward(self, x):
        return ops.log_softmax(x, self.axis)
