"""RNN, LSTM and GRU over a whole sequence on the GPU: forward and BPTT, two ways.

The contract (shapes, saved arrays, mask and reverse) is ``backends/kernel_set.py``;
the equations are those of ``backends/reference/recurrent.py``. What decides the design
on a GPU is launch cost: launching a kernel costs the host 15-100 us (docs/cuda.md), so
a design with several launches per time step spends its time launching. Two paths:

* **sequence kernel** (one launch per layer and direction, forward; one backward): each
  thread block owns one batch row and loops over time inside the kernel. h_{t-1} (and in
  backward dh, dc and the step's gate gradients) lives in shared memory; each thread
  computes the gates of a few hidden units, reading W_hh from global memory (it stays in
  L2 across steps), stored transposed so that the threads of a warp read consecutive
  addresses. Threads wait for each other once per step (``syncthreads``): no
  grid-wide synchronisation, so it also runs in numba's simulator.
* **per step**: per time step one GEMM ``h @ W_hh^T`` (the tiled kernel of ``matmul.py``,
  which keeps every SM busy when the batch is large) and one fused pointwise kernel.

``MINIGRAD_CUDA_RNN=sequence`` or ``step`` picks one; by default the sequence kernel runs
unless the batch is large enough (B >= 64) for per-step GEMMs to pay for their launches.
After either, dW_hh is ONE product over all steps, d_gates^T @ h_prev, and d_b_hh a sum.
"""
import functools
import math
import os

import numpy as np
from numba import from_dtype

from ._device import contiguous, copy_to, cuda, empty, launch, upload
from .arrays import flip, full, getitem, reshape, setitem, transpose
from .elementwise import add
from .matmul import matmul
from .reduce import sum as reduce_sum

STEP_PATH_MIN_BATCH = 64
MAX_THREADS = 256


SHARED_BYTES = 48 * 1024  # shared memory a block may always ask for (more needs an opt-in per kernel)


def _path(batch, hidden=0, itemsize=4):
    """"sequence" or "step": MINIGRAD_CUDA_RNN if set, else by batch size. The sequence
    kernel's backward keeps up to 5H numbers in shared memory; a hidden size past what a
    block may hold (H > 2457 in float32) always takes the per-step path."""
    if 5 * hidden * itemsize > SHARED_BYTES:
        return "step"
    choice = os.environ.get("MINIGRAD_CUDA_RNN", "auto")
    if choice in ("sequence", "step"):
        return choice
    return "step" if batch >= STEP_PATH_MIN_BATCH else "sequence"


# ------------------------------------------------------------- device math
@cuda.jit(device=True)
def _sigmoid(x):
    e = math.exp(-x if x >= 0 else x)  # e^{-|x|} <= 1: no overflow; the negative tail stays exact
    return (1.0 if x >= 0 else e) / (1.0 + e)


@cuda.jit(device=True)
def _tanh(x):
    return math.tanh(x)


@cuda.jit(device=True)
def _real(mask, masked, t, B, b):
    """Is step t of sequence b a real step (not padding)?"""
    return (not masked) or mask[t * B + b] != 0


@cuda.jit(device=True)
def _to_shared(dst, src, base, n):
    """The block's threads copy src[base:base + n] into the shared array dst, then wait for each other."""
    for j in range(cuda.threadIdx.x, n, cuda.blockDim.x):
        dst[j] = src[base + j]
    cuda.syncthreads()


@cuda.jit(device=True)
def _from_shared(dst, base, src, n):
    """dst[base:base + n] = the shared array src (the block's threads share the copy)."""
    for j in range(cuda.threadIdx.x, n, cuda.blockDim.x):
        dst[base + j] = src[j]


