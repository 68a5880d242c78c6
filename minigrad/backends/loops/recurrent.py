"""Fused recurrent kernels: a whole sequence of RNN, LSTM or GRU steps in one compiled call.

The contract (shapes, saved arrays, mask and reverse semantics) is ``backends/kernel_set.py``.
The autograd Function (``minigrad/ops/recurrent.py``) has already projected every step's input, gi = x @ W_ih^T
(T, B, G*H; the biases are added inside the loop, which saves a pass over gi); what is
left is the recurrence, where step t needs the state of step t-1:

    forward, per step:  one matrix product  h_{t-1} @ W_hh^T          (B, H) x (H, G*H)
                        one fused pass      gate nonlinearities, state update, output
    backward, per step: one fused pass      d_gates from d_h (and d_c)
                        one matrix product  d_h_{t-1} = d_gates @ W_hh  (B, G*H) x (G*H, H)
    after the loop:     one big product     d_W_hh = d_gates^T @ h_prev  (G*H, T*B) x (T*B, H)

Why one compiled loop: done op by op from Python, every step pays several dispatches
and numpy passes with temporaries; here the per-step product goes to numpy's own BLAS
from inside the compiled loop (``_blas.gemm``), and the gate arithmetic is one vectorised
pass per batch row in which each gate value is loaded once. Products of one or two rows
run a plain loop (``LOOP_MAX_ROWS``), where a BLAS call costs more than the arithmetic.
What each choice measured: docs/kernels.md.

Masks (T, B): where mask[t, b] is False the step is padding: the state is carried
unchanged, the output is 0, and the saved gates are 0. ``reverse`` walks t = T-1 .. 0;
hs/cs are indexed by steps processed (hs[k]), gates/out by time t.

Nonlinearities: ``_tanh`` and ``_sigmoid`` (``_scalar.py``), vectorisable polynomial forms
at the precision of the data. Constants are typed like the data (``one = dtype.type(1)``): a bare ``1`` would make a
float32 loop compute in float64.
"""
import numpy as np

from ._blas import gemm, gemm_loop
from ._jit import helper, kernel
from ._scalar import _sigmoid, _tanh

# A product with this many rows or fewer runs the plain loop instead of BLAS (see above).
LOOP_MAX_ROWS = 2


# ------------------------------------------------------------------ helpers
@helper
def _matmul(a, b, out, trans_a, trans_b):
    """out = op(a) @ op(b): BLAS, or a plain loop for tiny row counts where a call costs more."""
    if out.shape[0] <= LOOP_MAX_ROWS:
        gemm_loop(a, b, out, trans_a, trans_b)
    else:
        gemm(a, b, out, trans_a, trans_b)


@helper
def _reduce_rows(d, out):
    """out[j] = sum over rows r of d[r, j], for d (R, N): the bias gradient of all steps at once."""
    zero = d.dtype.type(0)
    for j in range(out.shape[0]):
        out[j] = zero
    for r in range(d.shape[0]):
        for j in range(out.shape[0]):
            out[j] += d[r, j]


@helper
def _carry(src, dst, out_row):
    """A padded step: the state is carried unchanged, the output is 0."""
    zero = dst.dtype.type(0)
    for j in range(dst.shape[0]):
        dst[j] = src[j]
        out_row[j] = zero


# ------------------------------------------------------- one row of one step
# The gate arithmetic of one batch row lives in its own (not inlined) function of 1-D
# arrays: written inline in the kernel's (t, b) loops, LLVM left it scalar (32 ns per
# LSTM unit instead of 5 at B=32, H=128); on 1-D arguments it vectorises the j loop.
@helper
def _rnn_row(x, bias, relu, h, o):
    """h = act(h + x + bias) in place (h holds h_{t-1} W_hh^T), copied to the output row o."""
    zero = h.dtype.type(0)
    if relu:
        for j in range(h.shape[0]):
            v = h[j] + x[j] + bias[j]
            v = zero if v <= zero else v  # NaN stays NaN
            h[j] = v
            o[j] = v
    else:
        for j in range(h.shape[0]):
            v = _tanh(h[j] + x[j] + bias[j])
            h[j] = v
            o[j] = v


@helper
def _lstm_row(g, x, bias, c_old, c_new, h_new, o):
    """g holds h_{t-1} W_hh^T (4H,) and is overwritten with the activated i, f, g, o."""
    H = o.shape[0]
    for j in range(H):
        i_ = _sigmoid(g[j] + x[j] + bias[j])
        f_ = _sigmoid(g[H + j] + x[H + j] + bias[H + j])
        g_ = _tanh(g[2 * H + j] + x[2 * H + j] + bias[2 * H + j])
        o_ = _sigmoid(g[3 * H + j] + x[3 * H + j] + bias[3 * H + j])
        c = f_ * c_old[j] + i_ * g_
        h = o_ * _tanh(c)
        g[j], g[H + j], g[2 * H + j], g[3 * H + j] = i_, f_, g_, o_
        c_new[j] = c
        h_new[j] = h
        o[j] = h


