"""Fused recurrent layers: one autograd Function per layer and direction, a whole sequence.

The composed path (``rnn.layers.composed_direction``) records a graph node for every op
of every step, and autograd walks them all back. Here the whole sequence is ONE node:

forward
  1. gi = x @ W_ih^T for all T steps in one matmul, (T*B, I) x (I, G*H): the input
     projection does not depend on the recurrence, so it is batched over time;
  2. the recurrence through W_hh in one backend kernel (``k.lstm_forward`` ...: numpy's
     reference in ``minigrad/backends/numpy_recurrent.py``, compiled loops in the other
     backends), which adds the biases b_ih and b_hh as it goes and returns the outputs
     and exactly what backward needs;
backward
  3. the reverse recurrence (BPTT) in one kernel (``k.lstm_backward`` ...), giving the
     gradient of gi at every step plus dW_hh, db_hh, dh0 (, dc0);
  4. dx = d_gi @ W_ih and dW_ih = d_gi^T x in one matmul each, db_ih = sum of d_gi
     (for an RNN or LSTM that sum is db_hh: both biases enter the same pre-activation).

The kernels' contract (shapes, what is saved) is ``rnn/fused/CONTRACT.md``.

One Function, several outputs. A minigrad Function returns one array, but a layer needs
out (T, B, H), h_n (B, H) and for an LSTM c_n (B, H). So the Function returns them packed
along the time axis, ``packed = [out_0 .. out_{T-1}, h_n(, c_n)]`` of shape (T+S, B, H)
(the forward kernel writes its outputs straight into that layout), and ``apply`` slices it: ``packed[:T]``, ``packed[T]``, ``packed[T+1]``. Slicing is an
ordinary differentiable op, so autograd adds the gradients of the three slices back into
one (T+S, B, H) gradient, and backward reads d_out, d_hn, d_cn straight out of it.
"""
import numpy as np

import minigrad as mg
from minigrad.autograd import Function
from rnn.params import GATES


class _FusedRecurrence(Function):
    """The shared Function; FusedRNN / FusedLSTM / FusedGRU pick the mode.

    Positional inputs (tensors only): x (T, B, I), w_ih (G*H, I), w_hh (G*H, H), then
    b_ih, b_hh (G*H,) each if present, h0 (B, H), and c0 (B, H) for an LSTM.
    """

    mode = None

    @classmethod
    def apply(cls, x, w_ih, w_hh, b_ih, b_hh, h0, c0=None, *, mask=None, reverse=False, relu=False):
        """Run the layer: returns (out, h_n) or, for an LSTM, (out, h_n, c_n).

        ``mask``: None (every step real) or a (T, B) bool array, False on padding;
        ``reverse``: process t = T-1 .. 0; ``relu``: RNN only, relu instead of tanh.
        b_ih / b_hh may be None (bias=False).
        """
        has_b = (b_ih is not None, b_hh is not None)
        states = [h0, c0] if cls.mode == "LSTM" else [h0]
        _check(cls, x, w_ih, w_hh, b_ih, b_hh, states, mask)
        tensors = [x, w_ih, w_hh] + [b for b in (b_ih, b_hh) if b is not None] + states
        packed = super().apply(*tensors, mask=mask, reverse=bool(reverse), relu=bool(relu), has_b=has_b)
        steps = x.shape[0]
        return (packed[:steps],) + tuple(packed[steps + s] for s in range(len(states)))

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
            packed, hs = k.rnn_forward(gi, w_hh, b_ih, b_hh, states[0], mask, reverse, relu)
            saved = (hs,)
        elif self.mode == "LSTM":
            packed, hs, cs, gates = k.lstm_forward(gi, w_hh, b_ih, b_hh, states[0], states[1], mask, reverse)
            saved = (gates, hs, cs)
        else:
            packed, hs, gates, hn = k.gru_forward(gi, w_hh, b_ih, b_hh, states[0], mask, reverse)
            saved = (gates, hn, hs)
        self.saved = (x2, w_ih, w_hh, saved, mask, reverse, relu, has_b, x.shape)
        return packed

    # ------------------------------------------------------------- backward
    def backward(self, g):
        k = self.k
        x2, w_ih, w_hh, saved, mask, reverse, relu, has_b, x_shape = self.saved
        steps = x_shape[0]
        d_out, d_final = g[:steps], [g[steps + s] for s in range(g.shape[0] - steps)]
        # 3. BPTT: the reverse recurrence in one kernel
        if self.mode == "RNN":
            d_gi, d_w_hh, d_b_hh, d_h0 = k.rnn_backward(*saved, w_hh, mask, reverse, relu, d_out, d_final[0])
            d_states = [d_h0]
        elif self.mode == "LSTM":
            d_gi, d_w_hh, d_b_hh, d_h0, d_c0 = k.lstm_backward(*saved, w_hh, mask, reverse, d_out, *d_final)
            d_states = [d_h0, d_c0]
        else:
            d_gi, d_w_hh, d_b_hh, d_h0 = k.gru_backward(*saved, w_hh, mask, reverse, d_out, d_final[0])
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


FUSED = {"RNN": FusedRNN, "LSTM": FusedLSTM, "GRU": FusedGRU}


def fused_direction(mode, x, init, params, reverse, mask, nonlinearity="tanh"):
    """Drop-in for ``composed_direction``: one layer, one direction, through the fused Function.

    x (T, B, I); init [h0] or [h0, c0], each (B, H); params (w_ih, w_hh, b_ih, b_hh);
    mask None or the layer's (T, B, 1) boolean tensor (a (T, B) bool array also works).
    Returns (out (T, B, H), [h_n] or [h_n, c_n]).
    """
    if mask is not None:
        m = mask.numpy() if isinstance(mask, mg.Tensor) else np.asarray(mask)
        m = np.ascontiguousarray(m.reshape(x.shape[:2]), dtype=bool)
        mask = None if m.all() else m  # no padding at all: the unmasked kernels
    out, *finals = FUSED[mode].apply(x, *params, *init, mask=mask, reverse=reverse, relu=nonlinearity == "relu")
    return out, finals


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
    if mask is not None and (mask.shape != (steps, batch) or mask.dtype != np.bool_):
        raise ValueError(f"{name}: mask must be a (T, B) = {(steps, batch)} bool array, got "
                         f"{getattr(mask, 'dtype', None)} {getattr(mask, 'shape', None)}")