# ------------------------------------------------------------ sequence kernels
@functools.lru_cache(maxsize=None)
def _sequence_kernels(char):
    """The six sequence kernels for one float dtype (shared memory needs the type at compile time)."""
    ft = from_dtype(np.dtype(char))

    @cuda.jit
    def rnn_fwd(gi, w_t, bias, mask, masked, reverse, relu, T, B, H, out, hs):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        h = cuda.shared.array(0, ft)
        _to_shared(h, hs, b * H, H)
        for k in range(T):
            t = T - 1 - k if reverse else k
            real = _real(mask, masked, t, B, b)
            row = (t * B + b) * H
            nxt = ((k + 1) * B + b) * H
            for j in range(tid, H, nt):
                a = gi[row + j] + bias[j]
                for q in range(H):
                    a += w_t[q * H + j] * h[q]
                if real:
                    v = (0.0 if a <= 0 else a) if relu else _tanh(a)  # relu keeps NaN (a <= 0 is false)
                    hs[nxt + j] = v
                    out[row + j] = v
                else:
                    hs[nxt + j] = h[j]
                    out[row + j] = 0
            cuda.syncthreads()
            _to_shared(h, hs, nxt, H)  # publish h_t to the block for the next step

    @cuda.jit
    def rnn_bwd(hs, w_hh, mask, masked, reverse, relu, T, B, H, d_out, d_gi, d_h):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        smem = cuda.shared.array(0, ft)
        dh, dg = smem[:H], smem[H:2 * H]
        _to_shared(dh, d_h, b * H, H)
        for k in range(T - 1, -1, -1):
            t = T - 1 - k if reverse else k
            real = _real(mask, masked, t, B, b)
            row = (t * B + b) * H
            for j in range(tid, H, nt):
                g = 0.0
                if real:
                    y = hs[((k + 1) * B + b) * H + j]
                    d = dh[j] + d_out[row + j]
                    g = (0.0 if y <= 0 else d) if relu else d * (1 - y * y)
                dg[j] = g
                d_gi[row + j] = g
            cuda.syncthreads()
            if real:  # the same for the whole block (t and b are): no thread skips a syncthreads
                for j in range(tid, H, nt):  # dh = dg @ W_hh (this phase reads dg only)
                    acc = ft(0)
                    for r in range(H):
                        acc += dg[r] * w_hh[r * H + j]
                    dh[j] = acc
            cuda.syncthreads()
        _from_shared(d_h, b * H, dh, H)

    @cuda.jit
    def lstm_fwd(gi, w_t, bias, mask, masked, reverse, T, B, H, out, hs, cs, gates):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        G = 4 * H
        h = cuda.shared.array(0, ft)
        _to_shared(h, hs, b * H, H)
        for k in range(T):
            t = T - 1 - k if reverse else k
            real = _real(mask, masked, t, B, b)
            grow = (t * B + b) * G
            now, nxt = (k * B + b) * H, ((k + 1) * B + b) * H
            for j in range(tid, H, nt):
                ai, af = gi[grow + j] + bias[j], gi[grow + H + j] + bias[H + j]
                ag, ao = gi[grow + 2 * H + j] + bias[2 * H + j], gi[grow + 3 * H + j] + bias[3 * H + j]
                for q in range(H):  # the four gate rows of unit j, h_{t-1} from shared memory
                    hq, wq = h[q], q * G
                    ai += w_t[wq + j] * hq
                    af += w_t[wq + H + j] * hq
                    ag += w_t[wq + 2 * H + j] * hq
                    ao += w_t[wq + 3 * H + j] * hq
                if real:
                    i, f, g, o = _sigmoid(ai), _sigmoid(af), _tanh(ag), _sigmoid(ao)
                    c = f * cs[now + j] + i * g
                    hv = o * _tanh(c)
                    gates[grow + j], gates[grow + H + j], gates[grow + 2 * H + j], gates[grow + 3 * H + j] = i, f, g, o
                    cs[nxt + j], hs[nxt + j] = c, hv
                    out[(t * B + b) * H + j] = hv
                else:  # padding: the state is carried, the output and the saved gates are 0
                    gates[grow + j], gates[grow + H + j], gates[grow + 2 * H + j], gates[grow + 3 * H + j] = 0, 0, 0, 0
                    cs[nxt + j], hs[nxt + j] = cs[now + j], h[j]
                    out[(t * B + b) * H + j] = 0
            cuda.syncthreads()
            _to_shared(h, hs, nxt, H)  # publish h_t to the block for the next step

    @cuda.jit
    def lstm_bwd(gates, hs, cs, w_hh, mask, masked, reverse, T, B, H, d_out, d_gi, d_h, d_c):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        G = 4 * H
        smem = cuda.shared.array(0, ft)
        dh, dg = smem[:H], smem[H:H + G]
        _to_shared(dh, d_h, b * H, H)
        for k in range(T - 1, -1, -1):
            t = T - 1 - k if reverse else k
            real = _real(mask, masked, t, B, b)
            grow = (t * B + b) * G
            for j in range(tid, H, nt):
                if real:
                    i, f, g, o = gates[grow + j], gates[grow + H + j], gates[grow + 2 * H + j], gates[grow + 3 * H + j]
                    tc = _tanh(cs[((k + 1) * B + b) * H + j])
                    dhj = dh[j] + d_out[(t * B + b) * H + j]
                    dcj = d_c[b * H + j] + dhj * o * (1 - tc * tc)
                    dg[j] = dcj * g * i * (1 - i)
                    dg[H + j] = dcj * cs[(k * B + b) * H + j] * f * (1 - f)
                    dg[2 * H + j] = dcj * i * (1 - g * g)
                    dg[3 * H + j] = dhj * tc * o * (1 - o)
                    d_c[b * H + j] = dcj * f
                else:
                    dg[j], dg[H + j], dg[2 * H + j], dg[3 * H + j] = 0, 0, 0, 0
                for r in range(4):
                    d_gi[grow + r * H + j] = dg[r * H + j]
            cuda.syncthreads()
            if real:
                for j in range(tid, H, nt):
                    acc = ft(0)
                    for r in range(G):
                        acc += dg[r] * w_hh[r * H + j]
                    dh[j] = acc
            cuda.syncthreads()
        _from_shared(d_h, b * H, dh, H)

    @cuda.jit
    def gru_fwd(gi, w_t, b_ih, b_hh, mask, masked, reverse, T, B, H, out, hs, gates, hn):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        G = 3 * H
        h = cuda.shared.array(0, ft)
        _to_shared(h, hs, b * H, H)
        for k in range(T):
            t = T - 1 - k if reverse else k
            real = _real(mask, masked, t, B, b)
            grow = (t * B + b) * G
            nxt = ((k + 1) * B + b) * H
            for j in range(tid, H, nt):
                gr, gz, gn = b_hh[j], b_hh[H + j], b_hh[2 * H + j]
                for q in range(H):
                    hq, wq = h[q], q * G
                    gr += w_t[wq + j] * hq
                    gz += w_t[wq + H + j] * hq
                    gn += w_t[wq + 2 * H + j] * hq
                if real:
                    r = _sigmoid(gi[grow + j] + b_ih[j] + gr)
                    z = _sigmoid(gi[grow + H + j] + b_ih[H + j] + gz)
                    n = _tanh(gi[grow + 2 * H + j] + b_ih[2 * H + j] + r * gn)
                    hv = n + z * (h[j] - n)  # (1 - z) n + z h
                    gates[grow + j], gates[grow + H + j], gates[grow + 2 * H + j] = r, z, n
                    hn[(t * B + b) * H + j] = gn
                    hs[nxt + j] = hv
                    out[(t * B + b) * H + j] = hv
                else:
                    gates[grow + j], gates[grow + H + j], gates[grow + 2 * H + j] = 0, 0, 0
                    hn[(t * B + b) * H + j] = 0
                    hs[nxt + j] = h[j]
                    out[(t * B + b) * H + j] = 0
            cuda.syncthreads()
            _to_shared(h, hs, nxt, H)  # publish h_t to the block for the next step

    @cuda.jit
    def gru_bwd(gates, hn, hs, w_hh, mask, masked, reverse, T, B, H, d_out, d_gi, d_gh, d_h):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        G = 3 * H
        smem = cuda.shared.array(0, ft)
        dh, dgh = smem[:H], smem[H:H + G]
        _to_shared(dh, d_h, b * H, H)
        for k in range(T - 1, -1, -1):
            t = T - 1 - k if reverse else k
            real = _real(mask, masked, t, B, b)
            grow = (t * B + b) * G
            for j in range(tid, H, nt):
                if real:
                    r, z, n = gates[grow + j], gates[grow + H + j], gates[grow + 2 * H + j]
                    dhj = dh[j] + d_out[(t * B + b) * H + j]
                    dn = dhj * (1 - z) * (1 - n * n)
                    dz = dhj * (hs[(k * B + b) * H + j] - n) * z * (1 - z)
                    dr = dn * hn[(t * B + b) * H + j] * r * (1 - r)
                    d_gi[grow + j], d_gi[grow + H + j], d_gi[grow + 2 * H + j] = dr, dz, dn
                    dgh[j], dgh[H + j], dgh[2 * H + j] = dr, dz, dn * r
                    dh[j] = dhj * z  # the direct path (only this thread reads dh[j]); dgh @ W_hh is added below
                else:
                    d_gi[grow + j], d_gi[grow + H + j], d_gi[grow + 2 * H + j] = 0, 0, 0
                    dgh[j], dgh[H + j], dgh[2 * H + j] = 0, 0, 0
                for r2 in range(3):
                    d_gh[grow + r2 * H + j] = dgh[r2 * H + j]
            cuda.syncthreads()
            if real:
                for j in range(tid, H, nt):
                    acc = dh[j]
                    for r2 in range(G):
                        acc += dgh[r2] * w_hh[r2 * H + j]
                    dh[j] = acc
            cuda.syncthreads()
        _from_shared(d_h, b * H, dh, H)

    return dict(rnn_fwd=rnn_fwd, rnn_bwd=rnn_bwd, lstm_fwd=lstm_fwd, lstm_bwd=lstm_bwd, gru_fwd=gru_fwd,
                gru_bwd=gru_bwd)


