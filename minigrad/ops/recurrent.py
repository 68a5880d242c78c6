"""Fused recurrent layers: one layer and direction over a whole sequence as ONE autograd node.

Run step by step from cells (``rnn/cells.py``), a T-step sequence records several graph
nodes per step, and autograd walks them all back. Here the whole sequence is one
Function with three outputs, ``(out, h_n)`` or, for an LSTM, ``(out, h_n, c_n)``:

forward
  1. gi = x @ W_ih^T for all T steps in one matmul, (T*B, I) x (I, G*H): the input
     projection does not depend on the recurrence, so it is batched over time;
  2. the recurrence through W_hh in one backend kernel (``k.lstm_forward`` ...), which
     adds the biases b_ih and b_hh as it goes and returns the outputs and exactly what
     backward needs;
backward
  3. the reverse recurrence (BPTT) in one kernel (``k.lstm_backward`` ...), giving the
     gradient of gi at every step plus dW_hh, db_hh, dh0 (, dc0);
  4. dx = d_gi @ W_ih and dW_ih = d_gi^T x in one matmul each, db_ih = sum of d_gi
     (for an RNN or LSTM that sum is db_hh: both biases enter the same pre-activation).

G is the number of gate blocks: 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n).
Where the kernels are, by path:

* the contract (shapes, what is saved, mask and reverse): ``backends/kernel_set.py``;
* by hand, equations and BPTT step by step, written once with the required kernels:
  ``backends/reference/recurrent.py`` (what the numpy backend runs, and any backend
  without recurrent kernels of its own);
* compiled loops: ``backends/loops/recurrent.py`` (numba, and the same source interpreted
  by "python") and ``backends/cython/recurrent.pyx``, behind the shape checks of
  ``backends/wrappers/recurrent.py``.
"""
import numpy as np

from ..autograd import Function
from ..tensor import Tensor

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


