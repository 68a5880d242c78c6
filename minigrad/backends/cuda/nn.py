"""nn kernels on the GPU: scatter-add with atomics, the softmax family and the class losses
row by row, embedding, dropout masks from a counter-based generator on the device.

Atomics: an index that picks the same element twice (``x[[0, 0, 2]]``, an embedding batch
that repeats a word) must add both gradients there. Thousands of threads then write the
same address at once, so each adds with ``cuda.atomic.add``: the hardware serialises the
colliding additions and none is lost. (The order of float additions then varies from run
to run: the last bits of a repeated row's gradient are not deterministic.)

Rows: softmax, log-softmax, their backward and cross-entropy reduce along one axis and
then write every element of it. One thread block takes one row (the axis moved last):
its threads walk the row with a stride of the block size, then combine their partial max
or sum in shared memory (``_block_reduce``), so a row costs two or three passes over
memory instead of the five or six kernels of the composed form.
"""
import functools
import math

import numpy as np
from numba import from_dtype, uint64

from ._device import contiguous, cuda, empty, launch, offset_of, upload
from .reduce import ALL_LANES, SHUFFLE, WARP
from .arrays import _is_advanced, _positions, full, reshape, setitem, transpose
from .elementwise import _broadcast

MAX_THREADS = 256


# ================================================================ scatter-add
@cuda.jit
def _scatter_add(out, positions, g, g_off, g_strides, g_shape):
    i = cuda.grid(1)
    if i < positions.size:
        cuda.atomic.add(out, positions[i], g[offset_of(i, g_shape, g_strides, g_off)])


def scatter_add(shape, index, g, dtype, accumulate):
    out = full(tuple(shape), 0, dtype)
    if not _is_advanced(index):
        setitem(out, index, g)  # a basic index never repeats an element: one assignment
        return out
    positions = _positions(tuple(shape), index)
    if positions.size:
        loop = positions.shape or (1,)
        if not accumulate:
            setitem(out, index, g)
        else:
            launch(_scatter_add, positions.size, out.buf, upload(positions.reshape(-1)).buf, *_broadcast(g, loop), loop)
    return out


# ================================================================ row kernels
@functools.lru_cache(maxsize=None)
def _row_kernels(char):
    """The softmax-family and cross-entropy kernels for one float dtype (shared memory is typed)."""
    ft = from_dtype(np.dtype(char))

    @cuda.jit(device=True)
    def block_reduce(v, buf, want_max):
        """Every thread of the block gets the max (NaN wins) or the sum of the threads' v.
        buf: shared, one slot per thread; blockDim is a power of two (a tree of halvings)."""
        t = cuda.threadIdx.x
        buf[t] = v
        cuda.syncthreads()
        s = cuda.blockDim.x // 2
        while s >= (WARP if SHUFFLE else 1):  # on a GPU the last warp shuffles (reduce.py)
            if t < s:
                a, b = buf[t], buf[t + s]
                buf[t] = (a if (a != a or a >= b) else b) if want_max else a + b
            cuda.syncthreads()
            s //= 2
        if SHUFFLE:
            if t < WARP:
                a = buf[t]
                off = WARP // 2
                while off > 0:
                    b = cuda.shfl_down_sync(ALL_LANES, a, off)
                    a = (a if (a != a or a >= b) else b) if want_max else a + b
                    off //= 2
                if t == 0:
                    buf[0] = a
            cuda.syncthreads()
        r = buf[0]
        cuda.syncthreads()  # buf is reused by the next reduction
        return r

    @cuda.jit(device=True)
    def row_max_and_logsum(x, base, n, buf):
        """(max, log sum e^{x - max}) of one row, for every thread of the block."""
        t, step = cuda.threadIdx.x, cuda.blockDim.x
        m = ft(-math.inf)
        for j in range(t, n, step):
            v = x[base + j]
            m = v if (v != v or v > m) else m
        m = block_reduce(m, buf, True)
        s = ft(0)
        for j in range(t, n, step):
            s += math.exp(x[base + j] - m)
        return m, math.log(block_reduce(s, buf, False))

    @cuda.jit
    def softmax(x, n, log, out):
        """out = softmax (or log-softmax) of each row of x (rows of n, contiguous)."""
        buf = cuda.shared.array(MAX_THREADS, ft)
        base = cuda.blockIdx.x * n
        m, lse = row_max_and_logsum(x, base, n, buf)
        for j in range(cuda.threadIdx.x, n, cuda.blockDim.x):
            shifted = x[base + j] - m  # exact: even logits of 1e4 keep their precision
            out[base + j] = shifted - lse if log else math.exp(shifted - lse)

    @cuda.jit
    def softmax_backward(y, g, n, log, out):
        """softmax: y (g - sum g y); log-softmax: g - e^y sum g (the Jacobian, never formed)."""
        buf = cuda.shared.array(MAX_THREADS, ft)
        base = cuda.blockIdx.x * n
        s = ft(0)
        for j in range(cuda.threadIdx.x, n, cuda.blockDim.x):
            s += g[base + j] if log else g[base + j] * y[base + j]
        s = block_reduce(s, buf, False)
        for j in range(cuda.threadIdx.x, n, cuda.blockDim.x):
            out[base + j] = g[base + j] - math.exp(y[base + j]) * s if log else y[base + j] * (g[base + j] - s)

    @cuda.jit
    def cross_entropy(x, n, targets, ignore, eps, losses, logp):
        """Per row: logp = log-softmax, loss = -(1 - eps) logp[t] - eps mean(logp); 0 if ignored."""
        buf = cuda.shared.array(MAX_THREADS, ft)
        row = cuda.blockIdx.x
        base = row * n
        m, lse = row_max_and_logsum(x, base, n, buf)
        s = ft(0)
        for j in range(cuda.threadIdx.x, n, cuda.blockDim.x):
            v = x[base + j] - m - lse
            logp[base + j] = v
            s += v
        s = block_reduce(s, buf, False) if eps != 0 else s
        if cuda.threadIdx.x == 0:
            t = targets[row]
            if t == ignore:
                losses[row] = 0
            else:
                picked = x[base + t] - m - lse
                losses[row] = -(1 - eps) * picked - eps * s / n if eps != 0 else -picked

    @cuda.jit
    def cross_entropy_backward(logp, targets, g, n, ignore, eps, out):
        """g_i (softmax_i - q_i), q the smoothed one-hot target (1 - eps + eps/C there, eps/C elsewhere)."""
        row = cuda.blockIdx.x
        base, t = row * n, targets[row]
        gi = 0 if t == ignore else g[row]
        for j in range(cuda.threadIdx.x, n, cuda.blockDim.x):
            q = eps / n + (1 - eps if j == t else 0)
            out[base + j] = gi * (math.exp(logp[base + j]) - q)

    return dict(softmax=softmax, softmax_backward=softmax_backward, cross_entropy=cross_entropy,
                cross_entropy_backward=cross_entropy_backward)


