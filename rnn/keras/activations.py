"""Activation functions by Keras name: ``Dense(10, activation="softmax")``.

Each maps a Tensor to a Tensor of the same shape, built from minigrad's ops (so
autograd differentiates them). ``softmax`` is over the last axis, as in Keras.
"""
import minigrad as mg


def linear(x):
    return x


def relu(x):
    return mg.relu(x)


def sigmoid(x):
    return mg.sigmoid(x)


def tanh(x):
    return mg.tanh(x)


def softmax(x):
    return mg.softmax(x, axis=-1)


def softplus(x):
    """log(1 + e^x), written relu(x) + log(1 + e^-|x|) so that e^x never overflows."""
    return mg.relu(x) + mg.log(1 + mg.exp(-mg.abs(x)))


def softsign(x):
    return x / (1 + mg.abs(x))


def elu(x):
    """x for x > 0, e^x - 1 below (alpha = 1, Keras's default)."""
    return mg.where(x > 0, x, mg.exp(mg.minimum(x, 0)) - 1)


def selu(x):
    """scale * elu(x, alpha) with Klambauer et al.'s constants."""
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * mg.where(x > 0, x, alpha * (mg.exp(mg.minimum(x, 0)) - 1))


def exponential(x):
    return mg.exp(x)


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: relu6(x + 3) / 6."""
    return mg.clip(x + 3, 0, 6) / 6


def swish(x):
    """x * sigmoid(x) (also called silu)."""
    return x * mg.sigmoid(x)


def leaky_relu(x):
    """Keras's default slope 0.2 for negative inputs."""
    return mg.leaky_relu(x, 0.2)


_BY_NAME = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
            "softplus": softplus, "softsign": softsign, "elu": elu, "selu": selu, "exponential": exponential,
            "hard_sigmoid": hard_sigmoid, "swish": swish, "silu": swish, "leaky_relu": leaky_relu}


def get(activation):
    """The function for a name, None (linear) or a callable (returned as is)."""
    if activation is None:
        return linear
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in _BY_NAME:
        return _BY_NAME[activation]
    raise ValueError(f"unknown activation {activation!r}; accepted: {', '.join(sorted(_BY_NAME))}, None "
                     "or a function of a Tensor")


def name_of(activation):
    """The Keras name of an activation given by name or as one of this module's functions; None for others."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation if activation in _BY_NAME else None
    return next((n for n, f in _BY_NAME.items() if f is activation), None)
