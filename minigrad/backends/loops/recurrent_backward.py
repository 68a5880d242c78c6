"""Backward of the fused recurrent kernels: the reverse recurrence (BPTT) in one compiled call.

The steps are walked in the opposite order to the forward pass. ``dh`` (and ``dc``) hold
the gradient with respect to the state after the step being undone; each step

1. adds d_out[t] to dh and turns dh (dc) into d_gates[t] in one fused pass, using the
   activations the forward saved (no exp/tanh is recomputed except LSTM's tanh(c_t));
2. propagates to the previous state with one matrix product, dh = d_gates[t] @ W_hh.

d_W_hh = sum_t d_gates[t]^T h_{t-1} is left to the end: one (G*H, T*B) x (T*B, H)
product has far better BLAS efficiency than T skinny ones. Padded steps (mask False)
contribute nothing: their d_gates row is 0 and dh/dc pass through unchanged, which is
the derivative of "the state is carried".

The caller passes d_h0 (and d_c0) filled with d_hn (d_cn): the kernels update them in place.
Shapes and equations are those of recurrent.py; the contract is rnn/fused/CONTRACT.md.

numba's disk cache is keyed by this file alone, but the kernels compile in helpers from
recurrent.py and _blas.py: after editing those, delete the ``*.nbi``/``*.nbc`` files
under ``minigrad/`` (docs/kernels.md).
"""
import numpy as np
from numba.extending import register_jitable

from . import kernel
from .recurrent import _matmul, _reduce_rows, _tanh, _zero


@register_jitable
def _h_prev(hs, reverse):
    """h_{t-1} of every step, indexed by time t: (T, B, H).

    hs is in processing order (hs[k] feeds step k); reversed, step k is time T-1-k.
    """
    T = hs.shape[0] - 1
    if not reverse:
        return hs[:T]
    out = np.empty_like(hs[:T])
    for t in range(T):
        out[t] = hs[T - 1 - t]
    return out


@register_jitable
def _finish(d_gates, h_prev, d_w_hh, d_b_hh):
    """d_W_hh = sum_t d_gates[t]^T h_prev[t] as ONE product; d_b_hh = sum of d_gates."""
    T, B, G = d_gates.shape
    flat = d_gates.reshape(T * B, G)
    _matmul(flat, h_prev.reshape(T * B, h_prev.shape[2]), d_w_hh, True, False)
    _reduce_rows(flat, d_b_hh)


# --------------------------------------------------- one row of one step
# As in recurrent.py, each row's gate arithmetic is a function of 1-D arrays so that
# LLVM vectorises it. dh (and dc) arrive as the gradient of the state after the step and
# leave as the gradient of the state before it (minus the W_hh product, added later).
@register_jitable
def _rnn_row_back(h, d_o, dh, relu, dg):
    """d_a = (dh + d_out) * act'(a), act' from the output h: 1 - h^2 (tanh), [h > 0] (relu)."""
    zero, one = h.dtype.type(0), h.dtype.type(1)
    if relu:
        for j in range(h.shape[0]):
            dg[j] = dh[j] + d_o[j] if h[j] > zero else zero
    else:
        for j in range(h.shape[0]):
            dg[j] = (dh[j] + d_o[j]) * (one - h[j] * h[j])


@register_jitable
def _lstm_row_back(g, c_old, c_new, d_o, dh, dc, dg):
    """Through c_t = f c_{t-1} + i g and h_t = o tanh(c_t), with dh' = d_out_t + d_h_t:

        dc' = d_c_t + dh' o (1 - tanh(c_t)^2)
        d_i = dc' g i(1 - i)      d_f = dc' c_{t-1} f(1 - f)
        d_g = dc' i (1 - g^2)     d_o = dh' tanh(c_t) o(1 - o)       d_c_{t-1} = dc' f
    """
    one = g.dtype.type(1)
    H = dh.shape[0]
    for j in range(H):
        i_, f_, g_, o_ = g[j], g[H + j], g[2 * H + j], g[3 * H + j]
        tc = _tanh(c_new[j])
        dhj = dh[j] + d_o[j]
        dcj = dc[j] + dhj * o_ * (one - tc * tc)
        dg[j] = dcj * g_ * i_ * (one - i_)
        dg[H + j] = dcj * c_old[j] * f_ * (one - f_)
        dg[2 * H + j] = dcj * i_ * (one - g_ * g_)
        dg[3 * H + j] = dhj * tc * o_ * (one - o_)
        dc[j] = dcj * f_


