"""Fused recurrent loop kernels against trusted references, on both compiled backends:
numba's (minigrad/backends/loops/recurrent*.py) and Cython's (minigrad/backends/cython/recurrent.pyx).

* forward: a plain float64 numpy step loop written here from the equations;
* backward: central finite differences of that reference (float64, tiny sizes), then the
  backend's own float64 gradients as the reference for its float32 ones and for bigger
  sizes, numba's for the python backend;
* backends/reference/recurrent.py (the numpy backend's kernels, composed from its primitives).

Tests taking the ``compiled`` fixture run once per compiled backend and skip one that is
not available (numba not installed, Cython extension not built), and once more on numba
with the hidden units split across threads (``MINIGRAD_RNN_SPLIT=1``).
The contract (shapes, saved arrays, mask and reverse semantics) is minigrad/backends/kernel_set.py.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import backends

REPORT = mg.available_backends()
needs_numba = pytest.mark.skipif(not REPORT["numba"]["available"], reason="numba is not installed")

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


@pytest.fixture(params=["numba", "numba-split", "cython", "cython-split"])
def compiled(request, monkeypatch):
    """A backend whose recurrent kernels are compiled loops (numba's or Cython's).

    "-split": every sequence forced onto the loops that split the hidden units across
    threads (loops/recurrent_parallel.py for numba, their OpenMP twins in
    cython/recurrent.pyx), chunks of ceil(H / threads) units."""
    name = request.param.split("-")[0]
    info = REPORT[name]
    if not info["available"]:
        pytest.skip(f"{name} backend not available: {info['reason']}")
    backend = backends.get_backend(name)
    if request.param.endswith("-split"):
        if backend.loops.threads() < 2:
            pytest.skip(f"{name} runs one thread here: nothing to split across")
        monkeypatch.setenv("MINIGRAD_RNN_SPLIT", "1")
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return backend


# -------------------------------------------------------------- reference
def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_forward(mode, gi, w_hh, b_ih, b_hh, h0, c0=None, mask=None, reverse=False, relu=False):
    """(out, h_n, c_n) by the textbook equations, one numpy step at a time (gi = x W_ih^T, no bias)."""
    gi = gi if b_ih is None else gi + b_ih
    T, B, _ = gi.shape
    H = h0.shape[1]
    b = np.zeros(w_hh.shape[0]) if b_hh is None else b_hh
    mask = np.ones((T, B), bool) if mask is None else mask
    h, c = h0.copy(), (np.zeros_like(h0) if c0 is None else c0.copy())
    out = np.zeros((T, B, H))
    for k in range(T):
        t = T - 1 - k if reverse else k
        gh = h @ w_hh.T + b
        a = gi[t]
        if mode == "rnn":
            hn, cn = (np.maximum(a + gh, 0) if relu else np.tanh(a + gh)), c
        elif mode == "lstm":
            z = a + gh
            i, f, g, o = _sig(z[:, :H]), _sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), _sig(z[:, 3 * H:])
            cn = f * c + i * g
            hn = o * np.tanh(cn)
        else:
            r, u = _sig(a[:, :H] + gh[:, :H]), _sig(a[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(a[:, 2 * H:] + r * gh[:, 2 * H:])
            hn, cn = (1 - u) * n + u * h, c
        m = mask[t][:, None]
        h, c = np.where(m, hn, h), np.where(m, cn, c)
        out[t] = np.where(m, hn, 0.0)
    return out, h, c


def make(mode, T, B, H, dtype=np.float64, seed=0, bias=True, lengths=None, scale=0.5):
    rng = np.random.default_rng(seed)
    G = GATES[mode] * H
    p = {"gi": rng.standard_normal((T, B, G)), "w_hh": rng.uniform(-1, 1, (G, H)) * scale * 2 / np.sqrt(H),
         "b_hh": rng.standard_normal(G) * scale if bias else None,
         "b_ih": rng.standard_normal(G) * scale if bias else None, "h0": rng.standard_normal((B, H)) * scale,
         "c0": rng.standard_normal((B, H)) * scale}
    p = {k: None if v is None else v.astype(dtype) for k, v in p.items()}
    p["mask"] = None if lengths is None else np.arange(T)[:, None] < np.asarray(lengths)[None, :]
    return p


def run_forward(k, mode, p, reverse=False, relu=False):
    """The kernel's forward as (out, hs, cs or None, saved...)."""
    T = p["gi"].shape[0]
    args = (p["gi"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"])
    cs, saved = None, ()
    if mode == "rnn":
        out, hs = k.rnn_forward(*args, p["mask"], reverse, relu)
    elif mode == "lstm":
        out, hs, cs, gates = k.lstm_forward(*args, p["c0"], p["mask"], reverse)
        saved = (gates,)
    else:
        out, hs, gates, hn = k.gru_forward(*args, p["mask"], reverse)
        saved = (gates, hn)
    assert out.shape == (T,) + hs.shape[1:]
    return out, hs, cs, saved


def run_backward(k, mode, p, fwd, d_out, d_hn, d_cn, reverse=False, relu=False):
    """The kernel's gradients as a dict named like the inputs."""
    out, hs, cs, saved = fwd
    if mode == "rnn":
        g = k.rnn_backward(hs, p["w_hh"], p["mask"], reverse, relu, d_out, d_hn)
    elif mode == "lstm":
        g = k.lstm_backward(saved[0], hs, cs, p["w_hh"], p["mask"], reverse, d_out, d_hn, d_cn)
    else:
        g = k.gru_backward(saved[0], saved[1], hs, p["w_hh"], p["mask"], reverse, d_out, d_hn)
    grads = dict(zip(("gi", "w_hh", "b_hh", "h0", "c0"), g))
    grads["b_ih"] = grads["gi"].sum((0, 1))  # b_ih enters exactly where gi does
    return grads


def upstream(mode, T, B, H, dtype, seed=1):
    rng = np.random.default_rng(seed)
    d_cn = rng.standard_normal((B, H)).astype(dtype) if mode == "lstm" else None
    return rng.standard_normal((T, B, H)).astype(dtype), rng.standard_normal((B, H)).astype(dtype), d_cn


def numerical_grads(mode, p, d_out, d_hn, d_cn, reverse, relu, eps=1e-6):
    """Central differences of L = sum(out d_out) + sum(h_n d_hn) [+ sum(c_n d_cn)]."""
    def loss(q):
        out, h, c = reference_forward(mode, q["gi"], q["w_hh"], q["b_ih"], q["b_hh"], q["h0"], q["c0"], q["mask"],
                                      reverse, relu)
        return (out * d_out).sum() + (h * d_hn).sum() + ((c * d_cn).sum() if mode == "lstm" else 0.0)

    grads = {}
    for name in ("gi", "w_hh", "b_ih", "b_hh", "h0") + (("c0",) if mode == "lstm" else ()):
        q = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()}
        x = q[name]
        if x is None:
            continue
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + eps
            up = loss(q)
            x[i] = old - eps
            down = loss(q)
            x[i] = old
            g[i] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def numba():
    return backends.get_backend("numba")


def python():
    return backends.get_backend("python")


def final_state(hs, cs):
    return hs[-1], (None if cs is None else cs[-1])


def check_forward(k, mode, p, reverse=False, relu=False, rtol=1e-10, atol=1e-12):
    out, hs, cs, saved = run_forward(k, mode, p, reverse, relu)
    f64 = {n: (None if v is None or n == "mask" else v.astype(np.float64)) for n, v in p.items()}
    r_out, r_h, r_c = reference_forward(mode, f64["gi"], f64["w_hh"], f64["b_ih"], f64["b_hh"], f64["h0"],
                                        f64["c0"], p["mask"], reverse, relu)
    T, B, H = out.shape
    assert out.dtype == hs.dtype == p["gi"].dtype
    assert hs.shape == (T + 1, B, H)
    np.testing.assert_allclose(out, r_out, rtol=rtol, atol=atol)
    np.testing.assert_allclose(hs[-1], r_h, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(hs[0], p["h0"])
    if mode == "lstm":
        np.testing.assert_allclose(cs[-1], r_c, rtol=rtol, atol=atol)
        assert saved[0].shape == (T, B, 4 * H)
    if mode == "gru":
        assert saved[0].shape == (T, B, 3 * H) and saved[1].shape == (T, B, H)
    return out, hs, cs, saved


# ---------------------------------------------------------------- forward
CONFIGS = [  # (T, B, H, lengths)
    (5, 3, 4, None),
    (1, 1, 1, None),
    (7, 1, 3, None),
    (3, 5, 2, None),
    (6, 4, 5, [6, 1, 3, 6]),  # lengths T and 1 in one batch
    (5, 3, 3, [1, 1, 1]),
    (4, 2, 1, [4, 2]),
]
MODES = ["rnn", "rnn_relu", "lstm", "gru"]


def _mode(m):
    return ("rnn", True) if m == "rnn_relu" else (m, False)


@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("T,B,H,lengths", CONFIGS)
@pytest.mark.parametrize("reverse", [False, True])
def test_forward_matches_reference_float64(compiled, m, T, B, H, lengths, reverse):
    mode, relu = _mode(m)
    p = make(mode, T, B, H, lengths=lengths, seed=T * 100 + B * 10 + H)
    check_forward(compiled, mode, p, reverse, relu)


@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("T,B,H,lengths", [(13, 7, 11, None), (17, 5, 23, [17, 1, 9, 16, 17]), (3, 37, 31, None)])
@pytest.mark.parametrize("reverse", [False, True])
def test_forward_float32_prime_sizes(compiled, m, T, B, H, lengths, reverse):
    """float32 against the float64 reference; B=37 and 5 take the BLAS path, B <= 2 the plain loop."""
    mode, relu = _mode(m)
    p = make(mode, T, B, H, dtype=np.float32, lengths=lengths, seed=T + B + H)
    check_forward(compiled, mode, p, reverse, relu, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_padding_gives_zero_outputs_and_carries_the_state(compiled, m, dtype):
    mode, relu = _mode(m)
    lengths = [5, 2, 1]
    p = make(mode, 5, 3, 4, dtype=dtype, lengths=lengths)
    rtol = 2e-5 if dtype == np.float32 else 1e-12  # B=3 runs BLAS, B=1 the plain loop: float32 rounds apart
    for reverse in (False, True):
        out, hs, cs, _ = run_forward(compiled, mode, p, reverse, relu)
        for b, n in enumerate(lengths):
            assert not out[n:, b].any()
            # each sequence alone, unpadded, gives the same outputs and final state
            q = {k: v for k, v in p.items()}
            q.update(gi=p["gi"][:n, b:b + 1].copy(), h0=p["h0"][b:b + 1].copy(), c0=p["c0"][b:b + 1].copy(),
                     mask=None)
            o1, h1, c1, _ = run_forward(compiled, mode, q, reverse, relu)
            np.testing.assert_allclose(out[:n, b], o1[:, 0], rtol=rtol, atol=rtol)
            np.testing.assert_allclose(hs[-1, b], h1[-1, 0], rtol=rtol, atol=rtol)
            if mode == "lstm":
                np.testing.assert_allclose(cs[-1, b], c1[-1, 0], rtol=rtol, atol=rtol)


def test_bias_none_equals_zero_bias(compiled):
    for mode in ("rnn", "lstm", "gru"):
        p = make(mode, 4, 3, 5, bias=False)
        q = dict(p, b_ih=np.zeros(GATES[mode] * 5), b_hh=np.zeros(GATES[mode] * 5))
        a, b = run_forward(compiled, mode, p), run_forward(compiled, mode, q)
        np.testing.assert_array_equal(a[0], b[0])


# --------------------------------------------------------------- backward
@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("T,B,H,lengths", [(4, 3, 3, None), (1, 1, 1, None), (5, 3, 2, [5, 1, 3]), (3, 4, 2, None)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_backward_matches_finite_differences(compiled, m, T, B, H, lengths, reverse, bias):
    mode, relu = _mode(m)
    p = make(mode, T, B, H, lengths=lengths, bias=bias, seed=7 + T + B)
    d_out, d_hn, d_cn = upstream(mode, T, B, H, np.float64)
    fwd = run_forward(compiled, mode, p, reverse, relu)
    got = run_backward(compiled, mode, p, fwd, d_out, d_hn, d_cn, reverse, relu)
    want = numerical_grads(mode, p, d_out, d_hn, d_cn, reverse, relu)
    G = GATES[mode] * H
    assert got["gi"].shape == (T, B, G) and got["w_hh"].shape == (G, H) and got["b_hh"].shape == (G,)
    if not bias:  # still returned (the Function drops it): the gradient a zero bias would get
        want["b_hh"] = got["gi"].sum((0, 1)) if mode != "gru" else got["b_hh"]
    for name, g in want.items():
        np.testing.assert_allclose(got[name], g, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("m", MODES)
def test_backward_bias_of_gru_is_the_recurrent_side(compiled, m):
    """d_b_hh is the gradient of b_hh, which for GRU's n gate is r * d_gi_n, not d_gi_n."""
    mode, relu = _mode(m)
    p = make(mode, 3, 2, 2)
    d_out, d_hn, d_cn = upstream(mode, 3, 2, 2, np.float64)
    got = run_backward(compiled, mode, p, run_forward(compiled, mode, p, False, relu), d_out, d_hn, d_cn, False, relu)
    want = numerical_grads(mode, p, d_out, d_hn, d_cn, False, relu)
    np.testing.assert_allclose(got["b_hh"], want["b_hh"], rtol=1e-6, atol=1e-7)


def _grads(k, mode, p, reverse, relu, dtype, missing_upstream=False):
    T, B = p["gi"].shape[:2]
    H = p["h0"].shape[1]
    q = {n: (v.astype(dtype) if isinstance(v, np.ndarray) and n != "mask" else v) for n, v in p.items()}
    d_out, d_hn, d_cn = upstream(mode, T, B, H, dtype)
    if missing_upstream:
        d_hn = d_cn = None
    fwd = run_forward(k, mode, q, reverse, relu)
    return fwd, run_backward(k, mode, q, fwd, d_out, d_hn, d_cn, reverse, relu)


@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("T,B,H,lengths", [(13, 7, 11, None), (11, 5, 17, [11, 1, 6, 10, 11]), (5, 1, 19, None)])
@pytest.mark.parametrize("reverse", [False, True])
def test_backward_float32_matches_float64(compiled, m, T, B, H, lengths, reverse):
    mode, relu = _mode(m)
    p = make(mode, T, B, H, lengths=lengths, seed=3)
    _, g64 = _grads(compiled, mode, p, reverse, relu, np.float64)
    _, g32 = _grads(compiled, mode, p, reverse, relu, np.float32)
    for name, g in g64.items():
        assert g32[name].dtype == np.float32
        np.testing.assert_allclose(g32[name], g, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(g).max()), err_msg=name)


@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,B,H,lengths,reverse", [(3, 1, 2, None, False), (3, 3, 2, [3, 1, 2], True)])
@needs_numba
def test_python_backend_runs_the_same_loops(m, dtype, T, B, H, lengths, reverse):
    """Uncompiled loops (B=1: the plain matmul loop; B=3: the BLAS branch) give numba's numbers."""
    mode, relu = _mode(m)
    p = make(mode, T, B, H, lengths=lengths, seed=11)
    fn, gn = _grads(numba(), mode, p, reverse, relu, dtype)
    fp, gp = _grads(python(), mode, p, reverse, relu, dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(fn[:3], fp[:3]):
        if a is not None:
            np.testing.assert_allclose(b, a, **tol)
    for name in gn:
        np.testing.assert_allclose(gp[name], gn[name], **tol, err_msg=name)


def test_missing_upstream_state_grads_mean_zero(compiled):
    for mode in ("rnn", "lstm", "gru"):
        p = make(mode, 4, 3, 2)
        _, a = _grads(compiled, mode, p, False, False, np.float64, missing_upstream=True)
        T, B, H = 4, 3, 2
        d_out, _, _ = upstream(mode, T, B, H, np.float64)
        zeros = np.zeros((B, H))
        b = run_backward(compiled, mode, p, run_forward(compiled, mode, p), d_out, zeros, zeros)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_strided_inputs_are_accepted(compiled):
    """A batch-first input transposed to (T, B, G) is a strided view: the wrapper copies it."""
    p = make("gru", 5, 3, 4)
    q = dict(p, gi=np.ascontiguousarray(p["gi"].transpose(1, 0, 2)).transpose(1, 0, 2),
             w_hh=np.asfortranarray(p["w_hh"]))
    assert not q["gi"].flags.c_contiguous and not q["w_hh"].flags.c_contiguous
    for a, b in zip(run_forward(compiled, "gru", p)[:2], run_forward(compiled, "gru", q)[:2]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("T,B", [(0, 3), (3, 0)])
def test_empty_sequence_or_batch(compiled, T, B):
    for mode in ("rnn", "lstm", "gru"):
        p = make(mode, T, B, 3)
        fwd = run_forward(compiled, mode, p)
        g = run_backward(compiled, mode, p, fwd, *upstream(mode, T, B, 3, np.float64))
        assert fwd[0].shape == (T, B, 3) and g["gi"].shape == (T, B, GATES[mode] * 3)
        assert not g["w_hh"].any() and not g["b_hh"].any()
        np.testing.assert_array_equal(fwd[1][-1], p["h0"])


def test_dtype_mismatch_is_a_clear_error(compiled):
    p = make("lstm", 2, 2, 2)
    with pytest.raises(TypeError, match="lstm_forward: w_hh is float32"):
        compiled.lstm_forward(p["gi"], p["w_hh"].astype(np.float32), p["b_ih"], p["b_hh"], p["h0"], p["c0"], None,
                             False)


def test_wrong_shapes_are_clear_errors_not_reads_out_of_bounds(compiled):
    """The compiled loops check no bounds: the wrappers must catch every mismatch first."""
    p = make("gru", 3, 2, 4)
    k = compiled
    with pytest.raises(ValueError, match=r"gru_forward: gi has shape \(3, 2, 12\), expected \(3, 2, 9\)"):
        k.gru_forward(p["gi"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"][:, :3], None, False)
    with pytest.raises(ValueError, match="gru_forward: mask has shape"):
        k.gru_forward(p["gi"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"], np.ones((2, 3), bool), False)
    with pytest.raises(ValueError, match=r"gru_forward: b_ih has shape \(8,\), expected \(12,\)"):
        k.gru_forward(p["gi"], p["w_hh"], p["b_ih"][:8], p["b_hh"], p["h0"], None, False)
    out, hs, gates, hn = k.gru_forward(p["gi"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"], None, False)
    with pytest.raises(ValueError, match="gru_backward: d_out has shape"):
        k.gru_backward(gates, hn, hs, p["w_hh"], None, False, out[:2], None)
    with pytest.raises(ValueError, match="gru_backward: w_hh has shape"):
        k.gru_backward(gates, hn, hs, p["w_hh"][:8], None, False, out, None)


# ------------------------------------------------------------ the matmul helpers
def _compiled_gemms():
    from numba import njit

    from minigrad.backends.loops._blas import gemm, gemm_loop

    @njit
    def blas(a, b, out, ta, tb):
        gemm(a, b, out, ta, tb)

    @njit
    def loop(a, b, out, ta, tb):
        gemm_loop(a, b, out, ta, tb)
    return {"blas": blas, "loop": loop, "blas.py": gemm, "loop.py": gemm_loop}


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 5, 7), (37, 13, 1), (2, 0, 3), (5, 64, 33)])
def test_gemm_and_its_plain_loop_in_every_transpose(dtype, m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    for name, fn in _compiled_gemms().items():
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                out = np.full((m, n), np.nan, dtype=dtype)
                fn(a, b, out, ta, tb)
                want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
                np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5, err_msg=f"{name} ta={ta} tb={tb}")


def test_numpy_openblas_is_found(compiled):
    """The compiled kernels call the BLAS numpy loaded; a numpy wheel's OpenBLAS must be found
    (otherwise they fall back to plain loops: correct, several times slower)."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    if "openblas" not in str(blas.get("name", "")):
        pytest.skip(f"numpy is built against {blas.get('name')!r}")
    if compiled.name == "numba":
        from minigrad.backends.loops._blas import HAVE_BLAS as found
    else:
        found = _cython_recurrent().have_blas()
    assert found


def _cython_recurrent():
    """The recurrent.pyx module the cython backend loaded (the baseline or the AVX2 build)."""
    import sys
    return sys.modules[backends.get_backend("cython").loops.rnn_forward_loop.__module__]


@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cython_without_blas_gives_the_same_numbers(m, dtype):
    """With no BLAS every product of the Cython kernels is its plain loop, also at B=5
    (BLAS otherwise): the same results to rounding. set_blas(0, 0, ...) switches BLAS off."""
    if not REPORT["cython"]["available"]:
        pytest.skip(f"cython backend not available: {REPORT['cython']['reason']}")
    from minigrad.backends._blas_lib import gemm_addresses
    recurrent = _cython_recurrent()
    found = gemm_addresses()
    if found is None:
        pytest.skip("no BLAS found: the plain loops are what every test runs")
    mode, relu = _mode(m)
    p = make(mode, 6, 5, 7, lengths=[6, 2, 6, 1, 5], seed=5)
    k = backends.get_backend("cython")
    with_blas = _grads(k, mode, p, True, relu, dtype)
    recurrent.set_blas(0, 0, 64)
    try:
        assert not recurrent.have_blas()
        loops = _grads(k, mode, p, True, relu, dtype)
    finally:
        recurrent.set_blas(*found)
    assert recurrent.have_blas()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(with_blas[0][:3], loops[0][:3]):  # out, hs, cs
        if a is not None:
            np.testing.assert_allclose(b, a, **tol)
    for name in with_blas[1]:
        np.testing.assert_allclose(loops[1][name], with_blas[1][name], **tol, err_msg=name)
    with pytest.raises(ValueError, match="int_bits"):
        recurrent.set_blas(0, 0, 16)


# ------------------------------------------------- the numpy reference kernels
@pytest.mark.parametrize("m", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [6, 1, 4, 6]])
def test_matches_numpy_backend_reference(compiled, m, reverse, lengths):
    pytest.importorskip("minigrad.backends.reference.recurrent")
    k_np = backends.get_backend("numpy")
    if not hasattr(k_np, "lstm_forward"):
        pytest.skip("the numpy backend has no recurrent kernels yet")
    mode, relu = _mode(m)
    p = make(mode, 6, 4, 5, lengths=lengths, seed=21)
    fa, ga = _grads(compiled, mode, p, reverse, relu, np.float64)
    fb, gb = _grads(k_np, mode, p, reverse, relu, np.float64)
    np.testing.assert_allclose(fa[0], fb[0], rtol=1e-10, atol=1e-12)  # out
    np.testing.assert_allclose(fa[1], fb[1], rtol=1e-10, atol=1e-12)  # hs
    for name in ga:
        np.testing.assert_allclose(ga[name], gb[name], rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
def test_gemm_takes_a_column_slice_as_its_first_operand(dtype, trans_a):
    """a = the first 2H of 3H columns (rows contiguous, row stride 3H): BLAS with lda = 3H."""
    pytest.importorskip("numba")
    funcs = _compiled_gemms()
    rng = np.random.default_rng(5)
    wide = rng.standard_normal((13, 9)).astype(dtype)
    a = wide[:, :6]  # (13, 6), strides (9, 1) elements
    b = rng.standard_normal((13, 4) if trans_a else (6, 4)).astype(dtype)
    want = (a.T if trans_a else a).astype(np.float64) @ b.astype(np.float64)
    for name in ("blas", "loop"):
        out = np.full(want.shape, np.nan, dtype=dtype)
        funcs[name](a, b, out, trans_a, False)
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5, err_msg=name)
    every_other = wide[:, ::2]  # (13, 5), inner stride 2: no BLAS form, the plain loop runs
    b2 = rng.standard_normal((13, 4) if trans_a else (5, 4)).astype(dtype)
    out = np.full((5 if trans_a else 13, 4), np.nan, dtype=dtype)
    funcs["blas"](every_other, b2, out, trans_a, False)
    want = (every_other.T if trans_a else every_other).astype(np.float64) @ b2.astype(np.float64)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