class _FusedRecurrence(Function):
    """The shared Function; FusedRNN / FusedLSTM / FusedGRU pick the mode.

    Positional inputs (tensors only): x (T, B, I), w_ih (G*H, I), w_hh (G*H, H), then
    b_ih, b_hh (G*H,) each if present, h0 (B, H), and c0 (B, H) for an LSTM.
    """

    mode = None

    @classmethod
    def apply(cls, x, w_ih, w_hh, b_ih, b_hh, h0, c0=None, *, mask=None, reverse=False, relu=False):
        """Run the layer: returns (out, h_n) or, for an LSTM, (out, h_n, c_n).

        ``mask``: None (every step real) or a (T, B) bool numpy array, False on padding;
        ``reverse``: process t = T-1 .. 0; ``relu``: RNN only, relu instead of tanh.
        b_ih / b_hh may be None (bias=False).
        """
        states = [h0, c0] if cls.mode == "LSTM" else [h0]
        _check(cls, x, w_ih, w_hh, b_ih, b_hh, states, mask)
        tensors = [x, w_ih, w_hh] + [b for b in (b_ih, b_hh) if b is not None] + states
        has_b = (b_ih is not None, b_hh is not None)
        return super().apply(*tensors, mask=mask, reverse=bool(reverse), relu=bool(relu), has_b=has_b)

    # -------------------------------------------------------------- forward
    def forward(self, x, w_ih, w_hh, *rest, mask, reverse, relu, has_b):
        k = self.k
        rest = list(rest)
        b_ih = rest.pop(0) if has_b[0] else None
        b_hh = rest.pop(0) if has_b[1] else None
        states = rest  # [h0] or [h0, c0]
        steps, batch, n_in = x.shape
        # 1. the input projection of every step in one matmul
        x2 = k.reshape(x, (steps * batch, n_in))
        gi = k.matmul(x2, k.transpose(w_ih, (1, 0)))
        gi = k.reshape(gi, (steps, batch, gi.shape[-1]))
        # 2. the recurrence in one kernel, biases included; keep what backward needs
        if self.mode == "RNN":
            out, hs = k.rnn_forward(gi, w_hh, b_ih, b_hh, states[0], mask, reverse, relu)
            saved, finals = (hs,), (k.getitem(hs, steps),)
        elif self.mode == "LSTM":
            out, hs, cs, gates = k.lstm_forward(gi, w_hh, b_ih, b_hh, states[0], states[1], mask, reverse)
            saved, finals = (gates, hs, cs), (k.getitem(hs, steps), k.getitem(cs, steps))
        else:
            out, hs, gates, hn = k.gru_forward(gi, w_hh, b_ih, b_hh, states[0], mask, reverse)
            saved, finals = (gates, hn, hs), (k.getitem(hs, steps),)
        self.saved = (x2, w_ih, w_hh, saved, mask, reverse, relu, has_b, x.shape)
        return (out,) + finals

    # ------------------------------------------------------------- backward
    def backward(self, d_out, d_hn, d_cn=None):
        """d_out (T, B, H) and d_hn, d_cn (B, H); any of them None when no gradient reached it."""
        k = self.k
        x2, w_ih, w_hh, saved, mask, reverse, relu, has_b, x_shape = self.saved
        # 3. BPTT: the reverse recurrence in one kernel
        if self.mode == "RNN":
            d_gi, d_w_hh, d_b_hh, d_h0 = k.rnn_backward(*saved, w_hh, mask, reverse, relu, d_out, d_hn)
            d_states = [d_h0]
        elif self.mode == "LSTM":
            d_gi, d_w_hh, d_b_hh, d_h0, d_c0 = k.lstm_backward(*saved, w_hh, mask, reverse, d_out, d_hn, d_cn)
            d_states = [d_h0, d_c0]
        else:
            d_gi, d_w_hh, d_b_hh, d_h0 = k.gru_backward(*saved, w_hh, mask, reverse, d_out, d_hn)
            d_states = [d_h0]
        # 4. the input weights: one matmul each for dx and dW_ih, a sum for db_ih
        need = iter(self.needs_input_grad)
        d_gi2 = k.reshape(d_gi, (x2.shape[0], d_gi.shape[-1]))  # (T*B, G*H)
        dx = k.reshape(k.matmul(d_gi2, w_ih), x_shape) if next(need) else None
        d_w_ih = k.matmul(k.transpose(d_gi2, (1, 0)), x2) if next(need) else None
        grads = [dx, d_w_ih, d_w_hh if next(need) else None]
        if has_b[0]:
            if not next(need):
                grads.append(None)
            elif self.mode == "GRU":  # b_in sits outside r * (W_hn h + b_hn): its own sum
                grads.append(k.sum(d_gi2, (0,), False))
            else:
                grads.append(d_b_hh)
        if has_b[1]:
            grads.append(d_b_hh if next(need) else None)
        grads += [d if next(need) else None for d in d_states]
        return tuple(grads)


