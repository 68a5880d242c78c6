"""Keras's layer wrappers: Bidirectional (a recurrent layer both ways) and TimeDistributed."""
import minigrad as mg
from minigrad import nn

from .base import Layer
from .recurrent import _KerasRNN

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Run a recurrent layer forward and a copy of it backward over the sequence, then merge.

    The backward copy has the same settings with ``go_backwards`` flipped (or is
    ``backward_layer``); its returned sequence is put back in time order before merging.
    ``merge_mode``: "concat" (features side by side, Keras's default), "sum", "mul",
    "ave" or None (a list of the two). With ``return_state``: [output, forward states...,
    backward states...]. Weights: the forward layer's, then the backward's.
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if not isinstance(layer, _KerasRNN):
            raise TypeError(f"Bidirectional: wraps a SimpleRNN, LSTM or GRU, got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        backward = backward_layer or type(layer)(**layer.config(go_backwards=not layer.go_backwards),
                                                 name=f"backward_{layer.name}")
        if not isinstance(backward, type(layer)) or backward.go_backwards == layer.go_backwards \
                or backward.return_sequences != layer.return_sequences or backward.return_state != layer.return_state:
            raise ValueError("Bidirectional: backward_layer must be the same kind of layer, with the other "
                             "go_backwards and the same return_sequences and return_state")
        for sub in (layer, backward):  # as Keras: padded steps of returned sequences are zeros here
            sub.zero_output_for_mask = layer.return_sequences
        nn.Module.__init__(self)  # before the sublayers are assigned (they register as submodules)
        self.merge_mode = merge_mode
        self.forward_layer, self.backward_layer = layer, backward
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        kwargs.setdefault("name", f"bidirectional_{layer.name}")
        if layer.declared_input_shape is not None:
            kwargs.setdefault("input_shape", layer.declared_input_shape)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.forward_layer.build_for(input_shape)
        self.backward_layer.build_for(input_shape)

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        seq = out[0] if self.return_state else out
        units = seq[-1] * 2 if self.merge_mode == "concat" else seq[-1]
        merged = tuple(seq[:-1]) + (units,)
        if self.return_state:
            return [merged] + out[1:] * 2
        return merged

    def call(self, x, mask=None, training=None, initial_state=None):
        half = None
        if initial_state is not None:
            k = self.forward_layer.n_states
            if len(initial_state) != 2 * k:
                raise ValueError(f"Bidirectional {self.name!r}: initial_state needs {2 * k} tensors (forward "
                                 f"then backward), got {len(initial_state)}")
            half = (initial_state[:k], initial_state[k:])
        fwd = self.forward_layer.call(x, mask, training, None if half is None else half[0])
        bwd = self.backward_layer.call(x, mask, training, None if half is None else half[1])
        f_out, f_states = (fwd[0], fwd[1:]) if self.return_state else (fwd, [])
        b_out, b_states = (bwd[0], bwd[1:]) if self.return_state else (bwd, [])
        if self.return_sequences:
            b_out = b_out.flip(1)  # back in time order
        merged = _merge(self.merge_mode, f_out, b_out)
        if self.return_state:
            return [merged] + list(f_states) + list(b_states)
        return merged

    def compute_mask(self, x, mask=None):
        return mask if self.return_sequences else None

    def keras_weights(self):
        return self.forward_layer.keras_weights() + self.backward_layer.keras_weights()

    def load_keras_weights(self, arrays):
        k = len(self.forward_layer.keras_weights())
        self.forward_layer.load_keras_weights(arrays[:k])
        self.backward_layer.load_keras_weights(arrays[k:])

    def reset_states(self, states=None):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()


def _merge(mode, a, b):
    if mode == "concat":
        return mg.cat([a, b], axis=-1)
    if mode == "sum":
        return a + b
    if mode == "mul":
        return a * b
    if mode == "ave":
        return (a + b) * 0.5
    return [a, b]


class TimeDistributed(Layer):
    """Apply a layer to every step of a sequence: (N, T, ...) -> layer on (N*T, ...) -> (N, T, ...).

    ``TimeDistributed(Dense(10))`` is Dense(10) on every step (Dense alone does the same on
    the last axis). The mask passes through."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: wraps a layer, got {type(layer).__name__}")
        nn.Module.__init__(self)
        self.layer = layer
        kwargs.setdefault("name", f"time_distributed_{layer.name}")
        super().__init__(**kwargs)

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: needs inputs (batch, steps, ...), got shape "
                             f"{input_shape}")
        self.layer.build_for((None,) + tuple(input_shape[2:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    @property
    def activation_name(self):
        return getattr(self.layer, "activation_name", None)

    def _apply(self, x, fn):
        n, t = x.shape[0], x.shape[1]
        y = fn(x.reshape(n * t, *x.shape[2:]))
        return y.reshape(n, t, *y.shape[1:])

    def linear(self, x):
        return self._apply(x, self.layer.linear)

    def call(self, x, mask=None, training=None):
        return self._apply(x, lambda v: self.layer.call(v, None, training))

    def keras_weights(self):
        return self.layer.keras_weights()

    def load_keras_weights(self, arrays):
        self.layer.load_keras_weights(arrays)
