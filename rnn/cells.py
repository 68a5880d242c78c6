"""RNNCell, LSTMCell, GRUCell: one time step, built from minigrad ops.

These are the readable reference: every line is an equation, autograd derives the
backward. The layers in ``layers.py`` run whole sequences through fused kernels and
are tested against these cells.

Shapes: x (B, I) or (I,) unbatched; h, c (B, H) or (H,). Notation as in the tutorials:
W_x* = weight_ih blocks, W_h* = weight_hh blocks, b = bias_ih + bias_hh.
"""
import minigrad as mg
from minigrad import nn

from .params import init_params, make_params


# One time step given the input projection gi = W_ih x + b_ih (B, G*H). The cells
# below and the composed (unfused) layers share these, so there is one statement of
# each recurrence in the code base. A gated step is its gates, then the state update,
# as two functions: ``rnn.inspect`` reads the gates through the same code. ``h_rec``:
# what multiplies W_hh when it is not h itself (h with recurrent dropout applied,
# Keras's ``recurrent_dropout``).
def rnn_step(gi, h, w_hh, b_hh, nonlinearity="tanh", h_rec=None):
    pre = gi + mg.linear(h if h_rec is None else h_rec, w_hh, b_hh)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(gi, h, c, w_hh, b_hh, h_rec=None):
    return lstm_update(lstm_gates(gi, h, w_hh, b_hh, h_rec), c)


def lstm_gates(gi, h, w_hh, b_hh, h_rec=None):
    """The activated gates (i, f, g, o), each (B, H): sigmoid, sigmoid, tanh, sigmoid."""
    i, f, g, o = (gi + mg.linear(h if h_rec is None else h_rec, w_hh, b_hh)).chunk(4, axis=-1)
    return i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()


def lstm_update(gates, c):
    """(h', c') from the gates and the previous cell state."""
    i, f, g, o = gates
    c_new = f * c + i * g
    return o * c_new.tanh(), c_new


def gru_step(gi, h, w_hh, b_hh, h_rec=None):
    return gru_update(gru_gates(gi, h, w_hh, b_hh, h_rec), h)


def gru_gates(gi, h, w_hh, b_hh, h_rec=None):
    """The reset and update gates and the candidate (r, z, n), each (B, H)."""
    i_r, i_z, i_n = gi.chunk(3, axis=-1)
    h_r, h_z, h_n = mg.linear(h if h_rec is None else h_rec, w_hh, b_hh).chunk(3, axis=-1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return r, z, n


def gru_update(gates, h):
    """h' from the gates and the previous state."""
    r, z, n = gates
    return (1 - z) * n + z * h


class _CellBase(nn.Module):
    mode = None

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, init="uniform", forget_bias=None):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, got {v!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self._names = make_params(self, self.mode, input_size, hidden_size, bias, dtype)
        self._init, self._forget_bias = init, forget_bias
        self.reset_parameters()

    def reset_parameters(self):
        init_params([getattr(self, n) for n in self._names], self.mode, self.hidden_size, self._init,
                    self._forget_bias)

    def _check(self, x, states):
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input must be (batch, {self.input_size}) or ({self.input_size},), "
                             f"got shape {x.shape}")
        expect = x.shape[:-1] + (self.hidden_size,)
        for label, s in states:
            if s is not None and s.shape != expect:
                raise ValueError(f"{name}: {label} must have shape {expect} for input {x.shape}, got {s.shape}")

    def _zeros(self, x):
        return mg.zeros(x.shape[:-1] + (self.hidden_size,), dtype=x.dtype, device=x.device)

    def _gi(self, x):
        """The input projection W_ih x + b_ih, (B, G*H)."""
        return mg.linear(x, self.weight_ih, self.bias_ih if self.bias else None)

    @property
    def _hh(self):
        return self.weight_hh, (self.bias_hh if self.bias else None)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh (default) or relu."""

    mode = "RNN"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None, init="uniform"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype, init)

    def forward(self, x, h=None):
        self._check(x, [("h", h)])
        h = self._zeros(x) if h is None else h
        return rnn_step(self._gi(x), h, *self._hh, self.nonlinearity)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else ", nonlinearity='relu'")


class LSTMCell(_CellBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), gates in PyTorch's order i, f, g, o:

        i = sigma(W_ii x + b_ii + W_hi h + b_hi)      input gate
        f = sigma(W_if x + b_if + W_hf h + b_hf)      forget gate
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)       candidate cell
        o = sigma(W_io x + b_io + W_ho h + b_ho)      output gate
        c' = f * c + i * g
        h' = o * tanh(c')
    """

    mode = "LSTM"

    def forward(self, x, state=None):
        h, c = (None, None) if state is None else state
        self._check(x, [("h", h), ("c", c)])
        h = self._zeros(x) if h is None else h
        c = self._zeros(x) if c is None else c
        return lstm_step(self._gi(x), h, c, *self._hh)


class GRUCell(_CellBase):
    """Gated recurrent unit (Cho et al. 2014), gates in PyTorch's order r, z, n:

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)          reset gate
        z = sigma(W_iz x + b_iz + W_hz h + b_hz)          update gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))     candidate (r applied to W_hn h + b_hn)
        h' = (1 - z) * n + z * h
    """

    mode = "GRU"

    def forward(self, x, h=None):
        self._check(x, [("h", h)])
        h = self._zeros(x) if h is None else h
        return gru_step(self._gi(x), h, *self._hh)
