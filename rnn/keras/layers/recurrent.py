"""Keras's SimpleRNN, LSTM and GRU on minigrad's fused recurrent kernels.

Input (N, T, F), batch first, as in Keras. Each layer runs its whole sequence as one
fused op (``minigrad/ops/recurrent.py``: one graph node, the compiled loops of the
active backend); only ``recurrent_dropout`` while training takes the step-by-step path.

Keras's weights and ours. Keras keeps a ``kernel`` (F, G*U), a ``recurrent_kernel``
(U, G*U) and one ``bias``; the fused kernels want PyTorch's layout, W_ih (G*U, F) and
W_hh (G*U, U) with gates along the rows. So the weights live in that layout (transposed)
and ``get_weights``/``set_weights`` convert. The gate order: LSTM i, f, c, o in both;
GRU z, r, h in Keras against r, z, n here, so the GRU's blocks are swapped on the way.
Biases: an LSTM or SimpleRNN has one bias (Keras's; b_hh is absent), a GRU with
``reset_after=True`` (Keras 2+'s default) has two, the input's and the recurrent one,
and then computes exactly PyTorch's GRU:

    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h

Defaults are Keras's: glorot_uniform kernel, orthogonal recurrent kernel, zero bias,
and an LSTM forget-gate bias of 1 (``unit_forget_bias``).

Masks (from ``Embedding(mask_zero=True)`` or ``Masking``): a padded step changes no
state, wherever it is (Keras pads before the sequence by default), so the last output is
the state after the last real step. In a returned sequence a padded step repeats the
previous output, as in Keras (zeros with ``zero_output_for_mask=True``, which
Bidirectional sets when it returns sequences); the mask travels on, and the loss skips
those steps.
"""
import numpy as np

import minigrad as mg
from minigrad.ops.recurrent import gru_sequence, lstm_sequence, rnn_sequence

from ...layers import composed_direction
from .base import Layer, assign


def _reorder(blocks_by_columns, perm, units):
    """Column blocks of ``units`` reordered: block q of the result is block perm[q]."""
    return np.concatenate([blocks_by_columns[:, p * units:(p + 1) * units] for p in perm], axis=1)