@register_jitable
def _gru_row_back(g, hn, h_old, d_o, dh, dg, dgh):
    """Through h_t = n + z (h_{t-1} - n), n = tanh(gi_n + r hn), with dh' = d_out_t + d_h_t:

        d_n = dh' (1 - z) (1 - n^2)  (= d gi_n)     d_z = dh' (h_{t-1} - n) z(1 - z)
        d_r = d_n hn r(1 - r)                        d_hn = d_n r
        d_h_{t-1} = dh' z (+ [d_r, d_z, d_hn] @ W_hh, added by the caller)

    dg is gi's gradient, dgh that of h W_hh^T + b_hh: they differ in the n block only.
    """
    one = g.dtype.type(1)
    H = dh.shape[0]
    for j in range(H):
        r, z, n = g[j], g[H + j], g[2 * H + j]
        dhj = dh[j] + d_o[j]
        dn = dhj * (one - z) * (one - n * n)
        dz = dhj * (h_old[j] - n) * z * (one - z)
        dr = dn * hn[j] * r * (one - r)
        dg[j], dg[H + j], dg[2 * H + j] = dr, dz, dn
        dgh[j], dgh[H + j], dgh[2 * H + j] = dr, dz, dn * r
        dh[j] = dhj * z


@register_jitable
def _propagate(d_gates, w_hh, mask_t, tmp, dh, add):
    """dh[b] (+)= d_gates[b] @ W_hh for the real rows; padded rows keep dh (carried state)."""
    _matmul(d_gates, w_hh, tmp, False, False)
    for b in range(dh.shape[0]):
        if mask_t[b]:
            row, new = dh[b], tmp[b]
            if add:
                for j in range(row.shape[0]):
                    row[j] += new[j]
            else:
                for j in range(row.shape[0]):
                    row[j] = new[j]


# ------------------------------------------------------------------ kernels
@kernel
def rnn_backward_loop(hs, w_hh, mask, reverse, relu, d_out, d_gi, d_w_hh, d_b_hh, d_h0):
    """BPTT for rnn_forward_loop: d_a_t = (d_out_t + d_h_t) act'(a_t), d_h_{t-1} = d_a_t @ W_hh."""
    T, B, H = d_gi.shape
    tmp = np.empty_like(d_h0)
    for k in range(T - 1, -1, -1):
        t = T - 1 - k if reverse else k
        for b in range(B):
            if mask[t, b]:
                _rnn_row_back(hs[k + 1, b], d_out[t, b], d_h0[b], relu, d_gi[t, b])
            else:
                _zero(d_gi[t, b])
        _propagate(d_gi[t], w_hh, mask[t], tmp, d_h0, False)
    _finish(d_gi, _h_prev(hs, reverse), d_w_hh, d_b_hh)


@kernel
def lstm_backward_loop(gates, hs, cs, w_hh, mask, reverse, d_out, d_gi, d_w_hh, d_b_hh, d_h0, d_c0):
    """BPTT for lstm_forward_loop (equations in _lstm_row_back); d_h_{t-1} = d_gates_t @ W_hh."""
    T, B, H = d_out.shape
    tmp = np.empty_like(d_h0)
    for k in range(T - 1, -1, -1):
        t = T - 1 - k if reverse else k
        for b in range(B):
            if mask[t, b]:
                _lstm_row_back(gates[t, b], cs[k, b], cs[k + 1, b], d_out[t, b], d_h0[b], d_c0[b], d_gi[t, b])
            else:
                _zero(d_gi[t, b])
        _propagate(d_gi[t], w_hh, mask[t], tmp, d_h0, False)
    _finish(d_gi, _h_prev(hs, reverse), d_w_hh, d_b_hh)


@kernel
def gru_backward_loop(gates, hn, hs, w_hh, mask, reverse, d_out, d_gi, d_w_hh, d_b_hh, d_h0):
    """BPTT for gru_forward_loop (equations in _gru_row_back).

    The recurrent side's gradient d_gh differs from d_gi only in the n block (d_an * r
    instead of d_an). Each step's d_gh is built in a (B, 3H) scratch for the product with
    W_hh, and only its n block is kept, (T, B, H): the r and z rows of d_W_hh come from
    d_gi's first 2H columns, the n rows from that block. Memory at the peak: a (T, B, H)
    array instead of a second (T, B, 3H) one.
    """
    T, B, H = d_out.shape
    d_ghn = np.empty((T, B, H), d_gi.dtype)
    step = np.empty((B, 3 * H), d_gi.dtype)
    tmp = np.empty_like(d_h0)
    for k in range(T - 1, -1, -1):
        t = T - 1 - k if reverse else k
        for b in range(B):
            if mask[t, b]:
                _gru_row_back(gates[t, b], hn[t, b], hs[k, b], d_out[t, b], d_h0[b], d_gi[t, b], step[b])
                row, src = d_ghn[t, b], step[b]
                for j in range(H):
                    row[j] = src[2 * H + j]
            else:
                _zero(d_gi[t, b])
                _zero(step[b])
                _zero(d_ghn[t, b])
        _propagate(step, w_hh, mask[t], tmp, d_h0, True)
    h_prev = _h_prev(hs, reverse)
    rz = d_gi.reshape(T * B, 3 * H)[:, :2 * H]  # the r and z columns: a strided block
    _matmul(rz, h_prev.reshape(T * B, H), d_w_hh[:2 * H], True, False)
    _reduce_rows(rz, d_b_hh[:2 * H])
    _finish(d_ghn, h_prev, d_w_hh[2 * H:], d_b_hh[2 * H:])
