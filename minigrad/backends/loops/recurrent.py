"""Fused recurrent kernels: a whole sequence of RNN, LSTM or GRU steps in one compiled call.

The contract (shapes, saved arrays, mask and reverse semantics) is rnn/fused/CONTRACT.md.
The autograd Function has already projected every step's input, gi = x @ W_ih^T + b_ih
(T, B, G*H); what is left is the recurrence, where step t needs the state of step t-1:

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
def _rnn_row(x, b_hh, relu, h, o):
    """h = act(h + x + b_hh) in place (h holds h_{t-1} W_hh^T), copied to the output row o."""
    zero = h.dtype.type(0)
    if relu:
        for j in range(h.shape[0]):
            v = h[j] + x[j] + b_hh[j]
            v = v if v > zero else zero
            h[j] = v
            o[j] = v
    else:
        for j in range(h.shape[0]):
            v = _tanh(h[j] + x[j] + b_hh[j])
            h[j] = v
            o[j] = v


@register_jitable
def _lstm_row(g, x, b_hh, c_old, c_new, h_new, o):
    """g holds h_{t-1} W_hh^T (4H,) and is overwritten with the activated i, f, g, o."""
    H = o.shape[0]
    for j in range(H):
        i_ = _sigmoid(g[j] + x[j] + b_hh[j])
        f_ = _sigmoid(g[H + j] + x[H + j] + b_hh[H + j])
        g_ = _tanh(g[2 * H + j] + x[2 * H + j] + b_hh[2 * H + j])
        o_ = _sigmoid(g[3 * H + j] + x[3 * H + j] + b_hh[3 * H + j])
        c = f_ * c_old[j] + i_ * g_
        h = o_ * _tanh(c)
        g[j], g[H + j], g[2 * H + j], g[3 * H + j] = i_, f_, g_, o_
        c_new[j] = c
        h_new[j] = h
        o[j] = h


@register_jitable
def _gru_row(g, x, b_hh, h_old, h_new, o, hn):
    """g holds h_{t-1} W_hh^T (3H,) and is overwritten with the activated r, z, n."""
    H = o.shape[0]
    for j in range(H):
        r = _sigmoid(g[j] + x[j] + b_hh[j])
        z = _sigmoid(g[H + j] + x[H + j] + b_hh[H + j])
        hn_ = g[2 * H + j] + b_hh[2 * H + j]
        n = _tanh(x[2 * H + j] + r * hn_)
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
def rnn_forward_loop(gi, w_hh, b_hh, mask, reverse, relu, out, hs):
    """h_t = act(gi_t + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    gi (T, B, H), w_hh (H, H), b_hh (H,), mask (T, B) bool; writes out (T, B, H) and
    hs (T+1, B, H), whose hs[0] the caller has filled with h0.
    """
    T, B, H = out.shape
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_hh, hs[k + 1], False, True)
        for b in range(B):
            if mask[t, b]:
                _rnn_row(gi[t, b], b_hh, relu, hs[k + 1, b], out[t, b])
            else:
                _carry(hs[k, b], hs[k + 1, b], out[t, b])


@kernel
def lstm_forward_loop(gi, w_hh, b_hh, mask, reverse, out, hs, cs, gates):
    """LSTM, gate order i, f, g, o (PyTorch's):

        [i, f, g, o] = [sigma, sigma, tanh, sigma](gi_t + h_{t-1} W_hh^T + b_hh)
        c_t = f * c_{t-1} + i * g,     h_t = o * tanh(c_t)

    gi (T, B, 4H), w_hh (4H, H), b_hh (4H,); writes out (T, B, H), hs and cs
    (T+1, B, H; [0] filled by the caller) and gates (T, B, 4H), the activated i, f, g, o.
    """
    T, B, H = out.shape
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_hh, gates[t], False, True)  # the recurrent pre-activations
        for b in range(B):
            if mask[t, b]:
                _lstm_row(gates[t, b], gi[t, b], b_hh, cs[k, b], cs[k + 1, b], hs[k + 1, b], out[t, b])
            else:
                _carry(hs[k, b], hs[k + 1, b], out[t, b])
                _carry(cs[k, b], cs[k + 1, b], out[t, b])
                _zero(gates[t, b])


@kernel
def gru_forward_loop(gi, w_hh, b_hh, mask, reverse, out, hs, gates, hn):
    """GRU, gate order r, z, n (PyTorch's; r applies to W_hn h + b_hn):

        r = sigma(gi_r + h W_hr^T + b_hr),  z = sigma(gi_z + h W_hz^T + b_hz)
        hn = h W_hn^T + b_hn,               n = tanh(gi_n + r * hn)
        h_t = (1 - z) * n + z * h_{t-1}

    gi (T, B, 3H), w_hh (3H, H), b_hh (3H,); writes out (T, B, H), hs (T+1, B, H; hs[0]
    filled by the caller), gates (T, B, 3H) = activated r, z, n, and hn (T, B, H).
    """
    T, B, H = out.shape
    for k in range(T):
        t = T - 1 - k if reverse else k
        _matmul(hs[k], w_hh, gates[t], False, True)
        for b in range(B):
            if mask[t, b]:
                _gru_row(gates[t, b], gi[t, b], b_hh, hs[k, b], hs[k + 1, b], out[t, b], hn[t, b])
            else:
                _carry(hs[k, b], hs[k + 1, b], out[t, b])
                _zero(gates[t, b])
                _zero(hn[t, b])


# ------------------------------------------------------------------ wrappers
# The compiled loops do not check bounds, so the wrappers check every shape first: a
# wrong one must be a clear error, never a read past the end of an array.
def _arrays(name, dtype, **given):
    """{key: (array or None, expected shape)} -> {key: C-contiguous array or None}.

    Float arrays must all have ``dtype`` (float32 or float64); ``mask`` becomes bool.
    """
    if dtype != np.float32 and dtype != np.float64:
        raise TypeError(f"{name}: expected float32 or float64 arrays, got {dtype}")
    out = {}
    for key, (a, shape) in given.items():
        if a is None:
            out[key] = None
            continue
        if a.shape != shape:
            raise ValueError(f"{name}: {key} has shape {a.shape}, expected {shape}")
        if key != "mask" and a.dtype != dtype:
            raise TypeError(f"{name}: {key} is {a.dtype}, expected {dtype}")
        out[key] = np.ascontiguousarray(a, dtype=np.bool_ if key == "mask" else None)
    return out


def _dims(name, seq, other, steps_extra=0):
    """(T, B, H) from a (T[+steps_extra], B, .) sequence array and a (., H) array."""
    if seq.ndim != 3 or other.ndim != 2:
        raise ValueError(f"{name}: expected a 3-D (T, B, .) array and a 2-D (., H) array, got shapes "
                         f"{seq.shape} and {other.shape}")
    return seq.shape[0] - steps_extra, seq.shape[1], other.shape[1]


def _filled(a, shape, dtype, copy=False):
    """Arrays the kernels need even where the caller passed None: mask all True, zero gradients."""
    if a is None:
        return np.ones(shape, dtype=np.bool_) if dtype == np.bool_ else np.zeros(shape, dtype=dtype)
    return a.copy() if copy else a


def _states(s0, T):
    """(T+1, B, H) states with [0] = s0."""
    s = np.empty((T + 1,) + s0.shape, dtype=s0.dtype)
    s[0] = s0
    return s


class RecurrentKernels:
    """The fused sequence kernels of rnn/fused/CONTRACT.md (``cls.loops``: compiled or interpreted)."""

    @classmethod
    def rnn_forward(cls, gi, w_hh, b_hh, h0, mask, reverse, relu):
        T, B, H = _dims("rnn_forward", gi, h0)
        a = _arrays("rnn_forward", gi.dtype, gi=(gi, (T, B, H)), w_hh=(w_hh, (H, H)), b_hh=(b_hh, (H,)),
                    h0=(h0, (B, H)), mask=(mask, (T, B)))
        out, hs = np.empty((T, B, H), gi.dtype), _states(a["h0"], T)
        cls.loops.rnn_forward_loop(a["gi"], a["w_hh"], _filled(a["b_hh"], H, gi.dtype),
                                   _filled(a["mask"], (T, B), np.bool_), bool(reverse), bool(relu), out, hs)
        return out, hs

    @classmethod
    def rnn_backward(cls, hs, w_hh, mask, reverse, relu, d_out, d_hn):
        T, B, H = _dims("rnn_backward", hs, w_hh, steps_extra=1)
        a = _arrays("rnn_backward", hs.dtype, hs=(hs, (T + 1, B, H)), w_hh=(w_hh, (H, H)), mask=(mask, (T, B)),
                    d_out=(d_out, (T, B, H)), d_hn=(d_hn, (B, H)))
        dt = hs.dtype
        d_gi, d_w_hh, d_b_hh = np.empty((T, B, H), dt), np.empty((H, H), dt), np.empty(H, dt)
        d_h0 = _filled(a["d_hn"], (B, H), dt, copy=True)  # updated in place into d_h0
        cls.loops.rnn_backward_loop(a["hs"], a["w_hh"], _filled(a["mask"], (T, B), np.bool_), bool(reverse),
                                    bool(relu), _filled(a["d_out"], (T, B, H), dt), d_gi, d_w_hh, d_b_hh, d_h0)
        return d_gi, d_w_hh, d_b_hh, d_h0

    @classmethod
    def lstm_forward(cls, gi, w_hh, b_hh, h0, c0, mask, reverse):
        T, B, H = _dims("lstm_forward", gi, h0)
        G = 4 * H
        a = _arrays("lstm_forward", gi.dtype, gi=(gi, (T, B, G)), w_hh=(w_hh, (G, H)), b_hh=(b_hh, (G,)),
                    h0=(h0, (B, H)), c0=(c0, (B, H)), mask=(mask, (T, B)))
        out, gates = np.empty((T, B, H), gi.dtype), np.empty((T, B, G), gi.dtype)
        hs, cs = _states(a["h0"], T), _states(a["c0"], T)
        cls.loops.lstm_forward_loop(a["gi"], a["w_hh"], _filled(a["b_hh"], G, gi.dtype),
                                    _filled(a["mask"], (T, B), np.bool_), bool(reverse), out, hs, cs, gates)
        return out, hs, cs, gates

    @classmethod
    def lstm_backward(cls, gates, hs, cs, w_hh, mask, reverse, d_out, d_hn, d_cn):
        T, B, H = _dims("lstm_backward", hs, w_hh, steps_extra=1)
        G, dt = 4 * H, hs.dtype
        a = _arrays("lstm_backward", dt, gates=(gates, (T, B, G)), hs=(hs, (T + 1, B, H)), cs=(cs, (T + 1, B, H)),
                    w_hh=(w_hh, (G, H)), mask=(mask, (T, B)), d_out=(d_out, (T, B, H)), d_hn=(d_hn, (B, H)),
                    d_cn=(d_cn, (B, H)))
        d_gi, d_w_hh, d_b_hh = np.empty((T, B, G), dt), np.empty((G, H), dt), np.empty(G, dt)
        d_h0, d_c0 = _filled(a["d_hn"], (B, H), dt, copy=True), _filled(a["d_cn"], (B, H), dt, copy=True)
        cls.loops.lstm_backward_loop(a["gates"], a["hs"], a["cs"], a["w_hh"], _filled(a["mask"], (T, B), np.bool_),
                                     bool(reverse), _filled(a["d_out"], (T, B, H), dt), d_gi, d_w_hh, d_b_hh,
                                     d_h0, d_c0)
        return d_gi, d_w_hh, d_b_hh, d_h0, d_c0

    @classmethod
    def gru_forward(cls, gi, w_hh, b_hh, h0, mask, reverse):
        T, B, H = _dims("gru_forward", gi, h0)
        G = 3 * H
        a = _arrays("gru_forward", gi.dtype, gi=(gi, (T, B, G)), w_hh=(w_hh, (G, H)), b_hh=(b_hh, (G,)),
                    h0=(h0, (B, H)), mask=(mask, (T, B)))
        out, gates, hn = np.empty((T, B, H), gi.dtype), np.empty((T, B, G), gi.dtype), np.empty((T, B, H), gi.dtype)
        hs = _states(a["h0"], T)
        cls.loops.gru_forward_loop(a["gi"], a["w_hh"], _filled(a["b_hh"], G, gi.dtype),
                                   _filled(a["mask"], (T, B), np.bool_), bool(reverse), out, hs, gates, hn)
        return out, hs, gates, hn

    @classmethod
    def gru_backward(cls, gates, hn, hs, w_hh, mask, reverse, d_out, d_hn):
        T, B, H = _dims("gru_backward", hs, w_hh, steps_extra=1)
        G, dt = 3 * H, hs.dtype
        a = _arrays("gru_backward", dt, gates=(gates, (T, B, G)), hn=(hn, (T, B, H)), hs=(hs, (T + 1, B, H)),
                    w_hh=(w_hh, (G, H)), mask=(mask, (T, B)), d_out=(d_out, (T, B, H)), d_hn=(d_hn, (B, H)))
        d_gi, d_w_hh, d_b_hh = np.empty((T, B, G), dt), np.empty((G, H), dt), np.empty(G, dt)
        d_h0 = _filled(a["d_hn"], (B, H), dt, copy=True)
        cls.loops.gru_backward_loop(a["gates"], a["hn"], a["hs"], a["w_hh"], _filled(a["mask"], (T, B), np.bool_),
                                    bool(reverse), _filled(a["d_out"], (T, B, H), dt), d_gi, d_w_hh, d_b_hh, d_h0)
        return d_gi, d_w_hh, d_b_hh, d_h0
