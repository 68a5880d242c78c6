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
These loops run on one thread; ``recurrent_parallel.py`` has the same six with the hidden
units split across threads, for larger sizes (which one runs: wrappers/_recurrent_plan.py).
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
# OpenBLAS multiplies a product of up to about a million multiply-adds with "small matrix"
# kernels that read b where it lies, on the calling thread; a larger one first copies b
# into its own blocked layout -- every call, although a recurrence multiplies by the same
# W_hh at every step. Where a core does its share of a step on its own (the split loops
# of recurrent_parallel.py), the product is therefore cut into column blocks of at most
# this many multiply-adds: measured 83 -> 106 GFLOP/s at (32, 256) x (256, 512) on one
# AVX-512 core (8 blocks of 64 columns), 69 -> 94 at (32, 1024) x (1024, 128).
SMALL_GEMM = 1 << 19
SMALL_GEMM_COLS = 16  # the narrowest block: one AVX-512 vector of float32


# ------------------------------------------------------------------ helpers
@helper
def _matmul(a, b, out, trans_a, trans_b):
    """out = op(a) @ op(b): BLAS, or a plain loop for tiny row counts where a call costs more."""
    if out.shape[0] <= LOOP_MAX_ROWS:
        gemm_loop(a, b, out, trans_a, trans_b)
    else:
        gemm(a, b, out, trans_a, trans_b)