@helper
def _gru_row(g, x, b_ih, b_hh, h_old, h_new, o, hn):
    """g holds h_{t-1} W_hh^T (3H,) and is overwritten with the activated r, z, n."""
    H = o.shape[0]
    for j in range(H):
        r = _sigmoid(g[j] + x[j] + b_ih[j] + b_hh[j])
        z = _sigmoid(g[H + j] + x[H + j] + b_ih[H + j] + b_hh[H + j])
        hn_ = g[2 * H + j] + b_hh[2 * H + j]
        n = _tanh(x[2 * H + j] + b_ih[2 * H + j] + r * hn_)
        h = n + z * (h_old[j] - n)  # (1 - z) n + z h, one multiply fewer
        g[j], g[H + j], g[2 * H + j] = r, z, n
        hn[j] = hn_
        h_new[j] = h
        o[j] = h


@helper
def _zero(a):
    zero = a.dtype.type(0)
    for j in range(a.shape[0]):
        a[j] = zero


# ------------------------------------------------------------------ forward
@kernel
def rnn_forward_loop(gi, w_hh, bias, mask, reverse, relu, out, hs):
    """h_t = act(gi_t + h_{t-1} W_hh^T + bias), act = tanh or relu, bias = b_ih + b_hh.

    gi (T, B, H) = x_t W_ih^T, w_hh (H, H), bias (H,), mask (T, B) bool; writes out (T, B, H) and
    hs (T+1, B, H), whose hs[0] the caller has filled with h0.
    """
    T, B, H = out.shape
    # W_hh^T packed once: every step's product then reads one dense (H, G*H) panel with no
    # transpose flag, 15-25% faster per step (benchmarks/recurrence_probe.py)
    w_t = np.ascontiguousarray(w_hh.T)
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_t, hs[k + 1], False, False)
        for b in range(B):
            if mask[t, b]:
                _rnn_row(gi[t, b], bias, relu, hs[k + 1, b], out[t, b])
            else:
                _carry(hs[k, b], hs[k + 1, b], out[t, b])


@kernel
def lstm_forward_loop(gi, w_hh, bias, mask, reverse, out, hs, cs, gates):
    """LSTM, gate order i, f, g, o (PyTorch's):

        [i, f, g, o] = [sigma, sigma, tanh, sigma](gi_t + h_{t-1} W_hh^T + bias)
        c_t = f * c_{t-1} + i * g,     h_t = o * tanh(c_t)

    gi (T, B, 4H) = x_t W_ih^T, w_hh (4H, H), bias (4H,) = b_ih + b_hh; writes out (T, B, H), hs and cs
    (T+1, B, H; [0] filled by the caller) and gates (T, B, 4H), the activated i, f, g, o.
    """
    T, B, H = out.shape
    w_t = np.ascontiguousarray(w_hh.T)  # packed once (see rnn_forward_loop)
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_t, gates[t], False, False)  # the recurrent pre-activations
        for b in range(B):
            if mask[t, b]:
                _lstm_row(gates[t, b], gi[t, b], bias, cs[k, b], cs[k + 1, b], hs[k + 1, b], out[t, b])
            else:
                _carry(hs[k, b], hs[k + 1, b], out[t, b])
                _carry(cs[k, b], cs[k + 1, b], out[t, b])
                _zero(gates[t, b])


@kernel
def gru_forward_loop(gi, w_hh, b_ih, b_hh, mask, reverse, out, hs, gates, hn):
    """GRU, gate order r, z, n (PyTorch's; r applies to W_hn h + b_hn):

        r = sigma(gi_r + b_ir + h W_hr^T + b_hr),  z = sigma(gi_z + b_iz + h W_hz^T + b_hz)
        hn = h W_hn^T + b_hn,                      n = tanh(gi_n + b_in + r * hn)
        h_t = (1 - z) * n + z * h_{t-1}

    gi (T, B, 3H) = x_t W_ih^T, w_hh (3H, H), b_ih and b_hh (3H,); writes out (T, B, H),
    hs (T+1, B, H; hs[0] filled by the caller), gates (T, B, 3H) = activated r, z, n,
    and hn (T, B, H).
    """
    T, B, H = out.shape
    w_t = np.ascontiguousarray(w_hh.T)  # packed once (see rnn_forward_loop)
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_t, gates[t], False, False)
        for b in range(B):
            if mask[t, b]:
                _gru_row(gates[t, b], gi[t, b], b_ih, b_hh, hs[k, b], hs[k + 1, b], out[t, b], hn[t, b])
            else:
                _carry(hs[k, b], hs[k + 1, b], out[t, b])
                _zero(gates[t, b])
                _zero(hn[t, b])


# =================================================================== backward
@helper
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


@helper
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
@helper
def _rnn_row_back(h, d_o, dh, relu, dg):
    """d_a = (dh + d_out) * act'(a), act' from the output h: 1 - h^2 (tanh), 0 where h <= 0 else 1 (relu)."""
    zero, one = h.dtype.type(0), h.dtype.type(1)
    if relu:
        for j in range(h.shape[0]):
            d = dh[j] + d_o[j]
            dg[j] = zero if h[j] <= zero else d  # a NaN h passes the gradient, as relu's does
    else:
        for j in range(h.shape[0]):
            dg[j] = (dh[j] + d_o[j]) * (one - h[j] * h[j])


@helper
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


@helper
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


@helper
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