class FusedRNN(_FusedRecurrence):
    """Elman RNN layer, one direction: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    mode = "RNN"


class FusedLSTM(_FusedRecurrence):
    """LSTM layer, one direction (gates i, f, g, o); ``apply(..., h0, c0)`` -> (out, h_n, c_n)."""

    mode = "LSTM"


class FusedGRU(_FusedRecurrence):
    """GRU layer, one direction (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)))."""

    mode = "GRU"


# ------------------------------------------------------------ functional forms
def rnn_sequence(x, w_ih, w_hh, b_ih, b_hh, h0, *, lengths=None, mask=None, reverse=False, nonlinearity="tanh"):
    """One Elman RNN layer and direction over a whole sequence, fused: returns (out, h_n).

    x (T, B, I); w_ih (H, I); w_hh (H, H); b_ih, b_hh (H,) or None; h0 (B, H).
    ``lengths`` (B,) ints in [1, T]: sequence b is steps 0..lengths[b]-1 of a padded batch.
    Or ``mask`` (T, B) booleans, any pattern (Keras's masks: pre- or post-padding): False
    marks a padded step. At a padded step the output is 0 and the state is carried, so it
    changes nothing. ``reverse`` runs t = T-1 .. 0.
    out (T, B, H) = h_t at every step; h_n (B, H) = the state after the last real step.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_sequence: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return FusedRNN.apply(x, w_ih, w_hh, b_ih, b_hh, h0, mask=_mask(x, lengths, mask, "rnn_sequence"),
                          reverse=reverse, relu=nonlinearity == "relu")


def lstm_sequence(x, w_ih, w_hh, b_ih, b_hh, h0, c0, *, lengths=None, mask=None, reverse=False):
    """One LSTM layer and direction over a whole sequence, fused: returns (out, h_n, c_n).

    As ``rnn_sequence`` with 4H gate rows (i, f, g, o) and the cell state c0 (B, H).
    """
    return FusedLSTM.apply(x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask=_mask(x, lengths, mask, "lstm_sequence"),
                           reverse=reverse)


def gru_sequence(x, w_ih, w_hh, b_ih, b_hh, h0, *, lengths=None, mask=None, reverse=False):
    """One GRU layer and direction over a whole sequence, fused: returns (out, h_n).

    As ``rnn_sequence`` with 3H gate rows (r, z, n).
    """
    return FusedGRU.apply(x, w_ih, w_hh, b_ih, b_hh, h0, mask=_mask(x, lengths, mask, "gru_sequence"),
                          reverse=reverse)


def _mask(x, lengths, mask=None, op="recurrent layer"):
    """(T, B) bool host array, True at real steps; None when there is no padding at all."""
    if mask is not None:
        if lengths is not None:
            raise ValueError(f"{op}: give lengths or mask, not both")
        m = mask.numpy() if isinstance(mask, Tensor) else np.asarray(mask)
        if m.shape != tuple(x.shape[:2]):
            raise ValueError(f"{op}: mask must have shape (T, B) = {tuple(x.shape[:2])} like the input's first "
                             f"two axes, got {m.shape}")
        if m.dtype != np.bool_:
            if m.dtype.kind not in "biu" or not np.isin(m, (0, 1)).all():
                raise ValueError(f"{op}: mask must be booleans (True at real steps), got {m.dtype}")
            m = m.astype(bool)
        return None if m.all() else np.ascontiguousarray(m)
    if lengths is None:
        return None
    n = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    if n.dtype.kind not in "iu" or n.shape != (x.shape[1],):
        raise ValueError(f"lengths must be {x.shape[1]} integers (one per sequence of the batch), "
                         f"got {n.dtype} {n.shape}")
    steps = x.shape[0]
    if n.size and (n.min() < 1 or n.max() > steps):
        raise ValueError(f"every length must be in [1, {steps}] (the padded length), got "
                         f"{int(n.min() if n.min() < 1 else n.max())}")
    if n.size == 0 or n.min() == steps:
        return None  # no padding: the unmasked kernels
    return np.arange(steps)[:, None] < n[None, :]


def _check(cls, x, w_ih, w_hh, b_ih, b_hh, states, mask):
    """Clear errors for inputs the kernels would otherwise misread."""
    name = cls.__name__
    if x.ndim != 3:
        raise ValueError(f"{name}: x must be (T, B, I), got shape {x.shape}")
    steps, batch, n_in = x.shape
    hidden = w_hh.shape[-1]
    gh = GATES[cls.mode] * hidden
    expect = {"w_ih": (w_ih, (gh, n_in)), "w_hh": (w_hh, (gh, hidden)), "b_ih": (b_ih, (gh,)),
              "b_hh": (b_hh, (gh,)), "h0": (states[0], (batch, hidden))}
    if cls.mode == "LSTM":
        expect["c0"] = (states[1], (batch, hidden))
    for label, (t, shape) in expect.items():
        if t is None and label in ("b_ih", "b_hh"):
            continue
        if t is None or t.shape != shape:
            raise ValueError(f"{name}: {label} must have shape {shape}, got {None if t is None else t.shape}")
        if t.dtype != x.dtype:
            raise TypeError(f"{name}: {label} has dtype {t.dtype} but the input has {x.dtype}; cast one "
                            "(x.float(), x.double(), or the module's .float() / .double())")
    if mask is not None and (getattr(mask, "shape", None) != (steps, batch) or mask.dtype != np.bool_):
        raise ValueError(f"{name}: mask must be a (T, B) = {(steps, batch)} bool array, got "
                         f"{getattr(mask, 'dtype', None)} {getattr(mask, 'shape', None)}")
