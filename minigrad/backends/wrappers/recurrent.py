"""Recurrent kernels of the compiled CPU backends: check, allocate, call the sequence loop.

The numba, python and cython backends run the same six sequence loops (numba's in
``loops/recurrent.py``, Cython's in ``cython/recurrent.pyx``); the functions here are what
all three put in front of them, ``L`` mapping a dtype character to whose loops run.
The compiled loops do not check bounds, so every shape is checked first: a wrong one
must be a clear error, never a read past the end of an array.

The contract (shapes, saved arrays, mask and reverse semantics) is ``backends/kernel_set.py``.
One thing the wrappers do so that the loops stay simple: an RNN or LSTM adds b_ih and
b_hh to the same pre-activation, so its loop gets their sum, one (G*H,) vector; a GRU's
n gate keeps them apart (r scales only W_hn h + b_hn), so its loop gets both. A missing
bias is a zero vector, a missing upstream gradient a zero array, a missing mask all True.

How a sequence runs, one BLAS call per step or with the hidden units split across cores,
is chosen per call by ``_recurrent_plan.py``.
"""
import numpy as np

from ._recurrent_plan import run_loop as _run


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


def _bias_sum(a, size, dtype):
    """b_ih + b_hh as one vector (either may be missing)."""
    b_ih, b_hh = a["b_ih"], a["b_hh"]
    if b_ih is None or b_hh is None:
        return _filled(b_hh if b_ih is None else b_ih, size, dtype)
    return b_ih + b_hh


def _states(s0, T):
    """(T+1, B, H) states with [0] = s0."""
    s = np.empty((T + 1,) + s0.shape, dtype=s0.dtype)
    s[0] = s0
    return s


def rnn_forward(L, gi, w_hh, b_ih, b_hh, h0, mask, reverse, relu):
    T, B, H = _dims("rnn_forward", gi, h0)
    a = _arrays("rnn_forward", gi.dtype, gi=(gi, (T, B, H)), w_hh=(w_hh, (H, H)), b_ih=(b_ih, (H,)),
                b_hh=(b_hh, (H,)), h0=(h0, (B, H)), mask=(mask, (T, B)))
    hs = _states(a["h0"], T)
    out = np.empty((T, B, H), gi.dtype)
    _run(L, gi.dtype, "rnn_forward", B, H, 1, (a["gi"], a["w_hh"], _bias_sum(a, H, gi.dtype),
                                               _filled(a["mask"], (T, B), np.bool_), bool(reverse), bool(relu)),
         (out, hs))
    return out, hs


def rnn_backward(L, hs, w_hh, mask, reverse, relu, d_out, d_hn):
    T, B, H = _dims("rnn_backward", hs, w_hh, steps_extra=1)
    a = _arrays("rnn_backward", hs.dtype, hs=(hs, (T + 1, B, H)), w_hh=(w_hh, (H, H)), mask=(mask, (T, B)),
                d_out=(d_out, (T, B, H)), d_hn=(d_hn, (B, H)))
    dt = hs.dtype
    d_gi, d_w_hh, d_b_hh = np.empty((T, B, H), dt), np.empty((H, H), dt), np.empty(H, dt)
    d_h0 = _filled(a["d_hn"], (B, H), dt, copy=True)  # updated in place into d_h0
    _run(L, dt, "rnn_backward", B, H, 1, (a["hs"], a["w_hh"], _filled(a["mask"], (T, B), np.bool_), bool(reverse),
                                           bool(relu)),
         (_filled(a["d_out"], (T, B, H), dt), d_gi, d_w_hh, d_b_hh, d_h0))
    return d_gi, d_w_hh, d_b_hh, d_h0


