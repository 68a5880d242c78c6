"""RNN, LSTM, GRU layers: whole sequences, stacked layers, both directions, padded batches.

Shapes (PyTorch's, a contract of this project), with T steps, batch B, D = 2 if
bidirectional else 1, L = num_layers:

    input   (T, B, I), or (B, T, I) with batch_first=True, or (T, I) unbatched
    h0, c0  (D*L, B, H), or (D*L, H) unbatched; zeros when not given
    output  (T, B, D*H) (batch_first: (B, T, D*H)): the last layer's h at every step,
            forward and reverse directions concatenated on the last axis
    h_n     (D*L, B, H): the final state of every layer and direction, ordered
            layer-major, direction-minor (l0 forward, l0 reverse, l1 forward, ...)

``lengths`` (B,) integers in [1, T] describe a padded batch: sequence b occupies steps
0..lengths[b]-1. Outputs past a sequence's end are zero, h_n/c_n hold the state at its
last real step, the reverse direction starts at that step, and padding contributes
nothing to any gradient. ``mask`` describes any padding instead (Keras's masks, e.g.
padding before the sequence): booleans shaped like the input's first two axes, (B, T)
with batch_first, (T, B) without, (T,) unbatched, False at padded steps. A padded step
outputs zero and carries the state unchanged.

What a call returns. By default PyTorch's pair, ``output, h_n`` (an LSTM: ``output,
(h_n, c_n)``). Keras's two switches make a layer usable inside ``nn.Sequential``, which
passes one tensor from layer to layer; setting either one selects that style:

    return_sequences=True    the output at every step, (B, T, D*H) / (T, B, D*H)
    return_sequences=False   only the last one, (B, D*H): the final hidden state of the
                             last layer, both directions concatenated (with lengths,
                             each sequence's last real step)
    return_state=True        a tuple (that output, h_n) or, for an LSTM, (that output,
                             h_n, c_n), states shaped (D*L, B, H) as above

e.g. ``nn.Sequential(rnn.LSTM(1, 50, batch_first=True, return_sequences=True),
rnn.LSTM(50, 50, batch_first=True, return_sequences=False), nn.Linear(50, 1))`` is
Keras's ``Sequential([LSTM(50, return_sequences=True), LSTM(50), Dense(1)])``.
"""
import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.ops.recurrent import gru_sequence, lstm_sequence, rnn_sequence  # the fused layers: one graph node

from .cells import gru_step, lstm_step, rnn_step
from .params import GATES, init_params, make_params