class _KerasRNN(Layer):
    mode = None                  # "RNN", "LSTM", "GRU": the fused op and the step equations
    gates = 1
    perm = (0,)                  # Keras's gate blocks -> ours (an involution: it converts both ways)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout=0.0, recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, **kwargs):
        cls = type(self).__name__
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units < 1:
            raise ValueError(f"{cls}: units must be a positive int, got {units!r}")
        for label, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not (isinstance(p, (int, float)) and 0 <= p < 1):
                raise ValueError(f"{cls}: {label} must be in [0, 1), got {p!r}")
        if any(r is not None for r in (kernel_regularizer, recurrent_regularizer, bias_regularizer)):
            raise NotImplementedError(f"{cls}: regularizers are not supported; add a penalty to the loss, or use "
                                      "an optimizer's weight_decay")
        self._check_activations(activation, recurrent_activation)
        self.units, self.activation, self.recurrent_activation = int(units), activation, recurrent_activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states = None  # the carried state of a stateful layer (detached), else None
        self._config = dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                            use_bias=use_bias, kernel_initializer=kernel_initializer,
                            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                            dropout=dropout, recurrent_dropout=recurrent_dropout, return_sequences=return_sequences,
                            return_state=return_state, go_backwards=go_backwards, stateful=stateful)
        super().__init__(**kwargs)

    def _check_activations(self, activation, recurrent_activation):
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise NotImplementedError(f"{type(self).__name__}: only activation='tanh' with "
                                      f"recurrent_activation='sigmoid' (Keras's defaults) run on the fused kernels; "
                                      f"got {activation!r}, {recurrent_activation!r}")

    def config(self, **changes):
        """The constructor's arguments (for a copy, e.g. Bidirectional's backward layer)."""
        return {**self._config, **changes}

    # ----------------------------------------------------------- weights
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            fix = "; add a feature axis: x[..., None]" if len(input_shape) == 2 else ""
            raise ValueError(f"{type(self).__name__} {self.name!r}: needs inputs (batch, steps, features) with a "
                             f"known number of features, got shape {input_shape}{fix}")
        U, G = self.units, self.gates * self.units
        to_ours = lambda a: _reorder(a, self.perm, U).T  # noqa: E731  Keras (rows, G*U) -> ours (G*U, rows)
        self.add_weight("weight_ih", (input_shape[-1], G), self.kernel_initializer, to_ours)
        self.add_weight("weight_hh", (U, G), self.recurrent_initializer, to_ours)
        if self.use_bias:
            self._build_bias()

    def _build_bias(self):
        self.add_weight("bias_ih", (self.gates * self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        n, t = input_shape[0], input_shape[1]
        out = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [out] + [(n, self.units)] * self.n_states
        return out

    @property
    def n_states(self):
        return 2 if self.mode == "LSTM" else 1

    def _params(self):
        b_ih = getattr(self, "bias_ih", None) if self.use_bias else None
        b_hh = getattr(self, "bias_hh", None) if self.use_bias else None
        return self.weight_ih, self.weight_hh, b_ih, b_hh

    def keras_weights(self):
        U = self.units
        to_keras = lambda w: _reorder(w.numpy().T, self.perm, U)  # noqa: E731
        out = [("kernel", to_keras(self.weight_ih)), ("recurrent_kernel", to_keras(self.weight_hh))]
        if self.use_bias:
            out.append(("bias", self._keras_bias()))
        return out

    def _keras_bias(self):
        return self.bias_ih.numpy()

    def load_keras_weights(self, arrays):
        U = self.units
        assign(self.weight_ih, _reorder(arrays[0], self.perm, U).T)
        assign(self.weight_hh, _reorder(arrays[1], self.perm, U).T)
        if self.use_bias:
            self._load_bias(arrays[2])

    def _load_bias(self, bias):
        assign(self.bias_ih, bias)

    # ----------------------------------------------------------- running
    def reset_states(self, states=None):
        """Forget a stateful layer's carried state (or set it: a list of (N, units) arrays)."""
        if states is None:
            self.states = None
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != self.n_states:
            raise ValueError(f"{type(self).__name__} {self.name!r}: reset_states needs {self.n_states} state(s), "
                             f"got {len(states)}")
        self.states = [mg.tensor(np.asarray(s), dtype=self.dtype) for s in states]

    def _initial(self, n, initial_state, device):
        name = f"{type(self).__name__} {self.name!r}"
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != self.n_states:
                raise ValueError(f"{name}: initial_state needs {self.n_states} tensor(s), got {len(states)}")
        elif self.stateful and self.states is not None:
            states = self.states
        else:
            return [mg.zeros(n, self.units, dtype=self.dtype, device=device) for _ in range(self.n_states)]
        for s in states:
            if tuple(s.shape) != (n, self.units):
                extra = " (a stateful layer keeps one batch size: call reset_states() to start over)" \
                    if initial_state is None else ""
                raise ValueError(f"{name}: initial states must be ({n}, {self.units}) for a batch of {n}, got "
                                 f"{tuple(s.shape)}{extra}")
        return [s if isinstance(s, mg.Tensor) else mg.tensor(np.asarray(s), dtype=self.dtype) for s in states]

    def call(self, x, mask=None, training=None, initial_state=None):
        name = f"{type(self).__name__} {self.name!r}"
        if x.ndim != 3:
            fix = "; add a feature axis: x[..., None]" if x.ndim == 2 else ""
            raise ValueError(f"{name}: expected input (batch, steps, features), got shape {tuple(x.shape)}{fix}")
        if x.shape[-1] != self.weight_ih.shape[1]:
            raise ValueError(f"{name}: built for {self.weight_ih.shape[1]} features, got input shape "
                             f"{tuple(x.shape)}")
        n, t = x.shape[0], x.shape[1]
        step_mask = None
        if mask is not None:
            mask = np.asarray(mask, bool)
            if mask.shape != (n, t):
                raise ValueError(f"{name}: mask must be (batch, steps) = {(n, t)}, got {mask.shape}")
            step_mask = np.ascontiguousarray(mask.T)
        if self.dropout and training:  # one mask per sequence, over the features (Keras's)
            keep = mg.tensor((mg.random.generator().random((n, 1, x.shape[-1])) >= self.dropout)
                             .astype(np.float64) / (1 - self.dropout), dtype=x.dtype, device=x.device)
            x = x * keep
        init = self._initial(n, initial_state, x.device)
        xt = x.transpose(0, 1)  # (T, N, F): the fused kernels' layout
        if self.recurrent_dropout and training:
            rmask = mg.tensor((mg.random.generator().random((n, self.units)) >= self.recurrent_dropout)
                              .astype(np.float64) / (1 - self.recurrent_dropout), dtype=x.dtype, device=x.device)
            tmask = None if step_mask is None else mg.tensor(step_mask[:, :, None], device=x.device)
            out, finals = composed_direction(self.mode, xt, init, self._params(), self.go_backwards, tmask,
                                             self._nonlinearity(), recurrent_mask=rmask)
        else:
            out, finals = self._fused(xt, init, step_mask)
        if self.stateful:
            self.states = [f.detach() for f in finals]
        if self.return_sequences:
            out = out.transpose(0, 1)  # (N, T, U)
            if self.go_backwards:  # Keras returns the steps in the order it processed them
                out = out.flip(1)
            if mask is not None and not self.zero_output_for_mask:
                out = _repeat_last_output(out, mask[:, ::-1] if self.go_backwards else mask)
        else:
            out = finals[0]
        return [out] + list(finals) if self.return_state else out

    def _nonlinearity(self):
        return "tanh"

    def _fused(self, xt, init, step_mask):
        w_ih, w_hh, b_ih, b_hh = self._params()
        if self.mode == "LSTM":
            out, h, c = lstm_sequence(xt, w_ih, w_hh, b_ih, b_hh, *init, mask=step_mask, reverse=self.go_backwards)
            return out, [h, c]
        if self.mode == "GRU":
            out, h = gru_sequence(xt, w_ih, w_hh, b_ih, b_hh, *init, mask=step_mask, reverse=self.go_backwards)
        else:
            out, h = rnn_sequence(xt, w_ih, w_hh, b_ih, b_hh, *init, mask=step_mask, reverse=self.go_backwards,
                                  nonlinearity=self._nonlinearity())
        return out, [h]

    def compute_mask(self, x, mask=None):
        # as Keras: the input's mask, even with go_backwards (whose output runs backwards)
        return mask if self.return_sequences else None

    def extra_repr(self):
        s = f"{self.units}, name={self.name!r}"
        for attr in ("return_sequences", "return_state", "go_backwards", "stateful"):
            if getattr(self, attr):
                s += f", {attr}=True"
        return s


def _repeat_last_output(out, mask):
    """Keras's outputs at padded steps: the output of the last real step before (zeros before
    the first). out (N, T, U) in processing order, mask (N, T) likewise; the kernels gave zeros
    there. Indexing routes each repeated output's gradient back to the step it came from."""
    n, t = mask.shape
    last = np.maximum.accumulate(np.where(mask, np.arange(t), -1), axis=1)  # last real step <= t, or -1
    padded = mg.cat([mg.zeros(n, 1, out.shape[-1], dtype=out.dtype, device=out.device), out], axis=1)
    return padded[np.arange(n)[:, None], last + 1]


class SimpleRNN(_KerasRNN):
    """Keras's SimpleRNN: h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias),
    activation 'tanh' (default) or 'relu'."""

    mode = "RNN"

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNN: unexpected argument recurrent_activation (it has one activation)")
        super().__init__(units, activation=activation, **kwargs)
        del self._config["recurrent_activation"]

    def _check_activations(self, activation, recurrent_activation):
        if activation not in ("tanh", "relu"):
            raise NotImplementedError(f"SimpleRNN: activation must be 'tanh' or 'relu' (the fused kernels'), got "
                                      f"{activation!r}")

    def _nonlinearity(self):
        return self.activation


class LSTM(_KerasRNN):
    """Keras's LSTM (gates i, f, c, o); ``unit_forget_bias=True`` starts the forget gate's bias at 1."""

    mode, gates, perm = "LSTM", 4, (0, 1, 2, 3)

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, **kwargs)
        self._config["unit_forget_bias"] = unit_forget_bias

    def _build_bias(self):
        from .. import initializers
        U = self.units
        init = initializers.get(self.bias_initializer)
        if self.unit_forget_bias:
            values = np.concatenate([init((U,), np.float64), np.ones(U), init((2 * U,), np.float64)])
            self.add_weight("bias_ih", (4 * U,), lambda shape, dtype: values)
        else:
            self.add_weight("bias_ih", (4 * U,), self.bias_initializer)


class GRU(_KerasRNN):
    """Keras's GRU with ``reset_after=True`` (its default since Keras 2.3): gates z, r, h in Keras's
    weights, r, z, n here; an input bias and a recurrent bias, Keras's bias of shape (2, 3 * units)."""

    mode, gates, perm = "GRU", 3, (1, 0, 2)

    def __init__(self, units, reset_after=True, **kwargs):
        if not reset_after:
            raise NotImplementedError("GRU: reset_after=False (the reset gate applied before the recurrent "
                                      "product) is not supported; reset_after=True is Keras's default and "
                                      "PyTorch's GRU")
        super().__init__(units, **kwargs)
        self.reset_after = True

    def _build_bias(self):
        from .. import initializers
        U = self.units
        both = initializers.get(self.bias_initializer)((2, 3 * U), np.float64)
        self.add_weight("bias_ih", (3 * U,), lambda shape, dtype: _reorder(both[:1], self.perm, U)[0])
        self.add_weight("bias_hh", (3 * U,), lambda shape, dtype: _reorder(both[1:], self.perm, U)[0])

    def _keras_bias(self):
        U = self.units
        return np.stack([_reorder(b.numpy()[None], self.perm, U)[0] for b in (self.bias_ih, self.bias_hh)])

    def _load_bias(self, bias):
        U = self.units
        assign(self.bias_ih, _reorder(bias[:1], self.perm, U)[0])
        assign(self.bias_hh, _reorder(bias[1:], self.perm, U)[0])
