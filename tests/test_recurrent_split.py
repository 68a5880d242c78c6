"""The two ways numba and Cython run a recurrence, and numba's threaded matmul.

* the plan: which path ("split" across threads, or one BLAS call per step) a size takes,
  why, and the settings that change it (MINIGRAD_RNN_SPLIT, OMP_NUM_THREADS);
* BLAS's thread count is restored after a split call or a threaded product;
* the split loops (loops/recurrent_parallel.py) interpreted give the compiled loops'
  numbers: the same source, as for every loop kernel; Cython's OpenMP twins give numba's;
* finite differences through layers whose sequences run split;
* ``threaded_matmul`` against numpy: row and column splits, transposed, batched,
  strided, integer and empty operands;
* a forked child trains on one thread (OpenMP's threads do not survive fork()).

Kernel-level parity of the split loops with the references (every mode, mask, reverse
and dtype) is in test_loops_recurrent.py, whose ``compiled`` fixture runs them as
"numba-split" and "cython-split".
"""
import os

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.backends import _blas_lib, get_backend
from minigrad.backends.wrappers import _recurrent_plan
from minigrad.backends.wrappers.matmul import SPLIT_MIN_WORK, threaded_matmul

pytestmark = pytest.mark.skipif(not mg.available_backends()["numba"]["available"], reason="numba not installed")


def _threads(name):
    """(backend name, its thread count); skipped where the backend is missing or has one thread."""
    info = mg.available_backends()[name]
    if not info["available"]:
        pytest.skip(f"{name} backend not available: {info['reason']}")
    n = get_backend(name).loops.threads()
    if n < 2:
        pytest.skip(f"{name} runs one thread here: nothing to split across")
    return name, n


@pytest.fixture
def numba_threads():
    return _threads("numba")[1]


@pytest.fixture(params=["numba", "cython"])
def threaded(request):
    """A backend with split loops (numba's threads or Cython's OpenMP), and its thread count."""
    return _threads(request.param)