class _RNNBase(nn.Module):
    mode = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, nonlinearity="tanh", dtype=None, init="uniform", forget_bias=None,
                 fused=True, return_sequences=None, return_state=None):
        super().__init__()
        name = type(self).__name__
        for label, v, low in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                              ("num_layers", num_layers, 1)):
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name}: {label} must be an int >= {low}, got {v!r}")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.nonlinearity, self.fused = bidirectional, nonlinearity, fused
        for label, v in (("return_sequences", return_sequences), ("return_state", return_state)):
            if v is not None and not isinstance(v, bool):
                raise TypeError(f"{name}: {label} must be True, False or None, got {v!r}")
        # Keras style as soon as either switch is set; a switch left unset means False there
        self.keras_style = return_sequences is not None or return_state is not None
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self._init, self._forget_bias = init, forget_bias
        self.step_states = None  # per-step hidden states of the last forward (fused=False only)
        self._groups = []  # per (layer, direction): the parameter names, in the order weight_ih, weight_hh, biases
        for layer in range(num_layers):
            for d in range(self.num_directions):
                in_size = input_size if layer == 0 else hidden_size * self.num_directions
                suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
                self._groups.append(make_params(self, self.mode, in_size, hidden_size, bias, dtype, suffix))
        self.reset_parameters()

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def reset_parameters(self):
        for names in self._groups:
            init_params([getattr(self, n) for n in names], self.mode, self.hidden_size, self._init,
                        self._forget_bias)

    def group(self, layer, direction):
        """(weight_ih, weight_hh, bias_ih or None, bias_hh or None) of one layer and direction."""
        ps = [getattr(self, n) for n in self._groups[layer * self.num_directions + direction]]
        return tuple(ps) if self.bias else (ps[0], ps[1], None, None)

    # ----------------------------------------------------------- validation
    def _prepare(self, x, hx, lengths, mask=None):
        name = type(self).__name__
        if not isinstance(x, mg.Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: input must be 3-D (T, B, I) / (B, T, I) or 2-D unbatched (T, I), "
                             f"got shape {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        t, b, i = x.shape
        if i != self.input_size:
            raise ValueError(f"{name}: input has {i} features (shape {x.shape}) but input_size={self.input_size}")
        n_states = 2 if self.mode == "LSTM" else 1
        if hx is not None and n_states == 2 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{name}: the initial state must be a tuple (h0, c0)")
        states = [None] * n_states if hx is None else (list(hx) if n_states == 2 else [hx])
        expect = (self.num_layers * self.num_directions, b, self.hidden_size)
        for k, s in enumerate(states):
            if s is None:
                continue
            label = ("h0", "c0")[k]
            s_shape = s.shape if not unbatched else (s.shape[0], 1) + s.shape[1:] if s.ndim == 2 else s.shape
            if s_shape != expect:
                want = expect if not unbatched else (expect[0], expect[2])
                raise ValueError(f"{name}: {label} must have shape {want}, got {s.shape}")
            states[k] = s.unsqueeze(1) if unbatched else s
        if lengths is not None:
            lengths = _check_lengths(name, lengths, b, t)
        if mask is not None:
            mask = _check_mask(name, mask, lengths, unbatched, self.batch_first, t, b)
        return x, states, lengths, mask, unbatched

    # ------------------------------------------------------------- forward
    def forward(self, x, hx=None, lengths=None, mask=None):
        """Run the layer (shapes and return values in the module docstring).

        With ``fused=False`` the layer also keeps ``self.step_states``: for every layer and
        direction (layer-major, direction-minor, as h_n) the list of its T hidden states
        h_t, each (B, H), in time order (B = 1 for unbatched input). They are the very
        tensors the next step reads, so a hook on one sees the whole gradient dL/dh_t,
        through the output and through the later steps:
        ``for t, h in enumerate(lstm.step_states[-1]): h.register_hook(...)``, then
        ``loss.backward()``. The fused path keeps no per-step tensors (None).
        """
        x, states, lengths, step_mask, unbatched = self._prepare(x, hx, lengths, mask)
        t, b, _ = x.shape
        zeros = mg.zeros(b, self.hidden_size, dtype=x.dtype, device=x.device)
        if step_mask is None and lengths is not None:
            step_mask = np.arange(t)[:, None] < lengths[None, :]
        mask = None if step_mask is None or self.fused else _step_masks(step_mask, x)
        self.step_states = None if self.fused else []
        finals = [[] for _ in states]
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                init = [zeros if s is None else s[k] for s in states]
                out, last = self._run_direction(layer_in, init, self.group(layer, d), d == 1, step_mask, mask)
                outs.append(out)
                for store, v in zip(finals, last):
                    store.append(v)
            layer_in = outs[0] if len(outs) == 1 else mg.cat(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = mg.dropout(layer_in, self.dropout)
        output = layer_in
        finals = [mg.stack(f, axis=0) for f in finals]
        if unbatched:
            output, finals = output.squeeze(1), [f.squeeze(1) for f in finals]
        elif self.batch_first:
            output = output.transpose(0, 1)
        if self.keras_style:
            return self._keras_result(output, finals, unbatched)
        return output, (tuple(finals) if self.mode == "LSTM" else finals[0])

    def _keras_result(self, output, finals, unbatched):
        """What ``return_sequences`` / ``return_state`` ask for (see the module docstring)."""
        if not self.return_sequences:
            # the last layer's final state per direction: for the forward direction the
            # output at the last (real) step, for the reverse one its output at step 0
            d = self.num_directions
            last = finals[0][-d:]  # (D, B, H), or (D, H) unbatched
            output = last[0] if d == 1 else mg.cat([last[0], last[1]], axis=-1)
        return (output, *finals) if self.return_state else output

    def _run_direction(self, x, init, params, reverse, step_mask, mask):
        """One layer, one direction: output (T, B, H) and the final state(s).

        The fused layer (``minigrad/ops/recurrent.py``: one graph node for the whole
        sequence, its kernels one path further) by default; ``fused=False`` runs the
        composed cells and keeps each step's output tensor in ``self.step_states`` (see
        ``forward``).
        """
        if self.fused:
            if self.mode == "LSTM":
                out, h_n, c_n = lstm_sequence(x, *params, *init, mask=step_mask, reverse=reverse)
                return out, [h_n, c_n]
            if self.mode == "GRU":
                out, h_n = gru_sequence(x, *params, *init, mask=step_mask, reverse=reverse)
            else:
                out, h_n = rnn_sequence(x, *params, *init, mask=step_mask, reverse=reverse,
                                        nonlinearity=self.nonlinearity)
            return out, [h_n]
        return composed_direction(self.mode, x, init, params, reverse, mask, self.nonlinearity,
                                  record=self.step_states)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for attr, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, attr) != default:
                s += f", {attr}={getattr(self, attr)}"
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if self.keras_style:
            s += f", return_sequences={self.return_sequences}, return_state={self.return_state}"
        return s


def composed_direction(mode, x, init, params, reverse, mask, nonlinearity="tanh", record=None,
                       recurrent_mask=None):
    """The reference recurrence from cell steps, one graph node per op and step.

    x (T, B, I); init: [h0] or [h0, c0], each (B, H); mask: (T, B, 1) booleans or None.
    The input projection W_ih x + b_ih is done for all steps in one matmul, as in the
    fused kernels; only the recurrent part runs step by step. ``record``: a list to
    which the T hidden states h_t (B, H) after each step, in time order, are appended as
    one list (past a sequence's end: its carried state). ``recurrent_mask`` (B, H): h is
    multiplied by it before every W_hh product (recurrent dropout: one mask for the
    whole sequence); the state itself is not.
    """
    w_ih, w_hh, b_ih, b_hh = params
    t_steps = x.shape[0]
    gi_all = mg.linear(x, w_ih, b_ih)  # (T, B, G*H)
    state = list(init)
    outs, hs = [None] * t_steps, [None] * t_steps
    order = range(t_steps - 1, -1, -1) if reverse else range(t_steps)
    for t in order:
        gi = gi_all[t]
        h_rec = None if recurrent_mask is None else state[0] * recurrent_mask
        if mode == "LSTM":
            new = list(lstm_step(gi, state[0], state[1], w_hh, b_hh, h_rec))
        elif mode == "GRU":
            new = [gru_step(gi, state[0], w_hh, b_hh, h_rec)]
        else:
            new = [rnn_step(gi, state[0], w_hh, b_hh, nonlinearity, h_rec)]
        if mask is not None:
            # Past a sequence's end the state is carried unchanged and the output is 0;
            # `where` routes no gradient into the discarded step.
            m = mask[t]
            new = [mg.where(m, n, s) for n, s in zip(new, state)]
            outs[t] = mg.where(m, new[0], 0.0)
        else:
            outs[t] = new[0]
        state = hs[t] = new
    if record is not None:
        record.append([h[0] for h in hs])
    return mg.stack(outs, axis=0), state


def _check_lengths(name, lengths, batch, steps):
    arr = lengths.numpy() if isinstance(lengths, mg.Tensor) else np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: lengths must be integers, got dtype {arr.dtype}")
    if arr.shape != (batch,):
        raise ValueError(f"{name}: lengths must have shape ({batch},) for a batch of {batch}, got {arr.shape}")
    if batch and (arr.min() < 1 or arr.max() > steps):
        bad = int(arr.min() if arr.min() < 1 else arr.max())
        raise ValueError(f"{name}: every length must be in [1, {steps}] (the padded length), got {bad}")
    return arr.astype(np.int64)


def _check_mask(name, mask, lengths, unbatched, batch_first, steps, batch):
    """The (T, B) numpy bool array of a ``mask`` given in the input's layout."""
    if lengths is not None:
        raise ValueError(f"{name}: give lengths or mask, not both")
    m = mask.numpy() if isinstance(mask, mg.Tensor) else np.asarray(mask)
    want = (steps,) if unbatched else (batch, steps) if batch_first else (steps, batch)
    if m.shape != want:
        layout = "(T,) for unbatched input" if unbatched else "(B, T) with batch_first" if batch_first else "(T, B)"
        raise ValueError(f"{name}: mask must have shape {want}, {layout} like the input, got {m.shape}")
    if m.dtype != np.bool_:
        if m.dtype.kind not in "biu" or not np.isin(m, (0, 1)).all():
            raise TypeError(f"{name}: mask must be booleans (False at padded steps), got dtype {m.dtype}")
        m = m.astype(bool)
    m = m.reshape(steps, 1) if unbatched else m.T if batch_first else m
    return np.ascontiguousarray(m)


def _step_masks(step_mask, like):
    """(T, B, 1) boolean tensor from a (T, B) array: True where step t of sequence b is real."""
    return mg.tensor(step_mask[:, :, None], device=like.device)


class RNN(_RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu.

    ``out, h_n = rnn(x, h0=None, lengths=None)``; see the module docstring for shapes.
    """

    mode = "RNN"


class LSTM(_RNNBase):
    """LSTM layer (gates i, f, g, o as in ``rnn.LSTMCell``).

    ``out, (h_n, c_n) = lstm(x, (h0, c0)=None, lengths=None)``.
    """

    mode = "LSTM"


class GRU(_RNNBase):
    """GRU layer (gates r, z, n as in ``rnn.GRUCell``).

    ``out, h_n = gru(x, h0=None, lengths=None)``.
    """

    mode = "GRU"


__all__ = ["RNN", "LSTM", "GRU", "GATES"]