def _threads(n):
    """A power of two from a warp up to MAX_THREADS, about the row length."""
    t = 32
    while t < n and t < MAX_THREADS:
        t *= 2
    return t


def _last_axis_rows(x, axis):
    """x with ``axis`` moved last, contiguous, as (rows, n); and how to put a result back."""
    if axis is None:
        return contiguous(reshape(contiguous(x), (1, x.size))), lambda r: reshape(r, x.shape)
    axis %= x.ndim
    order = [d for d in range(x.ndim) if d != axis] + [axis]
    moved = contiguous(transpose(x, order))
    back = [order.index(d) for d in range(x.ndim)]
    n = x.shape[axis]
    rows = reshape(moved, (moved.size // n if n else 0, n))
    return rows, lambda r: contiguous(transpose(reshape(r, moved.shape), back))


def _run_rows(name, x, axis, *extra_inputs, log):
    rows, back = _last_axis_rows(x, axis)
    extra = [_last_axis_rows(a, axis)[0] for a in extra_inputs]
    out = empty(rows.shape, rows.dtype)
    if out.size:
        _row_kernels(x.dtype.char)[name][rows.shape[0], _threads(rows.shape[1])](
            rows.buf, *(e.buf for e in extra), rows.shape[1], log, out.buf)
    return back(out)


def _targets(targets):
    return upload(np.ascontiguousarray(targets, dtype=np.int64).reshape(-1))


# ============================================================= fused kernels
def softmax(x, axis):
    return _run_rows("softmax", x, axis, log=False)


def log_softmax(x, axis):
    return _run_rows("softmax", x, axis, log=True)


def softmax_backward(y, g, axis):
    return _run_rows("softmax_backward", y, axis, g, log=False)


def log_softmax_backward(y, g, axis):
    return _run_rows("softmax_backward", y, axis, g, log=True)


def cross_entropy(logits, targets, ignore_index, label_smoothing):
    logits = contiguous(logits)
    n, c = logits.shape
    losses, logp = empty((n,), logits.dtype), empty((n, c), logits.dtype)
    if n and c:
        _row_kernels(logits.dtype.char)["cross_entropy"][n, _threads(c)](
            logits.buf, c, _targets(targets).buf, int(ignore_index), logits.dtype.type(label_smoothing), losses.buf,
            logp.buf)
    return losses, logp


def cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing):
    logp, g = contiguous(logp), contiguous(g)
    n, c = logp.shape
    out = empty((n, c), logp.dtype)
    if n and c:
        _row_kernels(logp.dtype.char)["cross_entropy_backward"][n, _threads(c)](
            logp.buf, _targets(targets).buf, g.buf, c, int(ignore_index), logp.dtype.type(label_smoothing), out.buf)
    return out


@cuda.jit
def _nll(logp, targets, ignore, c, out):
    i = cuda.grid(1)
    if i < out.size:
        t = targets[i]
        out[i] = 0 if t == ignore else -logp[i * c + t]


@cuda.jit
def _nll_backward(targets, g, ignore, c, out):
    i = cuda.grid(1)
    if i < targets.size:
        t = targets[i]
        if t != ignore:
            out[i * c + t] = -g[i]


def nll(logp, targets, ignore_index):
    logp = contiguous(logp)
    out = empty((logp.shape[0],), logp.dtype)
    if out.size:
        launch(_nll, out.size, logp.buf, _targets(targets).buf, int(ignore_index), logp.shape[1], out.buf)
    return out


def nll_backward(shape, targets, g, ignore_index, dtype):
    out = full(tuple(shape), 0, dtype)
    if shape[0]:
        launch(_nll_backward, shape[0], _targets(targets).buf, contiguous(g).buf, int(ignore_index), shape[1],
               out.buf)
    return out


# ================================================================= embedding
@cuda.jit
def _gather_rows(weight, w_off, w_rs, w_cs, indices, d, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = weight[w_off + indices[i // d] * w_rs + (i % d) * w_cs]


@cuda.jit
def _scatter_rows(indices, g, d, padding, out):
    i = cuda.grid(1)
    if i < g.size:
        row = indices[i // d]
        if row != padding:  # the padding row learns nothing
            cuda.atomic.add(out, row * d + i % d, g[i])


def embedding(weight, indices):
    """weight[indices], one thread per output element: a row index is read once per element,
    never expanded into per-element positions on the host."""
    idx = np.asarray(indices)
    d = weight.shape[1]
    out = empty(idx.shape + (d,), weight.dtype)
    if out.size:
        launch(_gather_rows, out.size, weight.buf, weight.offset, weight.strides[0], weight.strides[1],
               _targets(idx).buf, d, out.buf)
    return out


def embedding_backward(indices, g, num_embeddings, padding_idx):
    d = g.shape[-1]
    out = full((num_embeddings, d), 0, g.dtype)
    if g.size:
        launch(_scatter_rows, g.size, _targets(indices).buf, contiguous(g).buf, d,
               -1 if padding_idx is None else int(padding_idx), reshape(out, (out.size,)).buf)
    return out


# =================================================================== dropout
# Philox-2x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
# SC 2011): a counter-based generator. The random number of element i is a keyed bijection
# of the counter i, so every thread computes its own with no state to carry between calls
# or threads, and one seed gives one mask whatever the launch shape. The 32 x 32 -> 64-bit
# products fit in uint64: no arithmetic ever overflows (the simulator would warn).
_LOW = np.uint64(0xFFFFFFFF)
_M = np.uint64(0xD256D193)
_W = np.uint64(0x9E3779B9)
_SHIFT = np.uint64(32)


@cuda.jit(device=True)
def _philox_uniform(i, key, hi):
    """A uniform float in [0, 1) for counter (i, hi) under ``key`` (each < 2^32)."""
    x0, x1, k = uint64(i) & _LOW, hi, key
    for _ in range(10):
        p = _M * x0
        x0, x1 = ((p >> _SHIFT) ^ k ^ x1) & _LOW, p & _LOW
        k = (k + _W) & _LOW
    return x0 * (1.0 / 4294967296.0)


@cuda.jit
def _dropout(key, hi, p, scale, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = scale if _philox_uniform(i, key, hi) >= p else 0


def dropout_mask(shape, p, rng, dtype):
    """Drawn on the device: one 64-bit seed from the host Generator ``rng`` (so ``manual_seed``
    fixes the mask), then Philox per element; no mask crosses the bus."""
    dtype = np.dtype(dtype)
    out = empty(tuple(shape), dtype)
    seed = int(rng.integers(0, 2 ** 63))
    if out.size:
        launch(_dropout, out.size, np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32), float(p),
               dtype.type(1.0 / (1.0 - p)), out.buf)
    return out


def _philox_2x32(x0, x1, key):
    """Philox-2x32-10 of the counter (x0, x1) under ``key`` on the host, in plain Python: the
    algorithm as written in the paper (what the device function computes; tests check both
    against the paper's known-answer vectors)."""
    for _ in range(10):
        prod = 0xD256D193 * x0
        x0, x1 = ((prod >> 32) ^ key ^ x1) & 0xFFFFFFFF, prod & 0xFFFFFFFF
        key = (key + 0x9E3779B9) & 0xFFFFFFFF
    return x0, x1


def _uniforms_on_host(n, seed):
    """The n uniforms ``dropout_mask`` draws on the device for ``seed``, computed on the host."""
    return np.array([_philox_2x32(i, seed >> 32, seed & 0xFFFFFFFF)[0] / 4294967296.0 for i in range(n)])
