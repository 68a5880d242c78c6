"""The recurrence split across cores: each core owns a share of the hidden units.

The loops of ``recurrent.py`` make one BLAS call per time step, and BLAS splits that
small product across its own threads, which synchronise inside every call and read
W_hh's panels again each time. Here the cores split the *hidden units* instead, and each
keeps the part of W_hh its units need for the whole sequence:

    forward, step t, core p (units lo .. hi, U = hi - lo):
        pre = h_{t-1} @ Wr_p          (B, H) x (H, G*U)   Wr_p: the W_hh rows of p's units,
                                                          transposed, gate-major
        gate arithmetic and state update of p's units (``_lstm_units``, ...), while pre
        is in p's L1; writes h_t[:, lo:hi] (and c_t, the gates, the output)
    -- every core waits for the others: step t+1 multiplies the whole h_t --

    backward, step t, core p:
        dh[:, lo:hi] = d_gates_{t+1} @ W_hh[:, lo:hi]    (B, G*H) x (G*H, U)
        d_gates_t of p's units (``_lstm_units_back``, ...)
    -- every core waits: the next step's product reads every unit's d_gates --

    after the loop: d_W_hh = d_gates^T h_prev, one product with its rows split across cores.

The forward packs W_hh once per call into one contiguous block per core (H x G*U; at
H = 256 on 2 cores, 512 KB of float32); the backward reads its column block W_hh[:, lo:hi]
where it lies. Either way each core alone reads its 512 KB, step after step, so it stays
in its L2 for the whole sequence. Each step's product is cut into column blocks small
enough for OpenBLAS's kernels that read the block where it lies instead of copying it
first (``_matmul_blocks``, recurrent.py). The only synchronisation is the end of a numba
``prange`` region, one per step (about 1-2 us with the OpenMP threading layer). Inside
each core's share BLAS must run on one thread: the wrapper sets that for the duration of
the call (wrappers/_recurrent_plan.py), and uses these kernels only where they measured
faster than recurrent.py's (the sizes and the numbers are in docs/kernels.md).

The units are split in chunks of ``unit`` (chosen by the wrapper: a multiple of 16, one
AVX-512 vector of float32), one chunk per thread; the last may be shorter. Arguments,
masks, reverse and saved arrays are exactly those of the loops in recurrent.py (the
contract: ``backends/kernel_set.py``), plus ``unit``; the gate arithmetic is the same
helpers.
"""
import numpy as np

from ._jit import helper, kernel, prange
from .recurrent import (_carry, _gate, _gru_units, _gru_units_back, _h_prev, _lstm_units, _lstm_units_back,
                        _matmul, _matmul_blocks, _propagate, _reduce_rows, _rnn_units, _rnn_units_back, _zero)


# ------------------------------------------------------------------ helpers
@helper
def _span(p, unit, H):
    """Units lo .. hi of core p."""
    lo = p * unit
    return lo, min(H, lo + unit)


@helper
def _packed_rows(w_hh, unit):
    """Every core's forward block, one after the other in one flat array: core p's (H, G*U)
    block holds the W_hh rows of its units lo .. hi, transposed and gate-major,
    block[i, q*U + u] = W_hh[q*H + lo + u, i]."""
    GH, H = w_hh.shape
    G = GH // H
    packed = np.empty(GH * H, w_hh.dtype)
    for lo in range(0, H, unit):
        hi = min(H, lo + unit)
        U = hi - lo
        block = packed[GH * lo:GH * hi].reshape((H, G * U))
        for q in range(G):
            for u in range(U):
                row = w_hh[q * H + lo + u]
                for i in range(H):
                    block[i, q * U + u] = row[i]
    return packed


