"""Fused recurrent kernels: a whole sequence of RNN, LSTM or GRU steps in one compiled call.

The contract (shapes, saved arrays, mask and reverse semantics) is rnn/fused/CONTRACT.md.
The autograd Function has already projected every step's input, gi = x @ W_ih^T
(T, B, G*H; the biases are added inside the loop, which saves a pass over gi); what is
left is the recurrence, where step t needs the state of step t-1:

    forward, per step:  one matrix product  h_{t-1} @ W_hh^T          (B, H) x (H, G*H)
                        one fused pass      gate nonlinearities, state update, output
    backward, per step: one fused pass      d_gates from d_h (and d_c)
                        one matrix product  d_h_{t-1} = d_gates @ W_hh  (B, G*H) x (G*H, H)
    after the loop:     one big product     d_W_hh = d_gates^T @ h_prev  (G*H, T*B) x (T*B, H)

Why one compiled loop: done op by op from Python, every step pays several dispatches
(a few microseconds each) and numpy passes with temporaries; a 100-step LSTM at B=1 is
then all overhead. Here the per-step product goes to numpy's own BLAS from inside the
compiled loop (``_blas.gemm``), and the gate arithmetic is one vectorised pass in which
each gate value is loaded once. For a batch of one or two rows BLAS's call overhead
dominates (sgemm with M=1 measured 3-5x slower than a plain loop up to H=512), so
``_matmul`` takes a plain loop there.

Masks (T, B): where mask[t, b] is False the step is padding: the state is carried
unchanged, the output is 0, and the saved gates are 0. ``reverse`` walks t = T-1 .. 0;
hs/cs are indexed by steps processed (hs[k]), gates/out by time t.

Nonlinearities: tanh is ``_tanh32`` (a vectorisable rational approximation, float32) or
``_tanh64`` (libm exp, float64); sigmoid(x) = 0.5 tanh(x/2) + 0.5, which never overflows.
Constants are typed like the data (``one = dtype.type(1)``): a bare ``1`` would make a
float32 loop compute in float64.
"""
import numpy as np
from numba import types
from numba.extending import overload, register_jitable

from . import kernel
from ._blas import gemm, gemm_loop
from ._scalar import _tanh32, _tanh64

# A product with this many rows or fewer runs the plain loop instead of BLAS (see above).
LOOP_MAX_ROWS = 2


# ------------------------------------------------------------------ helpers
# _tanh and _sigmoid let one kernel source serve float32 and float64: compiled, the
# @overload picks the helper from the argument's type once, at typing time; interpreted
# (the "python" backend), the plain function looks at the scalar it is given.
def _tanh(x):
    """tanh at the precision of x (interpreted: picks the helper by the scalar's type)."""
    return _tanh32(x) if isinstance(x, np.float32) else _tanh64(x)


@overload(_tanh)
def _tanh_compiled(x):
    if x == types.float32:
        return lambda x: _tanh32(x)
    return lambda x: _tanh64(x)


def _sigmoid(x):
    """sigma(x) = 0.5 tanh(x / 2) + 0.5, with 0.5 typed like x (interpreted: by the scalar's type)."""
    half = type(x)(0.5)
    return half * _tanh(half * x) + half


@overload(_sigmoid)
def _sigmoid_compiled(x):
    half = np.float32(0.5) if x == types.float32 else 0.5
    return lambda x: half * _tanh(half * x) + half


@register_jitable
def _matmul(a, b, out, trans_a, trans_b):
    """out = op(a) @ op(b): BLAS, or a plain loop for tiny row counts where a call costs more."""
    if out.shape[0] <= LOOP_MAX_ROWS:
        gemm_loop(a, b, out, trans_a, trans_b)
    else:
        gemm(a, b, out, trans_a, trans_b)


@register_jitable
def _reduce_rows(d, out):
    """out[j] = sum over rows r of d[r, j], for d (R, N): the bias gradient of all steps at once."""
    zero = d.dtype.type(0)
    for j in range(out.shape[0]):
        out[j] = zero
    for r in range(d.shape[0]):
        for j in range(out.shape[0]):
            out[j] += d[r, j]


@register_jitable
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
@register_jitable
def _rnn_row(x, bias, relu, h, o):
    """h = act(h + x + bias) in place (h holds h_{t-1} W_hh^T), copied to the output row o."""
    zero = h.dtype.type(0)
    if relu:
        for j in range(h.shape[0]):
            v = h[j] + x[j] + bias[j]
            v = v if v > zero else zero
            h[j] = v
            o[j] = v
    else:
        for j in range(h.shape[0]):
            v = _tanh(h[j] + x[j] + bias[j])
            h[j] = v
            o[j] = v


@register_jitable
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


@register_jitable
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


@register_jitable
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
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_hh, hs[k + 1], False, True)
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
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_hh, gates[t], False, True)  # the recurrent pre-activations
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
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_hh, gates[t], False, True)
        for b in range(B):
            if mask[t, b]:
                _gru_row(gates[t, b], gi[t, b], b_ih, b_hh, hs[k, b], hs[k + 1, b], out[t, b], hn[t, b])
            else:
                _carry(hs[k, b], hs[k + 1, b], out[t, b])
                _zero(gates[t, b])
                _zero(hn[t, b])


# The wrappers that check shapes and allocate outputs are numba-free (the cython backend
# uses them too): minigrad/backends/recurrent_wrappers.py.
from ..recurrent_wrappers import RecurrentKernels  # noqa: E402,F401