def lstm_forward(L, gi, w_hh, b_ih, b_hh, h0, c0, mask, reverse):
    T, B, H = _dims("lstm_forward", gi, h0)
    G = 4 * H
    a = _arrays("lstm_forward", gi.dtype, gi=(gi, (T, B, G)), w_hh=(w_hh, (G, H)), b_ih=(b_ih, (G,)),
                b_hh=(b_hh, (G,)), h0=(h0, (B, H)), c0=(c0, (B, H)), mask=(mask, (T, B)))
    gates = np.empty((T, B, G), gi.dtype)
    hs, cs = _states(a["h0"], T), _states(a["c0"], T)
    out = np.empty((T, B, H), gi.dtype)
    _run(L, gi.dtype, "lstm_forward", B, H, 4, (a["gi"], a["w_hh"], _bias_sum(a, G, gi.dtype),
                                                _filled(a["mask"], (T, B), np.bool_), bool(reverse)),
         (out, hs, cs, gates))
    return out, hs, cs, gates


def lstm_backward(L, gates, hs, cs, w_hh, mask, reverse, d_out, d_hn, d_cn):
    T, B, H = _dims("lstm_backward", hs, w_hh, steps_extra=1)
    G, dt = 4 * H, hs.dtype
    a = _arrays("lstm_backward", dt, gates=(gates, (T, B, G)), hs=(hs, (T + 1, B, H)), cs=(cs, (T + 1, B, H)),
                w_hh=(w_hh, (G, H)), mask=(mask, (T, B)), d_out=(d_out, (T, B, H)), d_hn=(d_hn, (B, H)),
                d_cn=(d_cn, (B, H)))
    d_gi, d_w_hh, d_b_hh = np.empty((T, B, G), dt), np.empty((G, H), dt), np.empty(G, dt)
    d_h0, d_c0 = _filled(a["d_hn"], (B, H), dt, copy=True), _filled(a["d_cn"], (B, H), dt, copy=True)
    _run(L, dt, "lstm_backward", B, H, 4, (a["gates"], a["hs"], a["cs"], a["w_hh"],
                                            _filled(a["mask"], (T, B), np.bool_), bool(reverse)),
         (_filled(a["d_out"], (T, B, H), dt), d_gi, d_w_hh, d_b_hh, d_h0, d_c0))
    return d_gi, d_w_hh, d_b_hh, d_h0, d_c0


def gru_forward(L, gi, w_hh, b_ih, b_hh, h0, mask, reverse):
    T, B, H = _dims("gru_forward", gi, h0)
    G, dt = 3 * H, gi.dtype
    a = _arrays("gru_forward", dt, gi=(gi, (T, B, G)), w_hh=(w_hh, (G, H)), b_ih=(b_ih, (G,)),
                b_hh=(b_hh, (G,)), h0=(h0, (B, H)), mask=(mask, (T, B)))
    gates, hn = np.empty((T, B, G), dt), np.empty((T, B, H), dt)
    hs = _states(a["h0"], T)
    out = np.empty((T, B, H), dt)
    _run(L, dt, "gru_forward", B, H, 3, (a["gi"], a["w_hh"], _filled(a["b_ih"], G, dt), _filled(a["b_hh"], G, dt),
                                          _filled(a["mask"], (T, B), np.bool_), bool(reverse)),
         (out, hs, gates, hn))
    return out, hs, gates, hn


def gru_backward(L, gates, hn, hs, w_hh, mask, reverse, d_out, d_hn):
    T, B, H = _dims("gru_backward", hs, w_hh, steps_extra=1)
    G, dt = 3 * H, hs.dtype
    a = _arrays("gru_backward", dt, gates=(gates, (T, B, G)), hn=(hn, (T, B, H)), hs=(hs, (T + 1, B, H)),
                w_hh=(w_hh, (G, H)), mask=(mask, (T, B)), d_out=(d_out, (T, B, H)), d_hn=(d_hn, (B, H)))
    d_gi, d_w_hh, d_b_hh = np.empty((T, B, G), dt), np.empty((G, H), dt), np.empty(G, dt)
    d_h0 = _filled(a["d_hn"], (B, H), dt, copy=True)
    _run(L, dt, "gru_backward", B, H, 3, (a["gates"], a["hn"], a["hs"], a["w_hh"],
                                           _filled(a["mask"], (T, B), np.bool_), bool(reverse)),
         (_filled(a["d_out"], (T, B, H), dt), d_gi, d_w_hh, d_b_hh, d_h0))
    return d_gi, d_w_hh, d_b_hh, d_h0
