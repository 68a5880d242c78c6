"""Layer: what every Keras-style layer shares.

A Keras layer learns the size of its input on its first call: ``Dense(10)`` has no
weights until it sees (N, 32) inputs, and then creates a (32, 10) kernel. So each layer
here is a minigrad ``nn.Module`` with two steps:

    build(input_shape)       create the weights (input_shape without the batch axis)
    call(x, mask, training)  the computation, on a built layer

``layer(x)`` builds on the first call and then calls. ``input_shape=`` (Keras's
argument) builds the layer at once, so ``Sequential.summary()`` works before any data.

Masks, as in Keras: a layer may produce one (``Embedding(mask_zero=True)``,
``Masking``), pass one on (Dense, Dropout, an RNN with ``return_sequences``) or consume
one (an RNN without ``return_sequences``). ``compute_mask(x, mask)`` says what leaves
the layer; a mask is a (N, T) numpy bool array, True at real steps.

``get_weights()`` / ``set_weights()`` speak Keras's layouts and order (a recurrent
kernel is (inputs, units * gates) there); each layer converts to and from its own.
"""
import re

import numpy as np

import minigrad as mg
from minigrad import nn

_counts = {}


def _auto_name(cls_name):
    """Keras's default names: dense, dense_1, dense_2, ... per class."""
    base = re.sub(r"(?<!^)(?=[A-Z])", "_", cls_name).lower().replace("simple_r_n_n", "simple_rnn") \
        .replace("l_s_t_m", "lstm").replace("g_r_u", "gru")
    n = _counts.get(base, 0)
    _counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


class Layer(nn.Module):
    """Base class of the Keras-style layers (module docstring)."""

    def __init__(self, name=None, input_shape=None, input_dim=None, dtype=None, trainable=True, **unknown):
        if "_parameters" not in self.__dict__:  # a wrapper may have started the Module to register its layers
            super().__init__()
        cls = type(self).__name__
        if unknown:
            raise TypeError(f"{cls}: unexpected argument(s) {', '.join(sorted(unknown))}")
        self.name = name or _auto_name(cls)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            input_shape = tuple(input_shape)
            if not all(s is None or (isinstance(s, (int, np.integer)) and s > 0) for s in input_shape):
                raise ValueError(f"{cls} {self.name!r}: input_shape must be positive ints or None (a size "
                                 f"left open), without the batch axis, got {input_shape}")
        self.declared_input_shape = input_shape  # without the batch axis
        self.dtype = mg.float32 if dtype is None else mg.float64 if str(dtype) in ("float64", "double") else \
            mg.float32
        self.trainable = trainable
        self.built = False
        self.input_shape = self.output_shape = None  # with None for the batch axis, once built
        if input_shape is not None:
            self.build_for((None,) + input_shape)

    # ----------------------------------------------------------- building
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included, None)."""

    def build_for(self, input_shape):
        """Build once for ``input_shape`` (batch axis first) and record the shapes."""
        input_shape = tuple(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
            if not self.trainable:
                for p in self.parameters():
                    p.requires_grad = False
        self.input_shape = input_shape
        self.output_shape = self.compute_output_shape(input_shape)
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return input_shape

    def add_weight(self, name, shape, initializer, layout=None):
        """A Parameter of ``shape`` filled by ``initializer`` (a Keras name or object).

        ``layout`` (a function) turns the initializer's array from Keras's layout into the
        layer's own (e.g. a transpose): the initializer sees Keras's shape, so fan-in and
        fan-out are Keras's."""
        from .. import initializers
        values = initializers.get(initializer)(shape, np.float64)
        values = layout(values) if layout is not None else values
        param = nn.Parameter(mg.tensor(np.ascontiguousarray(values), dtype=self.dtype))
        setattr(self, name, param)
        return param

    # ------------------------------------------------------------- calling
    def call(self, x, mask=None, training=None):
        raise NotImplementedError(f"{type(self).__name__} does not implement call()")

    def compute_mask(self, x, mask=None):
        """The mask of the output: by default the input's, passed on."""
        return mask

    def forward(self, x, mask=None, training=None, **kwargs):
        x = as_tensor(x, self.dtype)
        self.build_for((None,) + tuple(x.shape[1:]))
        return self.call(x, mask=mask, training=self.training if training is None else training, **kwargs)

    # ------------------------------------------------------------- weights
    def keras_weights(self):
        """[(name, array in Keras's layout)] in Keras's order; layers with a layout of their own override."""
        return [(name, p.numpy()) for name, p in self.named_parameters()]

    def load_keras_weights(self, arrays):
        """Set the weights from arrays in Keras's layout and order (already checked)."""
        for (_, p), a in zip(self.named_parameters(), arrays):
            assign(p, a)

    def get_weights(self):
        """The weights as numpy arrays, in Keras's layout and order."""
        self._require_built("get_weights")
        return [a.copy() for _, a in self.keras_weights()]

    def set_weights(self, weights):
        """Set the weights from arrays in Keras's layout and order; checked first, so a wrong
        list changes nothing."""
        self._require_built("set_weights")
        expect = self.keras_weights()
        weights = list(weights)
        if len(weights) != len(expect):
            raise ValueError(f"{type(self).__name__} {self.name!r}: set_weights needs {len(expect)} arrays "
                             f"({', '.join(n for n, _ in expect)}), got {len(weights)}")
        arrays = []
        for (name, want), got in zip(expect, weights):
            got = np.asarray(got)
            if got.shape != want.shape:
                raise ValueError(f"{type(self).__name__} {self.name!r}: weight {name!r} must have shape "
                                 f"{want.shape}, got {got.shape}")
            arrays.append(got.astype(want.dtype))
        self.load_keras_weights(arrays)

    @property
    def weights(self):
        return list(self.parameters())

    def count_params(self):
        self._require_built("count_params")
        return sum(int(np.prod(p.shape)) for p in self.parameters())

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{type(self).__name__} {self.name!r} is not built yet: call it on data, or give "
                             f"input_shape=, before {what}()")

    def extra_repr(self):
        return f"name={self.name!r}"


def assign(param, array):
    """Give ``param`` a new array (its dtype and device): a graph that saved the old one keeps it."""
    param.data = param._k().asarray(np.ascontiguousarray(array), param.dtype)


def as_tensor(x, dtype=None):
    """A Tensor from a Tensor or array-like; with ``dtype`` (a layer's), numbers of any other
    type are cast to it, as Keras casts a layer's inputs."""
    if isinstance(x, mg.Tensor):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"expected numbers, got an array of dtype {arr.dtype}")
    return mg.tensor(arr, dtype=dtype) if dtype is not None else mg.tensor(arr)
