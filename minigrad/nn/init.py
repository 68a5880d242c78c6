"""Weight initialisation, as in PyTorch's ``torch.nn.init``.

Every function fills a Tensor/Parameter with new values drawn from minigrad's seeded
generator (so ``mg.manual_seed`` makes a model's init reproducible) and returns it.
"In place" here means the *tensor object* is kept and its ``.data`` replaced by a new
array of the same dtype and device: an old array that a graph saved stays intact.

Fans of a weight of shape (out, in, *kernel): fan_in = in * prod(kernel),
fan_out = out * prod(kernel). The schemes keep the variance of activations (fan_in)
or of gradients (fan_out) roughly constant from layer to layer:

    xavier/glorot:  std = gain * sqrt(2 / (fan_in + fan_out))      (Glorot & Bengio, 2010)
    kaiming/he:     std = gain / sqrt(fan)                         (He et al., 2015)
    uniform variants use U(-sqrt(3) std, sqrt(3) std), which has that std.
"""
import math

import numpy as np

from ..autograd import no_grad
from ..random import generator
from ..tensor import Tensor

_LINEAR_LIKE = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (linear/sigmoid 1, tanh 5/3, relu sqrt 2,
    leaky_relu sqrt(2 / (1 + slope^2)) with slope ``param`` (default 0.01), selu 3/4)."""
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r} (expected one of "
                     f"{', '.join(_LINEAR_LIKE + ('tanh', 'relu', 'leaky_relu', 'selu'))})")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight shaped (out, in, *receptive_field)."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions "
                         f"(got shape {tensor.shape})")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check(op, tensor, floating=True):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{op}: expected a Tensor or Parameter, got {type(tensor).__name__}")
    if floating and tensor.dtype.kind != "f":
        raise TypeError(f"init.{op}: needs a floating-point tensor, got dtype {tensor.dtype}")


def _fill(tensor, values):
    """Replace ``tensor``'s data by ``values`` (host array or scalar), cast to its dtype, on its device."""
    with no_grad():
        k = tensor._k()
        if np.ndim(values) == 0:
            tensor.data = k.full(tensor.shape, values, tensor.dtype)
        else:
            tensor.data = k.asarray(np.asarray(values).reshape(tensor.shape), tensor.dtype)
    return tensor


# --------------------------------------------------------------- constants
def constant_(tensor, val):
    """Fill with ``val``."""
    _check("constant_", tensor, floating=False)
    return _fill(tensor, val)


def zeros_(tensor):
    _check("zeros_", tensor, floating=False)
    return _fill(tensor, 0)


def ones_(tensor):
    _check("ones_", tensor, floating=False)
    return _fill(tensor, 1)


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the diagonal, zeros elsewhere)."""
    _check("eye_", tensor, floating=False)
    if tensor.ndim != 2:
        raise ValueError(f"init.eye_: needs a 2-D tensor, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


# ------------------------------------------------------------------ random
def uniform_(tensor, a=0.0, b=1.0):
    """Fill with samples from U(a, b)."""
    _check("uniform_", tensor)
    if a > b:
        raise ValueError(f"init.uniform_: lower bound a={a} is greater than upper bound b={b}")
    return _fill(tensor, generator().uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with samples from N(mean, std^2)."""
    _check("normal_", tensor)
    if std < 0:
        raise ValueError(f"init.normal_: std must be >= 0, got {std}")
    return _fill(tensor, generator().normal(mean, std, tensor.shape))


def xavier_uniform_(tensor, gain=1.0):
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    _check("xavier_uniform_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if tensor.size == 0:
        return tensor
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, generator().uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor, gain=1.0):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check("xavier_normal_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if tensor.size == 0:
        return tensor
    return _fill(tensor, generator().normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), tensor.shape))


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He uniform: U(-b, b) with b = sqrt(3) * gain / sqrt(fan); ``a`` is leaky_relu's slope."""
    _check("kaiming_uniform_", tensor)
    fan = _fan(tensor, mode)
    if tensor.size == 0 or fan == 0:
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return _fill(tensor, generator().uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He normal: N(0, std^2) with std = gain / sqrt(fan); ``a`` is leaky_relu's slope."""
    _check("kaiming_normal_", tensor)
    fan = _fan(tensor, mode)
    if tensor.size == 0 or fan == 0:
        return tensor
    return _fill(tensor, generator().normal(0.0, _kaiming_std(tensor, a, mode, nonlinearity), tensor.shape))


he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def orthogonal_(tensor, gain=1.0):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013), viewing the tensor as
    (shape[0], rest). Rows are orthonormal if shape[0] <= rest, columns otherwise.

    Q of the QR of a Gaussian matrix, with each column's sign fixed by diag(R) so
    that Q is uniformly distributed (Mezzadri, 2007) rather than biased by QR's conventions.
    """
    _check("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(f"init.orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tensor.shape}")
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T  # QR needs a tall matrix; transposing back makes the rows orthonormal
    q, r = np.linalg.qr(flat)
    q = q * np.where(np.diag(r) >= 0, 1.0, -1.0)
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q)
