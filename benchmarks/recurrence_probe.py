"""Where the time of a CPU LSTM recurrence goes, and what partitioning W_hh across cores buys.

    python benchmarks/recurrence_probe.py [--batch 32] [--hidden 256] [--steps 100]

Measures, at the char-LSTM's size by default (B = 32, H = 256, T = 100, float32), each in
a fresh process so that no thread pool is left spinning by an earlier measurement:

1. ``numpy``     one step's product h @ W_hh^T through numpy (OpenBLAS, its own threads);
2. ``loop``      the numba backend's whole forward loop (``lstm_forward``), as shipped;
3. ``gemm_T``    100 in-loop products with W_hh read transposed (as the loop does today)
                 and with W_hh^T packed once (no transpose flag);
4. ``pointwise`` the gate arithmetic alone, one row helper per batch row, and the same
                 arithmetic on a slice of the units indexed as ``x[j0 + u]`` (which numba
                 does not vectorise: a possibly negative index is wrapped per element) and
                 through 1-D slices taken first (which it does);
5. ``partitioned`` the forward with the hidden units split across the cores: each core
                 owns the gate rows of its units (W_hh packed once into one contiguous
                 (H, 4U) block per core, resident in that core's cache), multiplies with a
                 single-threaded BLAS call and applies the gate arithmetic to its units;
                 one numba ``prange`` region per step is the only synchronisation.

6. ``products`` the step's large products (input projection, head, weight and input
                 gradients; B*T = 3200 rows) through OpenBLAS's own two threads, and split
                 by rows across numba's threads with a single-threaded BLAS call each: can
                 one thread pool serve the whole training step?

This is a measurement tool for the recurrent kernels' design, not part of the library.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _timeit(fn, repeats=9):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _setup(b, h, t, seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return dict(gi=rng.standard_normal((t, b, 4 * h)).astype(f32),
                w=(rng.uniform(-1, 1, (4 * h, h)) / np.sqrt(h)).astype(f32),
                bias=(rng.standard_normal(4 * h) * 0.1).astype(f32), h0=np.zeros((b, h), f32))


def pack(w, parts):
    """(parts, H, 4U): block p holds the W_hh rows of units p*U..(p+1)*U, gates i, f, g, o, transposed."""
    g4, h = w.shape
    u = h // parts
    out = np.empty((parts, h, 4 * u), w.dtype)
    for p in range(parts):
        for g in range(4):
            out[p, :, g * u:(g + 1) * u] = w[g * h + p * u:g * h + (p + 1) * u].T
    return out


def _compiled():
    """The probe's numba functions (compiled on first use)."""
    import numba
    from numba import prange
    from numba.extending import register_jitable

    from minigrad.backends.loops._blas import gemm
    from minigrad.backends.loops._scalar import _sigmoid, _tanh
    from minigrad.backends.loops.recurrent import _lstm_units

    @register_jitable(inline="never")
    def units_offset(g, x, bias, c_old, c_new, h_new, j0, u_n, h):
        for u in range(u_n):
            j = j0 + u
            i_ = _sigmoid(g[u] + x[j] + bias[j])
            f_ = _sigmoid(g[u_n + u] + x[h + j] + bias[h + j])
            g_ = _tanh(g[2 * u_n + u] + x[2 * h + j] + bias[2 * h + j])
            o_ = _sigmoid(g[3 * u_n + u] + x[3 * h + j] + bias[3 * h + j])
            c = f_ * c_old[j] + i_ * g_
            g[u], g[u_n + u], g[2 * u_n + u], g[3 * u_n + u] = i_, f_, g_, o_
            c_new[j] = c
            h_new[j] = o_ * _tanh(c)

    @register_jitable(inline="never")
    def units_sliced(g, x, bias, c_old, c_new, h_new, out, j0, u_n, h):
        xi, xf, xg, xo = x[j0:j0 + u_n], x[h + j0:h + j0 + u_n], x[2 * h + j0:2 * h + j0 + u_n], x[3 * h + j0:3 * h + j0 + u_n]
        bi, bf, bg, bo = (bias[j0:j0 + u_n], bias[h + j0:h + j0 + u_n], bias[2 * h + j0:2 * h + j0 + u_n],
                          bias[3 * h + j0:3 * h + j0 + u_n])
        co, cn, hn, oo = c_old[j0:j0 + u_n], c_new[j0:j0 + u_n], h_new[j0:j0 + u_n], out[j0:j0 + u_n]
        for u in range(u_n):
            i_ = _sigmoid(g[u] + xi[u] + bi[u])
            f_ = _sigmoid(g[u_n + u] + xf[u] + bf[u])
            g_ = _tanh(g[2 * u_n + u] + xg[u] + bg[u])
            o_ = _sigmoid(g[3 * u_n + u] + xo[u] + bo[u])
            c = f_ * co[u] + i_ * g_
            g[u], g[u_n + u], g[2 * u_n + u], g[3 * u_n + u] = i_, f_, g_, o_
            cn[u] = c
            hv = o_ * _tanh(c)
            hn[u] = hv
            oo[u] = hv

    @register_jitable(inline="never")
    def spread(g, gates, j0, u_n, h):
        for q in range(4):
            dst, src = gates[q * h + j0:q * h + j0 + u_n], g[q * u_n:(q + 1) * u_n]
            for u in range(u_n):
                dst[u] = src[u]

    opts = dict(fastmath=FAST, error_model="numpy")

    @numba.njit(**opts)
    def gemms(hs, w, out, trans_b):
        for k in range(out.shape[0]):
            gemm(hs[k], w, out[k], False, trans_b)

    @numba.njit(**opts)
    def rows(pre, gi, bias, cs, hs, out, gates):
        for k in range(gates.shape[0]):
            for b in range(gates.shape[1]):
                _lstm_units(pre[k, b], gi[k, b], bias, cs[k, b], cs[k + 1, b], hs[k + 1, b], out[k, b], gates[k, b], 0)

    @numba.njit(**opts)
    def offset_units(scratch, gi, bias, cs, hs, parts):
        t, b_n, h = gi.shape[0], gi.shape[1], hs.shape[2]
        u_n = h // parts
        for k in range(t):
            for p in range(parts):
                for b in range(b_n):
                    units_offset(scratch[p, b], gi[k, b], bias, cs[k, b], cs[k + 1, b], hs[k + 1, b], p * u_n, u_n, h)

    @numba.njit(parallel=True, **opts)
    def partitioned(gi, wp, bias, out, hs, cs, gates, scratch):
        t, b_n, h = out.shape
        parts = wp.shape[0]
        u_n = h // parts
        for k in range(t):
            for p in prange(parts):
                gemm(hs[k], wp[p], scratch[p], False, False)
                for b in range(b_n):
                    units_sliced(scratch[p, b], gi[k, b], bias, cs[k, b], cs[k + 1, b], hs[k + 1, b], out[k, b],
                                 p * u_n, u_n, h)
                    spread(scratch[p, b], gates[k, b], p * u_n, u_n, h)

    @numba.njit(parallel=True)
    def split_rows(a, b, out):
        m = out.shape[0]
        parts = numba.get_num_threads()
        step = (m + parts - 1) // parts
        for p in prange(parts):
            lo = p * step
            hi = min(m, lo + step)
            if lo < hi:
                gemm(a[lo:hi], b, out[lo:hi], False, False)

    return dict(gemms=gemms, rows=rows, offset_units=offset_units, partitioned=partitioned, split_rows=split_rows)


