"""Recurrent sequence kernels, numpy reference: one layer, one direction, a whole sequence.

The contract (shapes, saved arrays, indexing) is ``rnn/fused/CONTRACT.md``; the autograd
Function that calls these kernels is ``rnn/fused/function.py``. It has already done the
input projection for every step at once, ``gi[t] = W_ih x_t + b_ih`` (T, B, G*H), so a
kernel only runs the part that cannot be batched over time: the recurrence through
``W_hh``. Each step is vectorised over the batch; the loop over time stays in Python
(this is the readable reference the compiled loop kernels are tested against).

Conventions shared by every kernel here:

* ``order`` is the processing order: t = 0..T-1, or T-1..0 when ``reverse``. The k-th
  processed step is ``t = order[k]``; ``hs[k]`` (and ``cs[k]``) is the state *before* it,
  ``hs[k + 1]`` the state after it, so ``hs[T]`` is always the final state h_n.
* per-step arrays (``out``, ``gates``, ``hn``, ``d_gi``) are indexed by time t.
* ``mask[t, b]`` False means step t is padding for sequence b: its state is carried
  unchanged (h_new = h) and its output is 0. In backward the gradient of a carried
  state passes straight through to the previous state, and the step's gates get none.
* the recurrent weight gradient is one matmul over all steps at the end:
  ``dW_hh = sum_t d_gh_t^T h_prev_t`` with d_gh the gradient of ``W_hh h + b_hh``.
"""
import numpy as np


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5  # as NumpyBackend.sigmoid: exact, never overflows


def _blocks(a, n):
    """The n gate blocks of a (B, n*H) array, as views: e.g. i, f, g, o = _blocks(gates[t], 4)."""
    h = a.shape[-1] // n
    return [a[:, j * h:(j + 1) * h] for j in range(n)]


def _order(steps, reverse):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _keep(mask, t):
    """(B, 1) booleans of step t (True = real step), or None when every step is real."""
    return None if mask is None else mask[t][:, None]


def _prev_states(hs, reverse):
    """h_{prev} of every step, indexed by time t: hs[k] belongs to step t = order[k]."""
    steps = hs.shape[0] - 1
    return hs[:steps][::-1] if reverse else hs[:steps]


def _bias(b_ih, b_hh, size, dtype):
    """b_ih + b_hh: an RNN or LSTM adds both to the same pre-activation (either may be None)."""
    b = np.zeros(size, dtype)
    for v in (b_ih, b_hh):
        if v is not None:
            b += v
    return b


def _upstream(hs, d_out, *d_finals):
    """d_out (T, B, H) and the final states' gradients, zeros where None (no gradient arrived)."""
    T, shape = hs.shape[0] - 1, hs.shape[1:]
    d_out = np.zeros((T,) + shape, hs.dtype) if d_out is None else d_out
    return (d_out,) + tuple(np.zeros(shape, hs.dtype) if d is None else d for d in d_finals)


def _hh_grads(d_gh, hs, reverse):
    """d_w_hh = sum over steps and batch of d_gh^T h_prev (one matmul); d_b_hh = sum of d_gh."""
    g = d_gh.reshape(-1, d_gh.shape[-1])
    h_prev = _prev_states(hs, reverse).reshape(-1, hs.shape[-1])
    return g.T @ h_prev, g.sum(axis=0)


