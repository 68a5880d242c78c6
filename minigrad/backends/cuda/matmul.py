"""Matrix product on the GPU: a tiled shared-memory GEMM with register tiling, batched.

C = A @ B, A (M, K), B (K, N). Each block computes a TILE x TILE tile of C with
(TILE/R) x (TILE/R) threads, each thread an R x R patch of it held in registers
(TILE = 64 for large products: 256 threads per block; 32 when C is small, so that
there are enough blocks to fill the GPU's multiprocessors). The
block walks K in steps of DEPTH: it copies a TILE x DEPTH slab of A and a DEPTH x TILE
slab of B into shared memory (each element read from global memory once per block
instead of once per output), waits for every thread, and then each thread multiplies
out of shared memory into its R x R accumulators: R^2 multiply-adds for 2R shared
loads. That ratio, and global memory reads shared by TILE outputs, are what make a GEMM
compute-bound instead of memory-bound (docs/cuda.md). A and B may be any strided views
(a transposed weight is read in place); batch axes broadcast as in numpy and map to the
grid's third dimension.

When CuPy is installed (and this is a real GPU), ``matmul`` hands 2-D float products to
cuBLAS through it instead; ``available_backends()["cuda"]["reason"]`` says which runs,
and ``MINIGRAD_CUDA_MATMUL=own`` keeps this kernel.
"""
import functools
import math
import os

import numpy as np
from numba import from_dtype

from ._device import contiguous, copy_to, cuda, empty
from ._runtime import simulated
from .arrays import full, reshape

DEPTH, R = 8, 4  # each thread: a 4x4 patch of C; K walked 8 at a time
BIG_TILE, SMALL_TILE = 64, 32
BIG_TILE_MIN_BLOCKS = 132  # a 64-tiling must still give this many blocks (an H100 has 132 SMs)


def _tile(m, n, nb):
    """The tile size for a batch of nb (M, N) results: 64 unless that leaves SMs idle."""
    forced = os.environ.get("MINIGRAD_CUDA_TILE")  # 32 or 64: for tests and measurements
    if forced:
        return int(forced)
    blocks = nb * -(-m // BIG_TILE) * -(-n // BIG_TILE)
    return BIG_TILE if blocks >= BIG_TILE_MIN_BLOCKS else SMALL_TILE


@functools.lru_cache(maxsize=None)
def _gemm_kernel(char, tile):
    """The GEMM kernel for one dtype and tile size (both fixed at compile time: shared memory sizes)."""
    t = from_dtype(np.dtype(char))
    TILE, THREADS = tile, tile // R

    @cuda.jit
    def kernel(a, a_off, a_rs, a_cs, b, b_off, b_rs, b_cs, m, n, k, batch_shape, a_bs, b_bs, out):
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * TILE, cuda.blockIdx.x * TILE
        z = cuda.blockIdx.z
        # this block's matrices in the batch (strides 0 along broadcast batch axes)
        rest = z
        for d in range(len(batch_shape) - 1, -1, -1):
            q = rest % batch_shape[d]
            rest //= batch_shape[d]
            a_off += q * a_bs[d]
            b_off += q * b_bs[d]
        sa = cuda.shared.array((DEPTH, TILE), t)
        sb = cuda.shared.array((DEPTH, TILE), t)
        acc = cuda.local.array((R, R), t)
        for i in range(R):
            for j in range(R):
                acc[i, j] = 0
        tid = ty * THREADS + tx
        for k0 in range(0, k, DEPTH):
            # the block's THREADS^2 threads load the two DEPTH x TILE slabs, several elements each
            for e in range(tid, DEPTH * TILE, THREADS * THREADS):
                kk, ii = e // TILE, e % TILE
                r, c = row0 + ii, k0 + kk
                sa[kk, ii] = a[a_off + r * a_rs + c * a_cs] if (r < m and c < k) else 0
                r2, c2 = k0 + kk, col0 + ii
                sb[kk, ii] = b[b_off + r2 * b_rs + c2 * b_cs] if (r2 < k and c2 < n) else 0
            cuda.syncthreads()
            for kk in range(DEPTH):
                for i in range(R):
                    av = sa[kk, ty * R + i]
                    for j in range(R):
                        acc[i, j] += av * sb[kk, tx * R + j]
            cuda.syncthreads()
        base = z * m * n
        for i in range(R):
            r = row0 + ty * R + i
            for j in range(R):
                c = col0 + tx * R + j
                if r < m and c < n:
                    out[base + r * n + c] = acc[i, j]
    return kernel


def _cublas():
    """CuPy's matmul (cuBLAS) when it can run here, else None."""
    if os.environ.get("MINIGRAD_CUDA_MATMUL", "auto") == "own" or simulated():
        return None
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def _using():
    """Which matrix product runs: cuBLAS through CuPy, or the hand-written tiled kernel."""
    return "cuBLAS through CuPy" if _cublas() is not None else "minigrad's tiled shared-memory GEMM"


def _batch_strides(x, batch):
    lead = len(batch) - (x.ndim - 2)
    strides = [0] * lead + [0 if n == 1 and m != 1 else s for n, m, s in zip(x.shape[:-2], batch[lead:], x.strides[:-2])]
    return tuple(strides) or (0,)


def _gemm(a, b, dtype):
    """a (..., M, K) @ b (..., K, N), both at least 2-D."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if b.shape[-2] != k:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align ({k} != {b.shape[-2]})")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = empty(batch + (m, n), dtype)
    nb = math.prod(batch)
    if out.size == 0:
        return out
    if k == 0:
        return full(out.shape, 0, dtype)
    cupy = _cublas()
    if cupy is not None and not batch and dtype.char in "fd":
        return _cublas_gemm(cupy, a, b, out)
    tile = _tile(m, n, nb)
    grid = ((n + tile - 1) // tile, (m + tile - 1) // tile, nb)
    _gemm_kernel(dtype.char, tile)[grid, (tile // R, tile // R)](
        a.buf, a.offset, a.strides[-2], a.strides[-1], b.buf, b.offset, b.strides[-2], b.strides[-1], m, n, k,
        tuple(batch) or (1,), _batch_strides(a, batch), _batch_strides(b, batch), out.buf)
    return out


def _cublas_gemm(cupy, a, b, out):
    """out = a @ b through CuPy (cuBLAS), reading our buffers in place (no copy for contiguous operands)."""
    def as_cupy(v):
        v = contiguous(v)  # (a copy, with offset 0, only for a strided view)
        return cupy.asarray(v.buf[v.offset:v.offset + v.size]).reshape(v.shape)
    cupy.matmul(as_cupy(a), as_cupy(b), out=cupy.asarray(out.buf).reshape(out.shape))
    return out


# ============================================================= required kernels
def matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: both operands need at least one dimension")
    dtype = np.result_type(np.empty(0, a.dtype), np.empty(0, b.dtype))
    a, b = (v if v.dtype == dtype else copy_to(v, dtype) for v in (a, b))
    a2 = reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    out = _gemm(a2, b2, dtype)
    if a.ndim == 1:
        out = reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = reshape(out, out.shape[:-1])
    return out