@helper
def _step_product(h, packed, scratch, lo, hi):
    """Core p's pre-activations for its units, (B, G*U) in its slice of ``scratch``: h_{t-1} (B, H)
    times its packed block (H, G*U)."""
    B, H = h.shape
    GH = packed.shape[0] // H
    pre = scratch[B * GH * lo // H:B * GH * hi // H].reshape((B, GH * (hi - lo) // H))
    _matmul_blocks(h, packed[GH * lo:GH * hi].reshape((H, GH * (hi - lo) // H)), pre)
    return pre


@helper
def _propagate_units(d_gates, w_hh, mask_t, tmp, dh, lo, hi, add):
    """Core p's units of dh (+)= d_gates @ W_hh[:, lo:hi]; padded rows keep dh. d_gates (B, G*H):
    every unit's, from the step after. The column block is read in place (BLAS takes its row
    stride): it is the same 512 KB of cache lines, step after step, with no copy to keep."""
    _propagate(d_gates, w_hh[:, lo:hi], mask_t, tmp[:, lo:hi], dh[:, lo:hi], add, True)


@helper
def _zero_units(row, G, H, lo, U):
    """Units lo .. lo+U of every gate of a gate-major (G*H,) row set to 0 (a padded step)."""
    for q in range(G):
        _zero(_gate(row, q, H, lo, U))


@helper
def _finish_rows(d_gates, h_prev, d_w, d_b, p, parts):
    """Core p's share of d_W = d_gates^T h_prev (all steps in one product) and d_b = the column
    sums of d_gates: rows r0 .. r1 of both. d_gates (T*B, R) (a column block of a wider array
    is fine: BLAS reads it with its row stride), h_prev (T*B, H), d_w (R, H), d_b (R,)."""
    R = d_gates.shape[1]
    chunk = (R + parts - 1) // parts
    r0, r1 = min(R, p * chunk), min(R, (p + 1) * chunk)
    if r0 < r1:
        _matmul(d_gates[:, r0:r1], h_prev, d_w[r0:r1], True, False)
        _reduce_rows(d_gates[:, r0:r1], d_b[r0:r1])


# ------------------------------------------------------------------ forward
@kernel(parallel=True)
def rnn_forward_parts(gi, w_hh, bias, mask, reverse, relu, unit, out, hs):
    """rnn_forward_loop with the units split across cores (module docstring)."""
    T, B, H = out.shape
    packed, scratch = _packed_rows(w_hh, unit), np.empty(B * H, out.dtype)
    for k in range(T):
        t = T - 1 - k if reverse else k
        for p in prange((H + unit - 1) // unit):
            lo, hi = _span(p, unit, H)
            pre = _step_product(hs[k], packed, scratch, lo, hi)
            for b in range(B):
                if mask[t, b]:
                    _rnn_units(pre[b], gi[t, b], bias, relu, hs[k + 1, b], out[t, b], lo)
                else:
                    _carry(hs[k, b, lo:hi], hs[k + 1, b, lo:hi], out[t, b, lo:hi])


@kernel(parallel=True)
def lstm_forward_parts(gi, w_hh, bias, mask, reverse, unit, out, hs, cs, gates):
    """lstm_forward_loop with the units split across cores (module docstring)."""
    T, B, H = out.shape
    packed, scratch = _packed_rows(w_hh, unit), np.empty(B * 4 * H, out.dtype)
    for k in range(T):
        t = T - 1 - k if reverse else k
        for p in prange((H + unit - 1) // unit):
            lo, hi = _span(p, unit, H)
            pre = _step_product(hs[k], packed, scratch, lo, hi)
            for b in range(B):
                if mask[t, b]:
                    _lstm_units(pre[b], gi[t, b], bias, cs[k, b], cs[k + 1, b], hs[k + 1, b], out[t, b],
                                gates[t, b], lo)
                else:
                    _carry(hs[k, b, lo:hi], hs[k + 1, b, lo:hi], out[t, b, lo:hi])
                    _carry(cs[k, b, lo:hi], cs[k + 1, b, lo:hi], out[t, b, lo:hi])
                    _zero_units(gates[t, b], 4, H, lo, hi - lo)


@kernel(parallel=True)
def gru_forward_parts(gi, w_hh, b_ih, b_hh, mask, reverse, unit, out, hs, gates, hn):
    """gru_forward_loop with the units split across cores (module docstring)."""
    T, B, H = out.shape
    packed, scratch = _packed_rows(w_hh, unit), np.empty(B * 3 * H, out.dtype)
    for k in range(T):
        t = T - 1 - k if reverse else k
        for p in prange((H + unit - 1) // unit):
            lo, hi = _span(p, unit, H)
            pre = _step_product(hs[k], packed, scratch, lo, hi)
            for b in range(B):
                if mask[t, b]:
                    _gru_units(pre[b], gi[t, b], b_ih, b_hh, hs[k, b], hs[k + 1, b], out[t, b], hn[t, b],
                               gates[t, b], lo)
                else:
                    _carry(hs[k, b, lo:hi], hs[k + 1, b, lo:hi], out[t, b, lo:hi])
                    _zero_units(gates[t, b], 3, H, lo, hi - lo)
                    _zero(hn[t, b, lo:hi])


# ------------------------------------------------------------------ backward
# The loop runs k = T-1 .. -1: at k, core p first adds the W_hh product of step k+1's
# d_gates to its units' dh (at k = -1 that gives d_h0), then computes step k's d_gates
# for its units. A padded row keeps dh (the state was carried through that step).
@kernel(parallel=True)
def rnn_backward_parts(hs, w_hh, mask, reverse, relu, unit, d_out, d_gi, d_w_hh, d_b_hh, d_h0):
    """rnn_backward_loop with the units split across cores (module docstring)."""
    T, B, H = d_gi.shape
    parts = (H + unit - 1) // unit
    tmp = np.empty_like(d_h0)
    for k in range(T - 1, -2, -1):
        t, t_next = (T - 1 - k, T - 2 - k) if reverse else (k, k + 1)
        for p in prange(parts):
            lo, hi = _span(p, unit, H)
            if k + 1 < T:
                _propagate_units(d_gi[t_next], w_hh, mask[t_next], tmp, d_h0, lo, hi, False)
            if k >= 0:
                for b in range(B):
                    if mask[t, b]:
                        _rnn_units_back(hs[k + 1, b], d_out[t, b], d_h0[b], relu, d_gi[t, b], lo, hi - lo)
                    else:
                        _zero(d_gi[t, b, lo:hi])
    h_prev = _h_prev(hs, reverse).reshape(T * B, H)
    flat = d_gi.reshape(T * B, H)
    for p in prange(parts):
        _finish_rows(flat, h_prev, d_w_hh, d_b_hh, p, parts)


@kernel(parallel=True)
def lstm_backward_parts(gates, hs, cs, w_hh, mask, reverse, unit, d_out, d_gi, d_w_hh, d_b_hh, d_h0, d_c0):
    """lstm_backward_loop with the units split across cores (module docstring)."""
    T, B, H = d_out.shape
    G = 4 * H
    parts = (H + unit - 1) // unit
    tmp = np.empty_like(d_h0)
    for k in range(T - 1, -2, -1):
        t, t_next = (T - 1 - k, T - 2 - k) if reverse else (k, k + 1)
        for p in prange(parts):
            lo, hi = _span(p, unit, H)
            if k + 1 < T:
                _propagate_units(d_gi[t_next], w_hh, mask[t_next], tmp, d_h0, lo, hi, False)
            if k >= 0:
                for b in range(B):
                    if mask[t, b]:
                        _lstm_units_back(gates[t, b], cs[k, b], cs[k + 1, b], d_out[t, b], d_h0[b], d_c0[b],
                                         d_gi[t, b], lo, hi - lo)
                    else:
                        _zero_units(d_gi[t, b], 4, H, lo, hi - lo)
    h_prev = _h_prev(hs, reverse).reshape(T * B, H)
    flat = d_gi.reshape(T * B, G)
    for p in prange(parts):
        _finish_rows(flat, h_prev, d_w_hh, d_b_hh, p, parts)


@kernel(parallel=True)
def gru_backward_parts(gates, hn, hs, w_hh, mask, reverse, unit, d_out, d_gi, d_w_hh, d_b_hh, d_h0):
    """gru_backward_loop with the units split across cores (module docstring).

    Each step's d_gh (the gradient of h W_hh^T + b_hh, (B, 3H)) is built in one of two
    scratch buffers, alternating: while the cores write step k's, they still read step
    k+1's for the product."""
    T, B, H = d_out.shape
    G = 3 * H
    parts = (H + unit - 1) // unit
    tmp = np.empty_like(d_h0)
    step = np.empty((2, B, G), d_gi.dtype)
    d_ghn = np.empty((T, B, H), d_gi.dtype)
    for k in range(T - 1, -2, -1):
        t, t_next = (T - 1 - k, T - 2 - k) if reverse else (k, k + 1)
        for p in prange(parts):
            lo, hi = _span(p, unit, H)
            if k + 1 < T:
                _propagate_units(step[(k + 1) % 2], w_hh, mask[t_next], tmp, d_h0, lo, hi, True)
            if k >= 0:
                cur = step[k % 2]
                for b in range(B):
                    if mask[t, b]:
                        _gru_units_back(gates[t, b], hn[t, b], hs[k, b], d_out[t, b], d_h0[b], d_gi[t, b], cur[b],
                                        lo, hi - lo)
                        src, dst = _gate(cur[b], 2, H, lo, hi - lo), d_ghn[t, b, lo:hi]
                        for u in range(hi - lo):
                            dst[u] = src[u]
                    else:
                        _zero_units(d_gi[t, b], 3, H, lo, hi - lo)
                        _zero_units(cur[b], 3, H, lo, hi - lo)
                        _zero(d_ghn[t, b, lo:hi])
    h_prev = _h_prev(hs, reverse).reshape(T * B, H)
    rz = d_gi.reshape(T * B, G)[:, :2 * H]  # the r and z rows of d_W_hh come from d_gi, the n rows from d_ghn
    ghn = d_ghn.reshape(T * B, H)
    for p in prange(parts):
        _finish_rows(rz, h_prev, d_w_hh[:2 * H], d_b_hh[:2 * H], p, parts)
        _finish_rows(ghn, h_prev, d_w_hh[2 * H:], d_b_hh[2 * H:], p, parts)