@helper
def _matmul_blocks(a, b, out):
    """out = a @ b on the calling thread, in column blocks of at most SMALL_GEMM multiply-adds
    where such blocks fit (see above)."""
    m, n = out.shape
    k = a.shape[1]
    if m <= LOOP_MAX_ROWS or m * k * n <= SMALL_GEMM or m * k * SMALL_GEMM_COLS > SMALL_GEMM:
        _matmul(a, b, out, False, False)
        return
    cols = max(SMALL_GEMM_COLS, SMALL_GEMM // (m * k) // SMALL_GEMM_COLS * SMALL_GEMM_COLS)
    for j in range(0, n, cols):
        gemm(a, b[:, j:j + cols], out[:, j:j + cols], False, False)


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
#
# Each helper serves a run of U hidden units j0 .. j0+U of the row: the whole row here
# (j0 = 0, U = H), one core's share in recurrent_parallel.py. ``pre`` holds those units'
# h_{t-1} W_hh^T, gate-major (U values of the first gate, then U of the next, ...); the
# other arrays are whole rows, (G*H,) or (H,). 1-D slices are taken first: numba
# vectorises ``xs[u]`` over a slice but not ``x[j0 + u]`` (a possibly negative index is
# wrapped per element). ``pre`` is never an output array: writing the gates over their own
# pre-activations, LLVM's run-time overlap check fails and the scalar loop runs (measured
# 1.4x slower at B = 32, H = 256).
@helper
def _gate(row, q, H, j0, U):
    """Units j0 .. j0+U of gate q in a gate-major (G*H,) row."""
    return row[q * H + j0:q * H + j0 + U]


@helper
def _rnn_units(pre, x, bias, relu, h, o, j0):
    """h = act(pre + x + bias) for units j0 .. j0+U, U = len(pre), copied to the output row o."""
    zero = h.dtype.type(0)
    U = pre.shape[0]
    xs, bs, hs, os_ = x[j0:j0 + U], bias[j0:j0 + U], h[j0:j0 + U], o[j0:j0 + U]
    if relu:
        for u in range(U):
            v = pre[u] + xs[u] + bs[u]
            v = zero if v <= zero else v  # NaN stays NaN
            hs[u] = v
            os_[u] = v
    else:
        for u in range(U):
            v = _tanh(pre[u] + xs[u] + bs[u])
            hs[u] = v
            os_[u] = v


@helper
def _lstm_units(pre, x, bias, c_old, c_new, h_new, o, g, j0):
    """pre (4U,): the units' h_{t-1} W_hh^T; writes their activated i, f, g, o into g (4H,), and their
    c, h and output."""
    H, U = o.shape[0], pre.shape[0] // 4
    pi, pf, pg, po = pre[:U], pre[U:2 * U], pre[2 * U:3 * U], pre[3 * U:]
    xi, xf, xg, xo = _gate(x, 0, H, j0, U), _gate(x, 1, H, j0, U), _gate(x, 2, H, j0, U), _gate(x, 3, H, j0, U)
    bi, bf, bg, bo = (_gate(bias, 0, H, j0, U), _gate(bias, 1, H, j0, U), _gate(bias, 2, H, j0, U),
                      _gate(bias, 3, H, j0, U))
    gi, gf, gg, go = _gate(g, 0, H, j0, U), _gate(g, 1, H, j0, U), _gate(g, 2, H, j0, U), _gate(g, 3, H, j0, U)
    co, cn, hn, os_ = c_old[j0:j0 + U], c_new[j0:j0 + U], h_new[j0:j0 + U], o[j0:j0 + U]
    for u in range(U):
        i_ = _sigmoid(pi[u] + xi[u] + bi[u])
        f_ = _sigmoid(pf[u] + xf[u] + bf[u])
        g_ = _tanh(pg[u] + xg[u] + bg[u])
        o_ = _sigmoid(po[u] + xo[u] + bo[u])
        c = f_ * co[u] + i_ * g_
        h = o_ * _tanh(c)
        gi[u], gf[u], gg[u], go[u] = i_, f_, g_, o_
        cn[u] = c
        hn[u] = h
        os_[u] = h


@helper
def _gru_units(pre, x, b_ih, b_hh, h_old, h_new, o, hn, g, j0):
    """pre (3U,): the units' h_{t-1} W_hh^T; writes their activated r, z, n into g (3H,), their
    hn = h W_hn^T + b_hn, h and output."""
    H, U = o.shape[0], pre.shape[0] // 3
    pr, pz, pn = pre[:U], pre[U:2 * U], pre[2 * U:]
    xr, xz, xn = _gate(x, 0, H, j0, U), _gate(x, 1, H, j0, U), _gate(x, 2, H, j0, U)
    ir, iz, in_ = _gate(b_ih, 0, H, j0, U), _gate(b_ih, 1, H, j0, U), _gate(b_ih, 2, H, j0, U)
    hr, hz, hn_b = _gate(b_hh, 0, H, j0, U), _gate(b_hh, 1, H, j0, U), _gate(b_hh, 2, H, j0, U)
    gr, gz, gn = _gate(g, 0, H, j0, U), _gate(g, 1, H, j0, U), _gate(g, 2, H, j0, U)
    ho, hw, os_, hns = h_old[j0:j0 + U], h_new[j0:j0 + U], o[j0:j0 + U], hn[j0:j0 + U]
    for u in range(U):
        r = _sigmoid(pr[u] + xr[u] + ir[u] + hr[u])
        z = _sigmoid(pz[u] + xz[u] + iz[u] + hz[u])
        hn_ = pn[u] + hn_b[u]
        n = _tanh(xn[u] + in_[u] + r * hn_)
        h = n + z * (ho[u] - n)  # (1 - z) n + z h, one multiply fewer
        gr[u], gz[u], gn[u] = r, z, n
        hns[u] = hn_
        hw[u] = h
        os_[u] = h


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
    pre = np.empty((B, H), out.dtype)
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_t, pre, False, False)
        for b in range(B):
            if mask[t, b]:
                _rnn_units(pre[b], gi[t, b], bias, relu, hs[k + 1, b], out[t, b], 0)
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
    pre = np.empty((B, 4 * H), out.dtype)
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_t, pre, False, False)  # the recurrent pre-activations
        for b in range(B):
            if mask[t, b]:
                _lstm_units(pre[b], gi[t, b], bias, cs[k, b], cs[k + 1, b], hs[k + 1, b], out[t, b], gates[t, b], 0)
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
    pre = np.empty((B, 3 * H), out.dtype)
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_t, pre, False, False)
        for b in range(B):
            if mask[t, b]:
                _gru_units(pre[b], gi[t, b], b_ih, b_hh, hs[k, b], hs[k + 1, b], out[t, b], hn[t, b], gates[t, b], 0)
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
# As in the forward, each row's gate arithmetic is a function of 1-D slices, over units
# j0 .. j0+U (the whole row here), so that LLVM vectorises it. dh (and dc) arrive as the
# gradient of the state after the step and leave as the gradient of the state before it
# (minus the W_hh product, added later).
@helper
def _rnn_units_back(h, d_o, dh, relu, dg, j0, U):
    """d_a = (dh + d_out) * act'(a), act' from the output h: 1 - h^2 (tanh), 0 where h <= 0 else 1 (relu)."""
    zero, one = h.dtype.type(0), h.dtype.type(1)
    hs, ds, dhs, dgs = h[j0:j0 + U], d_o[j0:j0 + U], dh[j0:j0 + U], dg[j0:j0 + U]
    if relu:
        for u in range(U):
            d = dhs[u] + ds[u]
            dgs[u] = zero if hs[u] <= zero else d  # a NaN h passes the gradient, as relu's does
    else:
        for u in range(U):
            dgs[u] = (dhs[u] + ds[u]) * (one - hs[u] * hs[u])