class RecurrentReference:
    """Mixin of the six recurrent kernels (numpy reference); NumpyBackend includes it."""

    # ------------------------------------------------------------------ Elman RNN
    @staticmethod
    def rnn_forward(gi, w_hh, b_ih, b_hh, h0, mask, reverse, relu):
        """h_t = act(gi_t + b_ih + W_hh h_{t-1} + b_hh), act = relu if ``relu`` else tanh.

        gi (T, B, H) = x_t W_ih^T. Returns packed (T+1, B, H) = [out, h_n] and hs
        (T+1, B, H) (see the module docstring).
        """
        bias = _bias(b_ih, b_hh, w_hh.shape[0], gi.dtype)
        steps = gi.shape[0]
        hs = np.empty((steps + 1,) + h0.shape, dtype=gi.dtype)
        out = np.empty(gi.shape[:2] + h0.shape[-1:], dtype=gi.dtype)
        hs[0] = h0
        for k, t in enumerate(_order(steps, reverse)):
            h = hs[k]
            pre = gi[t] + h @ w_hh.T + bias
            h_new = np.maximum(pre, 0) if relu else np.tanh(pre)
            keep = _keep(mask, t)
            if keep is None:
                hs[k + 1] = out[t] = h_new
            else:
                hs[k + 1] = np.where(keep, h_new, h)
                out[t] = np.where(keep, h_new, 0)
        return out, hs

    @staticmethod
    def rnn_backward(hs, w_hh, mask, reverse, relu, d_out, d_hn):
        """Backpropagation through time for ``rnn_forward``.

        Walking the steps backwards, ``dh`` is dL/dh_k, the gradient reaching the state
        after the k-th step from everything later (it starts as d_hn, the gradient of h_n):
          1. the step's new state also produced out[t], so   dh_new = dh + d_out[t]
          2. through the activation (y = h_new = hs[k+1]):
                 d_pre = dh_new * (1 - y^2)   (tanh)   or   dh_new * [y > 0]   (relu)
             d_pre is the gradient of gi[t] and of W_hh h_prev + b_hh alike
          3. to the previous state:                          dh = d_pre @ W_hh
        A padded step computed nothing: d_pre = 0 there, and dh passes through unchanged.
        """
        steps = hs.shape[0] - 1
        d_out, d_hn = _upstream(hs, d_out, d_hn)
        d_gi = np.zeros(d_out.shape, dtype=d_out.dtype)
        dh = np.array(d_hn, dtype=d_out.dtype)
        for k in reversed(range(steps)):
            t = _order(steps, reverse)[k]
            keep = _keep(mask, t)
            dh_new = dh + d_out[t]                                # 1.
            y = hs[k + 1]
            d_pre = dh_new * (y > 0) if relu else dh_new * (1 - y * y)   # 2.
            if keep is not None:
                d_pre = np.where(keep, d_pre, 0)
            d_gi[t] = d_pre
            dh_prev = d_pre @ w_hh                                # 3.
            dh = dh_prev if keep is None else np.where(keep, dh_prev, dh)
        d_w_hh, d_b_hh = _hh_grads(d_gi, hs, reverse)
        return d_gi, d_w_hh, d_b_hh, dh

    # ----------------------------------------------------------------------- LSTM
    @staticmethod
    def lstm_forward(gi, w_hh, b_ih, b_hh, h0, c0, mask, reverse):
        """LSTM over a sequence, gates in PyTorch's order i, f, g, o:

            [a_i, a_f, a_g, a_o] = gi_t + b_ih + W_hh h_{t-1} + b_hh     (gi_t = x_t W_ih^T)
            i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
            c_t = f * c_{t-1} + i * g
            h_t = o * tanh(c_t)

        Returns packed (T+2,B,H) = [out, h_n, c_n], hs and cs (T+1,B,H), gates (T,B,4H) =
        activated i, f, g, o.
        """
        bias = _bias(b_ih, b_hh, w_hh.shape[0], gi.dtype)
        steps, hidden = gi.shape[0], h0.shape[-1]
        hs = np.empty((steps + 1,) + h0.shape, dtype=gi.dtype)
        cs = np.empty_like(hs)
        out = np.empty(gi.shape[:2] + (hidden,), dtype=gi.dtype)
        gates = np.empty_like(gi)
        hs[0], cs[0] = h0, c0
        for k, t in enumerate(_order(steps, reverse)):
            h, c = hs[k], cs[k]
            a = gi[t] + h @ w_hh.T + bias
            act = gates[t]  # a view: activate in place, block by block
            act[:, :2 * hidden] = _sigmoid(a[:, :2 * hidden])           # i, f
            act[:, 2 * hidden:3 * hidden] = np.tanh(a[:, 2 * hidden:3 * hidden])  # g
            act[:, 3 * hidden:] = _sigmoid(a[:, 3 * hidden:])           # o
            i, f, g, o = _blocks(act, 4)
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
            keep = _keep(mask, t)
            if keep is None:
                hs[k + 1] = out[t] = h_new
                cs[k + 1] = c_new
            else:
                hs[k + 1] = np.where(keep, h_new, h)
                cs[k + 1] = np.where(keep, c_new, c)
                out[t] = np.where(keep, h_new, 0)
        return out, hs, cs, gates

    @staticmethod
    def lstm_backward(gates, hs, cs, w_hh, mask, reverse, d_out, d_hn, d_cn):
        """Backpropagation through time for ``lstm_forward``.

        Two gradients flow backwards from step to step: ``dh`` (dL/dh_k) and ``dc``
        (dL/dc_k); they start as d_hn and d_cn. At the k-th step (time t):
          1. h_new also produced out[t]:                  dh_new = dh + d_out[t]
          2. h_new = o * tanh(c_new):                     d_o = dh_new * tanh(c_new)
             and c_new feeds h_new as well as the next step's cell:
                                                          dc_new = dc + dh_new * o * (1 - tanh(c_new)^2)
          3. c_new = f * c_prev + i * g:                  d_i = dc_new * g,  d_g = dc_new * i,
                                                          d_f = dc_new * c_prev
             and the cell gradient carries on through f:  dc = dc_new * f
          4. through the gate activations (sigma' = s (1 - s), tanh' = 1 - t^2) to the
             pre-activations d_a = [d_a_i, d_a_f, d_a_g, d_a_o]: the gradient of gi[t]
             and of W_hh h_prev + b_hh
          5. to the previous hidden state:                dh = d_a @ W_hh
        A padded step computed nothing: d_a = 0 there, and dh, dc pass through unchanged.
        """
        steps, hidden = hs.shape[0] - 1, hs.shape[-1]
        d_out, d_hn, d_cn = _upstream(hs, d_out, d_hn, d_cn)
        d_gi = np.zeros(gates.shape, dtype=d_out.dtype)
        dh = np.array(d_hn, dtype=d_out.dtype)
        dc = np.array(d_cn, dtype=d_out.dtype)
        for k in reversed(range(steps)):
            t = _order(steps, reverse)[k]
            keep = _keep(mask, t)
            i, f, g, o = _blocks(gates[t], 4)
            tanh_c = np.tanh(cs[k + 1])
            dh_new = dh + d_out[t]                                  # 1.
            d_o = dh_new * tanh_c                                   # 2.
            dc_new = dc + dh_new * o * (1 - tanh_c * tanh_c)
            d_i, d_g, d_f = dc_new * g, dc_new * i, dc_new * cs[k]  # 3.
            d_a = d_gi[t]                                           # 4. (a view: filled in place)
            d_a[:, :hidden] = d_i * i * (1 - i)
            d_a[:, hidden:2 * hidden] = d_f * f * (1 - f)
            d_a[:, 2 * hidden:3 * hidden] = d_g * (1 - g * g)
            d_a[:, 3 * hidden:] = d_o * o * (1 - o)
            dc_prev = dc_new * f
            if keep is not None:
                d_a[...] = np.where(keep, d_a, 0)
                dc_prev = np.where(keep, dc_prev, dc)
            dh_prev = d_a @ w_hh                                    # 5.
            dh = dh_prev if keep is None else np.where(keep, dh_prev, dh)
            dc = dc_prev
        d_w_hh, d_b_hh = _hh_grads(d_gi, hs, reverse)
        return d_gi, d_w_hh, d_b_hh, dh, dc

    # ------------------------------------------------------------------------ GRU
    @staticmethod
    def gru_forward(gi, w_hh, b_ih, b_hh, h0, mask, reverse):
        """GRU over a sequence, gates in PyTorch's order r, z, n:

            [gi_r, gi_z, gi_n] = x_t W_ih^T + b_ih   [gh_r, gh_z, gh_n] = W_hh h_{t-1} + b_hh
            r = sigma(gi_r + gh_r)   z = sigma(gi_z + gh_z)
            n = tanh(gi_n + r * gh_n)            (r scales W_hn h + b_hn, PyTorch's form)
            h_t = (1 - z) * n + z * h_{t-1}

        gi is x_t W_ih^T without its bias. Returns packed (T+1,B,H) = [out, h_n], hs
        (T+1,B,H), gates (T,B,3H) = r, z, n, hn (T,B,H) = gh_n.
        """
        if b_ih is not None:
            gi = gi + b_ih
        steps, hidden = gi.shape[0], h0.shape[-1]
        hs = np.empty((steps + 1,) + h0.shape, dtype=gi.dtype)
        out = np.empty(gi.shape[:2] + (hidden,), dtype=gi.dtype)
        gates = np.empty_like(gi)
        hn = np.empty_like(out)
        hs[0] = h0
        for k, t in enumerate(_order(steps, reverse)):
            h = hs[k]
            gh = h @ w_hh.T
            if b_hh is not None:
                gh += b_hh
            r = _sigmoid(gi[t, :, :hidden] + gh[:, :hidden])
            z = _sigmoid(gi[t, :, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
            n = np.tanh(gi[t, :, 2 * hidden:] + r * gh[:, 2 * hidden:])
            gates[t] = np.concatenate([r, z, n], axis=1)
            hn[t] = gh[:, 2 * hidden:]
            h_new = (1 - z) * n + z * h
            keep = _keep(mask, t)
            if keep is None:
                hs[k + 1] = out[t] = h_new
            else:
                hs[k + 1] = np.where(keep, h_new, h)
                out[t] = np.where(keep, h_new, 0)
        return out, hs, gates, hn

    @staticmethod
    def gru_backward(gates, hn, hs, w_hh, mask, reverse, d_out, d_hn):
        """Backpropagation through time for ``gru_forward``.

        ``dh`` (dL/dh_k) starts as d_hn. At the k-th step (time t), with h_prev = hs[k]:
          1. h_new also produced out[t]:                 dh_new = dh + d_out[t]
          2. h_new = (1 - z) * n + z * h_prev:           d_n = dh_new * (1 - z)
                                                         d_z = dh_new * (h_prev - n)
                                                         dh  = dh_new * z   (the direct path)
          3. n = tanh(gi_n + r * gh_n):                  d_an = d_n * (1 - n^2)
                                                         d_r = d_an * gh_n,  d_gh_n = d_an * r
          4. r, z = sigma(.):                            d_ar = d_r r (1 - r),  d_az = d_z z (1 - z)
             gi's gradient is [d_ar, d_az, d_an]; W_hh h + b_hh's is [d_ar, d_az, d_an * r]
          5. through W_hh to the previous state:         dh += d_gh @ W_hh
        A padded step computed nothing: its gate gradients are 0 and dh passes through unchanged.
        """
        steps, hidden = hs.shape[0] - 1, hs.shape[-1]
        d_out, d_hn = _upstream(hs, d_out, d_hn)
        d_gi = np.zeros(gates.shape, dtype=d_out.dtype)
        d_gh = np.zeros(gates.shape, dtype=d_out.dtype)
        dh = np.array(d_hn, dtype=d_out.dtype)
        for k in reversed(range(steps)):
            t = _order(steps, reverse)[k]
            keep = _keep(mask, t)
            r, z, n = _blocks(gates[t], 3)
            h_prev = hs[k]
            dh_new = dh + d_out[t]                                  # 1.
            if keep is not None:
                dh_new = np.where(keep, dh_new, 0)
            d_n = dh_new * (1 - z)                                  # 2.
            d_z = dh_new * (h_prev - n)
            d_an = d_n * (1 - n * n)                                # 3.
            d_r = d_an * hn[t]
            d_ar, d_az = d_r * r * (1 - r), d_z * z * (1 - z)       # 4.
            d_gi[t] = np.concatenate([d_ar, d_az, d_an], axis=1)
            d_gh[t] = np.concatenate([d_ar, d_az, d_an * r], axis=1)
            dh_prev = dh_new * z + d_gh[t] @ w_hh                   # 5.
            dh = dh_prev if keep is None else np.where(keep, dh_prev, dh)
        d_w_hh, d_b_hh = _hh_grads(d_gh, hs, reverse)
        return d_gi, d_w_hh, d_b_hh, dh