# ------------------------------------------------------------ per-step kernels
# One thread per (batch row b, hidden unit j), i = b * H + j; gh = h_{t-1} @ W_hh^T of this
# step (the GEMM just before), t the step's time, k its place in processing order.
@cuda.jit
def _rnn_step(gh, gi, bias, mask, masked, t, k, relu, B, H, out, hs):
    i = cuda.grid(1)
    if i < B * H:
        b, j = i // H, i % H
        if _real(mask, masked, t, B, b):
            a = gi[t * B * H + i] + gh[i] + bias[j]
            v = (0.0 if a <= 0 else a) if relu else _tanh(a)
            hs[(k + 1) * B * H + i], out[t * B * H + i] = v, v
        else:
            hs[(k + 1) * B * H + i], out[t * B * H + i] = hs[k * B * H + i], 0


@cuda.jit
def _lstm_step(gh, gi, bias, mask, masked, t, k, B, H, out, hs, cs, gates):
    i = cuda.grid(1)
    if i < B * H:
        b, j = i // H, i % H
        G, now, nxt = 4 * H, k * B * H + i, (k + 1) * B * H + i
        row, grow = b * G + j, (t * B + b) * G + j
        if _real(mask, masked, t, B, b):
            ig = _sigmoid(gi[grow] + gh[row] + bias[j])
            fg = _sigmoid(gi[grow + H] + gh[row + H] + bias[H + j])
            gg = _tanh(gi[grow + 2 * H] + gh[row + 2 * H] + bias[2 * H + j])
            og = _sigmoid(gi[grow + 3 * H] + gh[row + 3 * H] + bias[3 * H + j])
            c = fg * cs[now] + ig * gg
            hv = og * _tanh(c)
            gates[grow], gates[grow + H], gates[grow + 2 * H], gates[grow + 3 * H] = ig, fg, gg, og
            cs[nxt], hs[nxt], out[t * B * H + i] = c, hv, hv
        else:
            gates[grow], gates[grow + H], gates[grow + 2 * H], gates[grow + 3 * H] = 0, 0, 0, 0
            cs[nxt], hs[nxt], out[t * B * H + i] = cs[now], hs[now], 0


