"""Weight initializers by Keras name, with Keras's defaults.

Keras fills a layer's weights in its own layout: a Dense or recurrent ``kernel`` is
(fan_in, fan_out) = (inputs, units * gates), the ``recurrent_kernel`` (units, units *
gates). The layers ask for arrays in that layout (``init(shape, dtype)``) and convert
them to theirs, so a Keras layer here starts from the same distribution as in Keras:

    glorot_uniform     U(-l, l), l = sqrt(6 / (fan_in + fan_out))     (Dense, recurrent kernels)
    orthogonal         a (semi-)orthogonal matrix, QR of a Gaussian    (recurrent_kernel)
    zeros              biases (an LSTM's forget-gate bias starts at 1: unit_forget_bias)
    uniform            U(-0.05, 0.05)                                   (Embedding)

and the rest of Keras's set: glorot_normal, he_*, lecun_* (the *_normal ones truncated
at two standard deviations, as Keras does), random_uniform, random_normal,
truncated_normal, ones, constant, identity. Random numbers come from minigrad's
generator, so ``minigrad.manual_seed`` makes them reproducible.
"""
import numpy as np

from minigrad.random import generator

_TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated at +-2: Keras divides by it


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(shape, std):
    """N(0, std^2) redrawn where it falls outside two standard deviations."""
    out = generator().standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = generator().standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * std


class Initializer:
    """Base: ``init(shape, dtype)`` returns a numpy array of that shape and dtype."""

    def __call__(self, shape, dtype="float32"):
        return np.asarray(self.sample(tuple(int(s) for s in shape)), dtype=dtype)

    def sample(self, shape):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def sample(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def sample(self, shape):
        return np.full(shape, self.value)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05):
        self.minval, self.maxval = minval, maxval

    def sample(self, shape):
        return generator().uniform(self.minval, self.maxval, shape)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return self.mean + self.stddev * generator().standard_normal(shape)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return self.mean + _truncated_normal(shape, self.stddev)


class VarianceScaling(Initializer):
    """Variance ``scale / n``, n = fan_in, fan_out or their mean (``mode``); a uniform or a
    truncated normal ``distribution``: the family of Glorot, He and LeCun initializers."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"VarianceScaling: distribution must be uniform, truncated_normal or "
                             f"untruncated_normal, got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            return generator().uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return np.sqrt(variance) * generator().standard_normal(shape)
        return _truncated_normal(shape, np.sqrt(variance) / _TRUNCATED_STD)


def GlorotUniform():
    return VarianceScaling(1.0, "fan_avg", "uniform")


def GlorotNormal():
    return VarianceScaling(1.0, "fan_avg", "truncated_normal")


def HeUniform():
    return VarianceScaling(2.0, "fan_in", "uniform")


def HeNormal():
    return VarianceScaling(2.0, "fan_in", "truncated_normal")


def LecunUniform():
    return VarianceScaling(1.0, "fan_in", "uniform")


def LecunNormal():
    return VarianceScaling(1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """``gain`` times a matrix with orthonormal rows or columns (whichever are fewer):
    the Q of a QR factorisation of a Gaussian matrix, signs fixed by R's diagonal so that
    the result is uniformly distributed (Saxe et al., 2014)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def sample(self, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of at least 2 dimensions, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q[:rows, :cols].reshape(shape)


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def sample(self, shape):
        if len(shape) != 2:
            raise ValueError(f"Identity: needs a 2-D shape, got {shape}")
        return self.gain * np.eye(*shape)


_BY_NAME = {"zeros": Zeros, "ones": Ones, "constant": Constant, "uniform": RandomUniform,
            "random_uniform": RandomUniform, "normal": RandomNormal, "random_normal": RandomNormal,
            "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
            "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform,
            "lecun_normal": LecunNormal, "orthogonal": Orthogonal, "identity": Identity,
            "variance_scaling": VarianceScaling}


def get(initializer):
    """An initializer from a Keras name, an Initializer, or a function (shape, dtype) -> array."""
    if isinstance(initializer, Initializer) or (callable(initializer) and not isinstance(initializer, type)):
        return initializer
    if isinstance(initializer, str) and initializer in _BY_NAME:
        return _BY_NAME[initializer]()
    raise ValueError(f"unknown initializer {initializer!r}; accepted: {', '.join(sorted(_BY_NAME))}, an "
                     "Initializer or a function (shape, dtype) -> array")