@helper
def _lstm_units_back(g, c_old, c_new, d_o, dh, dc, dg, j0, U):
    """Through c_t = f c_{t-1} + i g and h_t = o tanh(c_t), with dh' = d_out_t + d_h_t:

        dc' = d_c_t + dh' o (1 - tanh(c_t)^2)
        d_i = dc' g i(1 - i)      d_f = dc' c_{t-1} f(1 - f)
        d_g = dc' i (1 - g^2)     d_o = dh' tanh(c_t) o(1 - o)       d_c_{t-1} = dc' f
    """
    one = g.dtype.type(1)
    H = dh.shape[0]
    gi, gf, gg, go = _gate(g, 0, H, j0, U), _gate(g, 1, H, j0, U), _gate(g, 2, H, j0, U), _gate(g, 3, H, j0, U)
    di, df, dgg, do = _gate(dg, 0, H, j0, U), _gate(dg, 1, H, j0, U), _gate(dg, 2, H, j0, U), _gate(dg, 3, H, j0, U)
    co, cn, ds, dhs, dcs = c_old[j0:j0 + U], c_new[j0:j0 + U], d_o[j0:j0 + U], dh[j0:j0 + U], dc[j0:j0 + U]
    for u in range(U):
        i_, f_, g_, o_ = gi[u], gf[u], gg[u], go[u]
        tc = _tanh(cn[u])
        dhj = dhs[u] + ds[u]
        dcj = dcs[u] + dhj * o_ * (one - tc * tc)
        di[u] = dcj * g_ * i_ * (one - i_)
        df[u] = dcj * co[u] * f_ * (one - f_)
        dgg[u] = dcj * i_ * (one - g_ * g_)
        do[u] = dhj * tc * o_ * (one - o_)
        dcs[u] = dcj * f_