def product_shapes(b, h, t, embed=64, vocab=65):
    """The char-LSTM step's large products, (M, K, N): input projection, head, dW_ih, dx, head's dh."""
    n = b * t
    return {"input projection": (n, embed, 4 * h), "head": (n, h, vocab), "dW_ih": (4 * h, n, embed),
            "dx": (n, 4 * h, embed), "head backward": (n, vocab, h)}


def probe(which, b, h, t):
    """One measurement (run in its own process); returns {name: seconds}."""
    import numba

    import minigrad as mg  # noqa: F401  (loads numpy's BLAS the way the library does)
    from minigrad.backends import _blas_lib, get_backend
    d = _setup(b, h, t)
    f32 = np.float32
    parts = numba.get_num_threads()
    if which == "numpy":
        x, wt = np.random.default_rng(1).standard_normal((b, h)).astype(f32), np.ascontiguousarray(d["w"].T)
        return {"numpy step product": _timeit(lambda: x @ wt, 201)}
    if which == "loop":
        k = get_backend("numba")
        return {"numba lstm_forward (as shipped)": _timeit(
            lambda: k.lstm_forward(d["gi"], d["w"], None, d["bias"], d["h0"], d["h0"], None, False))}
    fns = _compiled()
    hs = np.random.default_rng(2).standard_normal((t + 1, b, h)).astype(f32)
    cs = np.zeros((t + 1, b, h), f32)
    if which == "gemm_T":
        out = np.empty((t, b, 4 * h), f32)
        wt = np.ascontiguousarray(d["w"].T)
        return {f"{t} in-loop products, W_hh transposed by BLAS": _timeit(lambda: fns["gemms"](hs, d["w"], out, True)),
                f"{t} in-loop products, W_hh^T packed once": _timeit(lambda: fns["gemms"](hs, wt, out, False))}
    if which == "pointwise":
        g = np.random.default_rng(3).standard_normal((t, b, 4 * h)).astype(f32)
        out = np.empty((t, b, h), f32)
        scratch = np.random.default_rng(4).standard_normal((2, b, 2 * h)).astype(f32)
        gates = np.empty_like(g)
        return {"gate arithmetic, row helper": _timeit(lambda: fns["rows"](g, d["gi"], d["bias"], cs, hs, out, gates)),
                "gate arithmetic, x[j0 + u] indexing": _timeit(
                    lambda: fns["offset_units"](scratch, d["gi"], d["bias"], cs, hs, 2))}
    if which in ("products_blas", "products_split"):
        rng = np.random.default_rng(5)
        res = {}
        for name, (m, kk, n) in product_shapes(b, h, t).items():
            a, w2 = rng.standard_normal((m, kk)).astype(f32), rng.standard_normal((kk, n)).astype(f32)
            out = np.empty((m, n), f32)
            if which == "products_blas":
                res[f"{name} {m}x{kk}x{n}, OpenBLAS threads"] = _timeit(lambda: np.matmul(a, w2, out=out), 31)
            else:
                _blas_lib.set_num_threads(1)
                fns = _compiled()
                res[f"{name} {m}x{kk}x{n}, split over numba threads"] = _timeit(
                    lambda: fns["split_rows"](a, w2, out), 31)
        return res
    if which == "partitioned":
        _blas_lib.set_num_threads(1)  # one BLAS thread per caller: numba's threads are the pool
        wp = pack(d["w"], parts)
        out, gates = np.empty((t, b, h), f32), np.empty((t, b, 4 * h), f32)
        hs[0], cs[0] = d["h0"], d["h0"]
        scratch = np.empty((parts, b, 4 * (h // parts)), f32)
        run = lambda: fns["partitioned"](d["gi"], wp, d["bias"], out, hs, cs, gates, scratch)  # noqa: E731
        seconds = _timeit(run, 21)  # timed first: nothing else has used a thread pool in this process
        ref = get_backend("numba").lstm_forward(d["gi"], d["w"], None, d["bias"], d["h0"], d["h0"], None, False)
        assert all(np.allclose(a, r, atol=1e-5) for a, r in zip((out, hs, cs, gates), ref)), "partitioned != reference"
        return {f"partitioned forward, {parts} cores, W_hh block per core": seconds}
    raise ValueError(which)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(probe(args.child, args.batch, args.hidden, args.steps)))
        return 0
    from minigrad.backends import _blas_lib
    print(f"B={args.batch} H={args.hidden} T={args.steps} float32; OpenBLAS: {(_blas_lib.describe() or {}).get('core')}; "
          f"CPUs: {os.cpu_count()}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for which in ("numpy", "loop", "gemm_T", "pointwise", "partitioned", "products_blas", "products_split"):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", which, "--batch", str(args.batch), "--hidden",
               str(args.hidden), "--steps", str(args.steps)]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=dict(os.environ, PYTHONPATH=root))
        if res.returncode:
            print(f"  {which}: failed: {res.stderr.strip().splitlines()[-1]}")
            continue
        for name, s in json.loads(res.stdout.strip().splitlines()[-1]).items():
            per = f"  ({s / args.steps * 1e6:.0f} us per step)" if which not in ("numpy", "products_blas",
                                                                                   "products_split") else ""
            print(f"  {name:55s} {s * 1e3:8.2f} ms{per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
