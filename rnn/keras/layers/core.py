"""Keras's core layers: Input, Dense, Activation, Dropout, Flatten, Embedding, Masking.

Shapes are Keras's: the batch axis first, features last. Dense multiplies the last
axis, so it also applies to every step of a (N, T, F) sequence, as in Keras.
"""
import numpy as np

import minigrad as mg

from .. import activations
from .base import Layer, as_tensor


class InputLayer(Layer):
    """The input's shape (without the batch axis) for a Sequential model: ``Input(shape=(10, 1))``."""

    def __init__(self, shape=None, batch_size=None, name=None, dtype=None, **kwargs):
        if shape is None:
            raise ValueError("Input: give shape=, the shape of one example (without the batch axis)")
        super().__init__(name=name, input_shape=shape, dtype=dtype, **kwargs)

    def call(self, x, mask=None, training=None):
        return x


def Input(shape=None, batch_size=None, name=None, dtype=None):
    """Keras's ``Input(shape=...)``: the first entry of a Sequential model's layers."""
    return InputLayer(shape=shape, batch_size=batch_size, name=name, dtype=dtype)


class Dense(Layer):
    """y = activation(x @ kernel + bias) over the last axis: x (..., F) -> (..., units).

    kernel (F, units) starts glorot_uniform, bias (units,) zeros (Keras's defaults)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units < 1:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        _no_regularizers("Dense", kernel_regularizer, bias_regularizer)
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.activation_name = activations.name_of(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        super().__init__(**kwargs)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense {self.name!r}: needs inputs (batch, ..., features) with a known number "
                             f"of features, got shape {input_shape}")
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def linear(self, x):
        """x @ kernel + bias, before the activation (the logits of a softmax or sigmoid output)."""
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense {self.name!r}: expected inputs with {self.kernel.shape[0]} features (last "
                             f"axis), got shape {tuple(x.shape)}")
        y = x @ self.kernel
        return y + self.bias if self.use_bias else y

    def call(self, x, mask=None, training=None):
        return self.activation(self.linear(x))


class Activation(Layer):
    """An activation by Keras name (``Activation("softmax")``), as a layer."""

    def __init__(self, activation, **kwargs):
        self.activation = activations.get(activation)
        self.activation_name = activations.name_of(activation)
        super().__init__(**kwargs)

    def linear(self, x):
        return x

    def call(self, x, mask=None, training=None):
        return self.activation(x)


class Dropout(Layer):
    """Zero each input with probability ``rate`` while training, scaling the rest by 1/(1 - rate)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        if not (isinstance(rate, (int, float)) and 0 <= rate < 1):
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported (a mask per element is drawn)")
        self.rate = float(rate)
        super().__init__(**kwargs)

    def call(self, x, mask=None, training=None):
        return mg.dropout(x, self.rate, training=bool(training)) if self.rate and training else x


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else int(np.prod(rest)))

    def call(self, x, mask=None, training=None):
        return x.reshape(x.shape[0], -1)

    def compute_mask(self, x, mask=None):
        return None


class Embedding(Layer):
    """Integer ids (N, T) -> vectors (N, T, output_dim), from a learned (input_dim, output_dim) table.

    ``mask_zero=True``: id 0 is padding. The layer then emits a mask (ids != 0) that the
    recurrent layers after it follow, so padded steps change nothing (pre- or post-padding),
    and ``input_dim`` must count id 0 (vocabulary + 1). Keras's default initializer:
    U(-0.05, 0.05)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False,
                 input_length=None, embeddings_regularizer=None, **kwargs):
        for label, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Embedding: {label} must be a positive int, got {v!r}")
        _no_regularizers("Embedding", embeddings_regularizer)
        self.input_dim, self.output_dim, self.mask_zero = int(input_dim), int(output_dim), bool(mask_zero)
        self.embeddings_initializer = embeddings_initializer
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, mask=None, training=None):
        ids = x.numpy() if isinstance(x, mg.Tensor) else np.asarray(x)
        if ids.dtype.kind == "f":
            if not np.all(ids == np.round(ids)):
                raise TypeError(f"Embedding {self.name!r}: inputs must be integer ids, got non-integer floats")
            ids = ids.astype(np.int64)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding {self.name!r}: inputs must be integer ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = int(ids.min() if ids.min() < 0 else ids.max())
            raise ValueError(f"Embedding {self.name!r}: id {bad} is outside [0, {self.input_dim}) (input_dim="
                             f"{self.input_dim}; with mask_zero, count id 0 in it)")
        self.build_for((None,) + ids.shape[1:])
        return mg.embedding(mg.tensor(ids.astype(np.int64)), self.embeddings)

    def compute_mask(self, x, mask=None):
        if not self.mask_zero:
            return mask
        ids = x.numpy() if isinstance(x, mg.Tensor) else np.asarray(x)
        return ids != 0


class Masking(Layer):
    """Marks the steps whose features all equal ``mask_value`` as padding: a (N, T) mask for the
    layers after it (the recurrent ones skip those steps), and zeros there in the output."""

    def __init__(self, mask_value=0.0, **kwargs):
        self.mask_value = mask_value
        super().__init__(**kwargs)

    def _mask(self, x):
        return np.any(as_tensor(x).numpy() != self.mask_value, axis=-1)

    def call(self, x, mask=None, training=None):
        keep = self._mask(x)  # the mask is a host array, as the recurrent kernels want it
        return x * mg.tensor(keep[..., None], dtype=x.dtype, device=x.device)

    def compute_mask(self, x, mask=None):
        return self._mask(x)


def _no_regularizers(layer, *given):
    if any(g is not None for g in given):
        raise NotImplementedError(f"{layer}: regularizers are not supported; add a penalty to the loss, or use an "
                                  "optimizer's weight_decay")