@pytest.fixture
def auto(monkeypatch):
    monkeypatch.delenv("MINIGRAD_RNN_SPLIT", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


# ------------------------------------------------------------------ the plan
def test_plan_splits_large_steps_and_says_why(threaded, auto):
    name, threads = threaded
    k = get_backend(name)
    big = k.recurrent_plan("lstm", 32, 256)
    assert big["path"] == "split" and big["threads"] == threads
    assert big["unit"] % _recurrent_plan.SPLIT_ALIGN == 0 and big["unit"] * threads >= 256 > big["unit"]
    assert str(32 * 4 * 256 * 256) in big["why"]
    small = k.recurrent_plan("lstm", 1, 32)
    assert small["path"] == "blas" and small["unit"] == 0 and str(4 * 32 * 32) in small["why"]
    # the threshold is the per-step work B * G*H * H, whichever cell
    h = 64
    b_min = -(-_recurrent_plan.SPLIT_MIN_WORK // (3 * h * h))
    assert k.recurrent_plan("gru", b_min, h)["path"] == "split"
    assert k.recurrent_plan("gru", b_min - 1, h)["path"] == "blas"


def test_plan_settings(threaded, auto, monkeypatch):
    name, threads = threaded
    k = get_backend(name)
    monkeypatch.setenv("MINIGRAD_RNN_SPLIT", "0")
    assert k.recurrent_plan("lstm", 32, 256) == dict(path="blas", threads=threads, unit=0,
                                                     why="MINIGRAD_RNN_SPLIT=0")
    monkeypatch.setenv("MINIGRAD_RNN_SPLIT", "1")  # forced: any size, unaligned chunks
    forced = k.recurrent_plan("rnn", 1, 5)
    assert forced["path"] == "split" and forced["unit"] == -(-5 // threads)
    assert k.recurrent_plan("rnn", 1, 1)["path"] == "blas"  # one unit cannot be split
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a user's thread limit wins
    assert k.recurrent_plan("lstm", 32, 256) == dict(path="blas", threads=1, unit=0, why="one thread")
    monkeypatch.setenv("MINIGRAD_RNN_SPLIT", "yes")
    with pytest.raises(ValueError, match="MINIGRAD_RNN_SPLIT='yes': expected auto, 0 or 1"):
        k.recurrent_plan("lstm", 32, 256)
    with pytest.raises(ValueError, match="cell must be one of"):
        k.recurrent_plan("LSTMCell", 32, 256)


def test_python_backend_runs_one_blas_call_per_step():
    from minigrad.backends.wrappers._recurrent_plan import plan
    loops = get_backend("python").loops
    assert plan({"f": loops, "d": loops}, np.float32, 32, 256, 4)["path"] == "blas"
    assert "recurrent_plan" not in dir(get_backend("python"))


# --------------------------------------------------------- BLAS's thread count
def test_blas_thread_count_is_restored(threaded, auto, monkeypatch):
    name, _ = threaded
    before = _blas_lib.get_num_threads()
    if before is None:
        pytest.skip("numpy's BLAS cannot say its thread count")
    _blas_lib.set_num_threads(2)
    try:
        monkeypatch.setenv("MINIGRAD_RNN_SPLIT", "1")
        with mg.backend(name):
            layer = rnn.LSTM(8, 20)
            out, _ = layer(mg.randn(5, 3, 8))
            out.sum().backward()
            assert _blas_lib.get_num_threads() == 2
        a = np.ones((600, 40), np.float32)
        threaded_matmul({"f": get_backend("numba").loops}, a, a.T)
        assert _blas_lib.get_num_threads() == 2
        with _blas_lib.single_threaded():
            assert _blas_lib.get_num_threads() == 1
        assert _blas_lib.get_num_threads() == 2
    finally:
        _blas_lib.set_num_threads(before)


# ------------------------------------------- the same source, interpreted
@pytest.mark.parametrize("reverse", [False, True])
def test_split_loops_interpreted_match_compiled(reverse):
    """The python backend's copies of the split loops (py_func, prange = range) give the
    compiled loops' numbers: masks, reverse, an uneven split (H = 7 in chunks of 3)."""
    compiled, interpreted = get_backend("numba").loops, get_backend("python").loops
    rng = np.random.default_rng(3)
    T, B, H, unit = 4, 3, 7, 3
    mask = np.ones((T, B), bool)
    mask[2:, 1] = False
    w = rng.standard_normal((4 * H, H)) * 0.4
    gi, bias = rng.standard_normal((T, B, 4 * H)), rng.standard_normal(4 * H) * 0.1
    results = []
    for loops in (compiled, interpreted):
        out, gates = np.empty((T, B, H)), np.empty((T, B, 4 * H))
        hs, cs = np.zeros((T + 1, B, H)), np.zeros((T + 1, B, H))
        hs[0], cs[0] = 0.3, -0.2
        loops.lstm_forward_parts(gi, w, bias, mask, reverse, unit, out, hs, cs, gates)
        grads = [np.empty((T, B, 4 * H)), np.empty((4 * H, H)), np.empty(4 * H), np.full((B, H), 0.1), np.zeros((B, H))]
        loops.lstm_backward_parts(gates, hs, cs, w, mask, reverse, unit, np.ones((T, B, H)), *grads)
        results.append([out, hs, cs, gates] + grads)
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    assert np.all(results[0][0][2:, 1] == 0)  # padded steps give zero outputs


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("H,unit", [(37, 16), (200, 128)])
def test_cython_split_loops_match_numbas(mode, reverse, H, unit):
    """Cython's OpenMP split loops and numba's give the same numbers (float64, to rounding):
    masks, reverse, uneven splits (H = 37 in chunks of 16: 16, 16, 5, more chunks than
    threads; H = 200 in 128 + 72), a batch large enough for BLAS, and at H = 200 the LSTM's
    forward products in column blocks (B * H * 4U > 2^19)."""
    if not mg.available_backends()["cython"]["available"]:
        pytest.skip("cython extension not built")
    rng = np.random.default_rng(4)
    T, B = 4, 6
    G = {"rnn": 1, "lstm": 4, "gru": 3}[mode] * H
    mask = np.ones((T, B), bool)
    mask[3:, 2] = False
    w = rng.standard_normal((G, H)) * 0.3
    gi, bias, b2 = rng.standard_normal((T, B, G)), rng.standard_normal(G) * 0.1, rng.standard_normal(G) * 0.1
    d_out = rng.standard_normal((T, B, H))
    results = []
    for loops in (get_backend("numba").loops, get_backend("cython").loops):
        hs, out = np.zeros((T + 1, B, H)), np.empty((T, B, H))
        hs[0] = rng.standard_normal((B, H)) if not results else results[0][0][0]
        grads = [np.empty((T, B, G)), np.empty((G, H)), np.empty(G), np.full((B, H), 0.1)]
        if mode == "rnn":
            loops.rnn_forward_parts(gi, w, bias, mask, reverse, False, unit, out, hs)
            loops.rnn_backward_parts(hs, w, mask, reverse, False, unit, d_out, *grads)
            saved = []
        elif mode == "lstm":
            cs, gates = np.zeros((T + 1, B, H)), np.empty((T, B, G))
            cs[0] = 0.2
            loops.lstm_forward_parts(gi, w, bias, mask, reverse, unit, out, hs, cs, gates)
            grads.append(np.full((B, H), -0.1))
            loops.lstm_backward_parts(gates, hs, cs, w, mask, reverse, unit, d_out, *grads)
            saved = [cs, gates]
        else:
            gates, hn = np.empty((T, B, G)), np.empty((T, B, H))
            loops.gru_forward_parts(gi, w, bias, b2, mask, reverse, unit, out, hs, gates, hn)
            loops.gru_backward_parts(gates, hn, hs, w, mask, reverse, unit, d_out, *grads)
            saved = [gates, hn]
        results.append([hs, out] + saved + grads)
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    assert np.all(results[1][1][3:, 2] == 0) and np.any(results[1][1] != 0)


# ------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_layer_gradcheck_with_split_sequences(threaded, monkeypatch, mode):
    """Finite differences through a bidirectional layer run split (H = 6 over the threads),
    with lengths (padded steps) in the batch."""
    name, _ = threaded
    monkeypatch.setenv("MINIGRAD_RNN_SPLIT", "1")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with mg.backend(name):
        mg.manual_seed(0)
        layer = getattr(rnn, mode)(3, 6, bidirectional=True, dtype=mg.float64)
        rng = np.random.default_rng(1)
        x = mg.tensor(rng.standard_normal((4, 3, 3)), dtype=mg.float64, requires_grad=True)
        assert get_backend(name).recurrent_plan(mode.lower(), 3, 6)["path"] == "split"

        def f(x, *params):
            out, _ = layer(x, lengths=[4, 2, 3])
            return out

        assert mg.gradcheck(f, [x, *layer.parameters()])


# ------------------------------------------------------------- threaded matmul
def _split_L(name):
    loops = get_backend(name).loops
    return {"f": loops, "d": loops}


@pytest.fixture(params=["numba", "cython"])
def split_L(request):
    """The loop set of a backend whose matmul splits products across its threads."""
    info = mg.available_backends()[request.param]
    if not info["available"]:
        pytest.skip(f"{request.param} backend not available: {info['reason']}")
    return _split_L(request.param)


CASES = [
    ((700, 40), (40, 30), False, False),   # rows split
    ((30, 40), (40, 700), False, False),   # columns split (fewer rows than columns)
    ((40, 700), (40, 30), True, False),    # a transposed (BLAS's flag, no copy)
    ((700, 40), (30, 40), False, True),    # b transposed
    ((5, 2), (2, 3), False, False),        # too small to split: one call
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb,ta,tb", CASES)
def test_threaded_matmul_matches_numpy(split_L, dtype, sa, sb, ta, tb):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    a, b = (a.T if ta else a), (b.T if tb else b)
    got = threaded_matmul(split_L, a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got.dtype == dtype and got.shape == want.shape
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_threaded_matmul_batched_strided_integer_and_empty(split_L):
    L = split_L
    rng = np.random.default_rng(8)
    a3 = rng.standard_normal((6, 50, 64)).astype(np.float32)  # leading axes fold into the rows
    w = rng.standard_normal((64, 80)).astype(np.float32)
    assert 6 * 50 * 64 * 80 >= SPLIT_MIN_WORK
    np.testing.assert_allclose(threaded_matmul(L, a3, w), a3 @ w, rtol=1e-4, atol=1e-4)
    strided = rng.standard_normal((300, 128))[:, ::2]  # no BLAS form: copied first
    np.testing.assert_allclose(threaded_matmul(L, strided, strided.T), strided @ strided.T, rtol=1e-11)
    wide = rng.standard_normal((700, 100))
    block = wide[:, 10:50]  # a column block: contiguous rows 100 apart, read in place
    np.testing.assert_allclose(threaded_matmul(L, block, wide[:40, 60:]), block @ wide[:40, 60:], rtol=1e-11)
    np.testing.assert_allclose(threaded_matmul(L, block.T, wide[:, :30]), block.T @ wide[:, :30], rtol=1e-11)
    ai, bi = rng.integers(-5, 5, (4, 3)), rng.integers(-5, 5, (3, 2))
    assert np.array_equal(threaded_matmul(L, ai, bi), ai @ bi)
    mixed = threaded_matmul(L, a3[0].astype(np.float64), w)  # float64 @ float32: numpy's promotion
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, a3[0].astype(np.float64) @ w, rtol=1e-6)
    assert threaded_matmul(L, np.zeros((0, 4)), np.zeros((4, 3))).shape == (0, 3)
    np.testing.assert_array_equal(threaded_matmul(L, np.zeros((2, 0)), np.zeros((0, 3))), np.zeros((2, 3)))
    v = rng.standard_normal(64).astype(np.float32)  # 1-D and batched b: numpy's rules
    np.testing.assert_allclose(threaded_matmul(L, v, w), v @ w, rtol=1e-5)
    with pytest.raises(ValueError):
        threaded_matmul(L, np.zeros((3, 4)), np.zeros((5, 2)))


def test_threaded_matmul_propagates_nan_and_inf(split_L):
    a = np.ones((700, 40), np.float32)
    a[3, 5], a[600, 0] = np.nan, np.inf
    got = threaded_matmul(split_L, a, np.ones((40, 30), np.float32))
    with np.errstate(invalid="ignore"):
        want = a @ np.ones((40, 30), np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))


# ------------------------------------------------------------- fork
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_a_forked_child_trains_on_one_thread(threaded, monkeypatch):
    """GNU OpenMP's threads do not survive fork(): after the parent has used them, a child
    that entered a parallel region would hang (Cython) or be terminated (numba). A forked
    child runs the one-thread paths instead, and says so in the plan."""
    import time
    name, _ = threaded
    monkeypatch.setenv("MINIGRAD_RNN_SPLIT", "1")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    def step():
        with mg.backend(name):
            layer = rnn.LSTM(4, 32)
            out, _ = layer(mg.randn(5, 3, 4))
            (out.sum() + (mg.randn(700, 40) @ mg.randn(40, 30)).sum()).backward()  # a threaded product too

    step()  # the parent's OpenMP threads are up
    assert get_backend(name).recurrent_plan("lstm", 3, 32)["path"] == "split"
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if it trained, on one thread
        code = 1
        try:
            step()
            plan = get_backend(name).recurrent_plan("lstm", 3, 32)
            code = 0 if plan["path"] == "blas" and "forked child" in plan["why"] else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child did not finish its training step within 60 s")