@cuda.jit
def _gru_step(gh, gi, b_ih, b_hh, mask, masked, t, k, B, H, out, hs, gates, hn):
    i = cuda.grid(1)
    if i < B * H:
        b, j = i // H, i % H
        G, now = 3 * H, k * B * H + i
        row, grow = b * G + j, (t * B + b) * G + j
        if _real(mask, masked, t, B, b):
            r = _sigmoid(gi[grow] + b_ih[j] + gh[row] + b_hh[j])
            z = _sigmoid(gi[grow + H] + b_ih[H + j] + gh[row + H] + b_hh[H + j])
            gn = gh[row + 2 * H] + b_hh[2 * H + j]
            n = _tanh(gi[grow + 2 * H] + b_ih[2 * H + j] + r * gn)
            hv = n + z * (hs[now] - n)
            gates[grow], gates[grow + H], gates[grow + 2 * H] = r, z, n
            hn[t * B * H + i], hs[now + B * H], out[t * B * H + i] = gn, hv, hv
        else:
            gates[grow], gates[grow + H], gates[grow + 2 * H] = 0, 0, 0
            hn[t * B * H + i], hs[now + B * H], out[t * B * H + i] = 0, hs[now], 0


# Backward, per step: first *settle* dh, the gradient of this step's new state, from the
# previous (later-in-time) step: where that step was real, dh = prop (+ direct), prop the
# GEMM d_gates @ W_hh that followed it and direct the GRU's z * dh_new; where it was
# padding dh passed through unchanged. Then the step's gate gradients, as in the sequence
# kernels. ``tp`` is the previous step's time, < 0 at the first step (nothing to settle).
@cuda.jit(device=True)
def _settle(i, prop, direct, has_direct, mask, masked, tp, B, H, dh):
    if tp >= 0 and _real(mask, masked, tp, B, i // H):
        dh[i] = prop[i] + direct[i] if has_direct else prop[i]


@cuda.jit
def _settle_last(prop, direct, has_direct, mask, masked, tp, B, H, dh):
    i = cuda.grid(1)
    if i < B * H:
        _settle(i, prop, direct, has_direct, mask, masked, tp, B, H, dh)


@cuda.jit
def _rnn_back_step(prop, mask, masked, tp, t, k, relu, B, H, hs, d_out, d_gi, dh):
    i = cuda.grid(1)
    if i < B * H:
        _settle(i, prop, prop, False, mask, masked, tp, B, H, dh)
        g = 0.0
        if _real(mask, masked, t, B, i // H):
            y, d = hs[(k + 1) * B * H + i], dh[i] + d_out[t * B * H + i]
            g = (0.0 if y <= 0 else d) if relu else d * (1 - y * y)
        d_gi[t * B * H + i] = g


@cuda.jit
def _lstm_back_step(prop, mask, masked, tp, t, k, B, H, gates, hs, cs, d_out, d_gi, dh, dc):
    i = cuda.grid(1)
    if i < B * H:
        _settle(i, prop, prop, False, mask, masked, tp, B, H, dh)
        b, j = i // H, i % H
        grow = (t * B + b) * 4 * H + j
        if _real(mask, masked, t, B, b):
            ig, fg, gg, og = gates[grow], gates[grow + H], gates[grow + 2 * H], gates[grow + 3 * H]
            tc = _tanh(cs[(k + 1) * B * H + i])
            dhj = dh[i] + d_out[t * B * H + i]
            dcj = dc[i] + dhj * og * (1 - tc * tc)
            d_gi[grow] = dcj * gg * ig * (1 - ig)
            d_gi[grow + H] = dcj * cs[k * B * H + i] * fg * (1 - fg)
            d_gi[grow + 2 * H] = dcj * ig * (1 - gg * gg)
            d_gi[grow + 3 * H] = dhj * tc * og * (1 - og)
            dc[i] = dcj * fg
        else:
            d_gi[grow], d_gi[grow + H], d_gi[grow + 2 * H], d_gi[grow + 3 * H] = 0, 0, 0, 0


@cuda.jit
def _gru_back_step(prop, direct, mask, masked, tp, t, k, B, H, gates, hn, hs, d_out, d_gi, d_gh, dh):
    i = cuda.grid(1)
    if i < B * H:
        _settle(i, prop, direct, True, mask, masked, tp, B, H, dh)
        b, j = i // H, i % H
        grow = (t * B + b) * 3 * H + j
        if _real(mask, masked, t, B, b):
            r, z, n = gates[grow], gates[grow + H], gates[grow + 2 * H]
            dhj = dh[i] + d_out[t * B * H + i]
            dn = dhj * (1 - z) * (1 - n * n)
            dz = dhj * (hs[k * B * H + i] - n) * z * (1 - z)
            dr = dn * hn[t * B * H + i] * r * (1 - r)
            d_gi[grow], d_gi[grow + H], d_gi[grow + 2 * H] = dr, dz, dn
            d_gh[grow], d_gh[grow + H], d_gh[grow + 2 * H] = dr, dz, dn * r
            direct[i] = dhj * z
        else:
            d_gi[grow], d_gi[grow + H], d_gi[grow + 2 * H] = 0, 0, 0
            d_gh[grow], d_gh[grow + H], d_gh[grow + 2 * H] = 0, 0, 0


# ------------------------------------------------------------ host helpers
def _order(T, reverse):
    """(k, t) pairs: the k-th processed step is at time t."""
    return [(k, T - 1 - k if reverse else k) for k in range(T)]


def _mask(mask, T, B):
    """(device uint8 mask, masked?): a (T, B) host mask sent once per call, or a 1-element stand-in."""
    if mask is None:
        return full((1,), 1, np.uint8).buf, False
    return upload(np.ascontiguousarray(mask, dtype=np.uint8).reshape(-1)).buf, True


def _states(s0, T):
    """(T+1, B, H) states with [0] = s0."""
    s = empty((T + 1,) + tuple(s0.shape), s0.dtype)
    setitem(s, 0, s0)
    return s


def _bias_sum(b_ih, b_hh, size, dtype):
    """b_ih + b_hh as one contiguous vector (an RNN or LSTM adds both to one pre-activation)."""
    if b_ih is None or b_hh is None:
        return _zeros_or(b_hh if b_ih is None else b_ih, (size,), dtype)
    return add(b_ih, b_hh)


def _zeros_or(a, shape, dtype):
    """a, contiguous, or zeros of ``shape`` where it is None (a bias or gradient not given)."""
    return full(shape, 0, dtype) if a is None else contiguous(a)


def _fresh(a, shape, dtype):
    """A new contiguous array the kernels update in place: a copy of ``a`` (never the caller's), or zeros."""
    return full(shape, 0, dtype) if a is None else copy_to(a)


def _launch_sequence(name, dtype, B, H, shared_floats, *args):
    """One block per batch row, up to MAX_THREADS threads sharing its hidden units."""
    kernel = _sequence_kernels(np.dtype(dtype).char)[name]
    kernel[max(B, 1), max(1, min(H, MAX_THREADS)), 0, shared_floats * np.dtype(dtype).itemsize](*args)


def _backward_steps(order, w_hh, d_g, stand_in, step):
    """The per-step backward path's time loop: ``step(tp, t, k, prop)`` launches one step's
    kernel, then one GEMM propagates its gate gradients, prop = d_g[t] @ W_hh. Returns the
    last (prop, tp), which the caller settles into dh with one more launch."""
    prop, tp = stand_in, -1  # (nothing to settle at the first step: any buffer stands in for prop)
    for k, t in reversed(order):
        step(tp, t, k, prop)
        prop, tp = matmul(getitem(d_g, t), w_hh).buf, t
    return prop, tp


def _hh_grads(d_gh, hs, reverse):
    """d_W_hh = sum over steps of d_gh[t]^T h_prev[t] (one GEMM) and d_b_hh = sum of d_gh."""
    T, B, G = d_gh.shape
    H = hs.shape[-1]
    prev = getitem(hs, slice(0, T))
    if reverse:
        prev = flip(prev, (0,))
    g2 = reshape(d_gh, (T * B, G))
    return matmul(transpose(g2, (1, 0)), reshape(prev, (T * B, H))), reduce_sum(g2, (0,), False)


def _check(gi, h0):
    if gi.dtype.char not in "fd" or h0.dtype != gi.dtype:
        raise TypeError(f"recurrent kernels: float32 or float64 arrays of one dtype expected, got {gi.dtype} "
                        f"and {h0.dtype}")


# ============================================================= fused kernels
def rnn_forward(gi, w_hh, b_ih, b_hh, h0, mask, reverse, relu):
    _check(gi, h0)
    T, B, H = gi.shape[0], h0.shape[0], h0.shape[1]
    out, hs = empty((T, B, H), gi.dtype), _states(h0, T)
    if T and B:
        m, masked = _mask(mask, T, B)
        gi, bias = contiguous(gi), _bias_sum(b_ih, b_hh, H, gi.dtype)
        w_t = contiguous(transpose(w_hh, (1, 0)))  # W_hh^T (H, G*H) packed once: both paths read it
        if _path(B, H, hs.dtype.itemsize) == "sequence":
            _launch_sequence("rnn_fwd", gi.dtype, B, H, H, gi.buf, w_t.buf,
                             bias.buf, m, masked, bool(reverse), bool(relu), T, B, H, out.buf, hs.buf)
        else:
            for k, t in _order(T, reverse):
                gh = matmul(getitem(hs, k), w_t)
                launch(_rnn_step, B * H, gh.buf, gi.buf, bias.buf, m, masked, t, k, bool(relu), B, H, out.buf,
                       hs.buf)
    return out, hs


def rnn_backward(hs, w_hh, mask, reverse, relu, d_out, d_hn):
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    d_gi, d_h = empty((T, B, H), hs.dtype), _fresh(d_hn, (B, H), hs.dtype)
    if T and B:
        m, masked = _mask(mask, T, B)
        d_out = _zeros_or(d_out, (T, B, H), hs.dtype)
        if _path(B, H, hs.dtype.itemsize) == "sequence":
            _launch_sequence("rnn_bwd", hs.dtype, B, H, 2 * H, hs.buf, contiguous(w_hh).buf, m, masked,
                             bool(reverse), bool(relu), T, B, H, d_out.buf, d_gi.buf, d_h.buf)
        else:
            def step(tp, t, k, prop):
                launch(_rnn_back_step, B * H, prop, m, masked, tp, t, k, bool(relu), B, H, hs.buf, d_out.buf,
                       d_gi.buf, d_h.buf)
            prop, tp = _backward_steps(_order(T, reverse), w_hh, d_gi, d_h.buf, step)
            launch(_settle_last, B * H, prop, prop, False, m, masked, tp, B, H, d_h.buf)
    d_w_hh, d_b_hh = _hh_grads(d_gi, hs, reverse)
    return d_gi, d_w_hh, d_b_hh, d_h


def lstm_forward(gi, w_hh, b_ih, b_hh, h0, c0, mask, reverse):
    _check(gi, h0)
    T, B, H = gi.shape[0], h0.shape[0], h0.shape[1]
    out, hs, cs = empty((T, B, H), gi.dtype), _states(h0, T), _states(c0, T)
    gates = empty((T, B, 4 * H), gi.dtype)
    if T and B:
        m, masked = _mask(mask, T, B)
        gi, bias = contiguous(gi), _bias_sum(b_ih, b_hh, 4 * H, gi.dtype)
        w_t = contiguous(transpose(w_hh, (1, 0)))  # W_hh^T (H, G*H) packed once: both paths read it
        if _path(B, H, hs.dtype.itemsize) == "sequence":
            _launch_sequence("lstm_fwd", gi.dtype, B, H, H, gi.buf, w_t.buf,
                             bias.buf, m, masked, bool(reverse), T, B, H, out.buf, hs.buf, cs.buf, gates.buf)
        else:
            for k, t in _order(T, reverse):
                gh = matmul(getitem(hs, k), w_t)
                launch(_lstm_step, B * H, gh.buf, gi.buf, bias.buf, m, masked, t, k, B, H, out.buf, hs.buf, cs.buf,
                       gates.buf)
    return out, hs, cs, gates


def lstm_backward(gates, hs, cs, w_hh, mask, reverse, d_out, d_hn, d_cn):
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    d_gi = empty((T, B, 4 * H), hs.dtype)
    d_h, d_c = _fresh(d_hn, (B, H), hs.dtype), _fresh(d_cn, (B, H), hs.dtype)
    if T and B:
        m, masked = _mask(mask, T, B)
        gates, d_out = contiguous(gates), _zeros_or(d_out, (T, B, H), hs.dtype)
        if _path(B, H, hs.dtype.itemsize) == "sequence":
            _launch_sequence("lstm_bwd", hs.dtype, B, H, 5 * H, gates.buf, hs.buf, cs.buf, contiguous(w_hh).buf,
                             m, masked, bool(reverse), T, B, H, d_out.buf, d_gi.buf, d_h.buf, d_c.buf)
        else:
            def step(tp, t, k, prop):
                launch(_lstm_back_step, B * H, prop, m, masked, tp, t, k, B, H, gates.buf, hs.buf, cs.buf,
                       d_out.buf, d_gi.buf, d_h.buf, d_c.buf)
            prop, tp = _backward_steps(_order(T, reverse), w_hh, d_gi, d_h.buf, step)
            launch(_settle_last, B * H, prop, prop, False, m, masked, tp, B, H, d_h.buf)
    d_w_hh, d_b_hh = _hh_grads(d_gi, hs, reverse)
    return d_gi, d_w_hh, d_b_hh, d_h, d_c


def gru_forward(gi, w_hh, b_ih, b_hh, h0, mask, reverse):
    _check(gi, h0)
    T, B, H = gi.shape[0], h0.shape[0], h0.shape[1]
    out, hs = empty((T, B, H), gi.dtype), _states(h0, T)
    gates, hn = empty((T, B, 3 * H), gi.dtype), empty((T, B, H), gi.dtype)
    if T and B:
        m, masked = _mask(mask, T, B)
        gi = contiguous(gi)
        b_ih, b_hh = _zeros_or(b_ih, (3 * H,), gi.dtype), _zeros_or(b_hh, (3 * H,), gi.dtype)
        w_t = contiguous(transpose(w_hh, (1, 0)))  # W_hh^T (H, G*H) packed once: both paths read it
        if _path(B, H, hs.dtype.itemsize) == "sequence":
            _launch_sequence("gru_fwd", gi.dtype, B, H, H, gi.buf, w_t.buf,
                             b_ih.buf, b_hh.buf, m, masked, bool(reverse), T, B, H, out.buf, hs.buf, gates.buf,
                             hn.buf)
        else:
            for k, t in _order(T, reverse):
                gh = matmul(getitem(hs, k), w_t)
                launch(_gru_step, B * H, gh.buf, gi.buf, b_ih.buf, b_hh.buf, m, masked, t, k, B, H, out.buf,
                       hs.buf, gates.buf, hn.buf)
    return out, hs, gates, hn


def gru_backward(gates, hn, hs, w_hh, mask, reverse, d_out, d_hn):
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    d_gi, d_gh = empty((T, B, 3 * H), hs.dtype), empty((T, B, 3 * H), hs.dtype)
    d_h = _fresh(d_hn, (B, H), hs.dtype)
    if T and B:
        m, masked = _mask(mask, T, B)
        gates, hn, d_out = contiguous(gates), contiguous(hn), _zeros_or(d_out, (T, B, H), hs.dtype)
        if _path(B, H, hs.dtype.itemsize) == "sequence":
            _launch_sequence("gru_bwd", hs.dtype, B, H, 4 * H, gates.buf, hn.buf, hs.buf, contiguous(w_hh).buf,
                             m, masked, bool(reverse), T, B, H, d_out.buf, d_gi.buf, d_gh.buf, d_h.buf)
        else:
            direct = empty((B, H), hs.dtype)

            def step(tp, t, k, prop):
                launch(_gru_back_step, B * H, prop, direct.buf, m, masked, tp, t, k, B, H, gates.buf, hn.buf,
                       hs.buf, d_out.buf, d_gi.buf, d_gh.buf, d_h.buf)
            prop, tp = _backward_steps(_order(T, reverse), w_hh, d_gh, d_h.buf, step)
            launch(_settle_last, B * H, prop, direct.buf, True, m, masked, tp, B, H, d_h.buf)
    d_w_hh, d_b_hh = _hh_grads(d_gh, hs, reverse)
    return d_gi, d_w_hh, d_b_hh, d_h