@helper
def _gru_units_back(g, hn, h_old, d_o, dh, dg, dgh, j0, U):
    """Through h_t = n + z (h_{t-1} - n), n = tanh(gi_n + r hn), with dh' = d_out_t + d_h_t:

        d_n = dh' (1 - z) (1 - n^2)  (= d gi_n)     d_z = dh' (h_{t-1} - n) z(1 - z)
        d_r = d_n hn r(1 - r)                        d_hn = d_n r
        d_h_{t-1} = dh' z (+ [d_r, d_z, d_hn] @ W_hh, added by the caller)

    dg is gi's gradient, dgh that of h W_hh^T + b_hh: they differ in the n block only.
    """
    one = g.dtype.type(1)
    H = dh.shape[0]
    gr, gz, gn = _gate(g, 0, H, j0, U), _gate(g, 1, H, j0, U), _gate(g, 2, H, j0, U)
    dr_, dz_, dn_ = _gate(dg, 0, H, j0, U), _gate(dg, 1, H, j0, U), _gate(dg, 2, H, j0, U)
    hr_, hz_, hn_ = _gate(dgh, 0, H, j0, U), _gate(dgh, 1, H, j0, U), _gate(dgh, 2, H, j0, U)
    hns, ho, ds, dhs = hn[j0:j0 + U], h_old[j0:j0 + U], d_o[j0:j0 + U], dh[j0:j0 + U]
    for u in range(U):
        r, z, n = gr[u], gz[u], gn[u]
        dhj = dhs[u] + ds[u]
        dn = dhj * (one - z) * (one - n * n)
        dz = dhj * (ho[u] - n) * z * (one - z)
        dr = dn * hns[u] * r * (one - r)
        dr_[u], dz_[u], dn_[u] = dr, dz, dn
        hr_[u], hz_[u], hn_[u] = dr, dz, dn * r
        dhs[u] = dhj * z


@helper
def _propagate(d_gates, w_hh, mask_t, tmp, dh, add, blocks):
    """dh[b] (+)= d_gates[b] @ W_hh for the real rows; padded rows keep dh (carried state).
    ``blocks``: the product in small blocks on the calling thread (``_matmul_blocks``)."""
    if blocks:
        _matmul_blocks(d_gates, w_hh, tmp)
    else:
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
                _rnn_units_back(hs[k + 1, b], d_out[t, b], d_h0[b], relu, d_gi[t, b], 0, H)
            else:
                _zero(d_gi[t, b])
        _propagate(d_gi[t], w_hh, mask[t], tmp, d_h0, False, False)
    _finish(d_gi, _h_prev(hs, reverse), d_w_hh, d_b_hh)


@kernel
def lstm_backward_loop(gates, hs, cs, w_hh, mask, reverse, d_out, d_gi, d_w_hh, d_b_hh, d_h0, d_c0):
    """BPTT for lstm_forward_loop (equations in _lstm_units_back); d_h_{t-1} = d_gates_t @ W_hh."""
    T, B, H = d_out.shape
    tmp = np.empty_like(d_h0)
    for k in range(T - 1, -1, -1):
        t = T - 1 - k if reverse else k
        for b in range(B):
            if mask[t, b]:
                _lstm_units_back(gates[t, b], cs[k, b], cs[k + 1, b], d_out[t, b], d_h0[b], d_c0[b], d_gi[t, b],
                                 0, H)
            else:
                _zero(d_gi[t, b])
        _propagate(d_gi[t], w_hh, mask[t], tmp, d_h0, False, False)
    _finish(d_gi, _h_prev(hs, reverse), d_w_hh, d_b_hh)


@kernel
def gru_backward_loop(gates, hn, hs, w_hh, mask, reverse, d_out, d_gi, d_w_hh, d_b_hh, d_h0):
    """BPTT for gru_forward_loop (equations in _gru_units_back).

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
                _gru_units_back(gates[t, b], hn[t, b], hs[k, b], d_out[t, b], d_h0[b], d_gi[t, b], step[b], 0, H)
                row, src = d_ghn[t, b], step[b]
                for j in range(H):
                    row[j] = src[2 * H + j]
            else:
                _zero(d_gi[t, b])
                _zero(step[b])
                _zero(d_ghn[t, b])
        _propagate(step, w_hh, mask[t], tmp, d_h0, True, False)
    h_prev = _h_prev(hs, reverse)
    rz = d_gi.reshape(T * B, 3 * H)[:, :2 * H]  # the r and z columns: a strided block
    _matmul(rz, h_prev.reshape(T * B, H), d_w_hh[:2 * H], True, False)
    _reduce_rows(rz, d_b_hh[:2 * H])
    _finish(d_ghn, h_prev, d_w_hh[2 * H:], d_b_hh[2 * H:])
