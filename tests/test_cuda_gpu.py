"""The CUDA backend at real sizes, on a real GPU only (skipped in numba's simulator, which
runs every GPU thread as a Python thread and cannot reach these sizes).

``benchmarks/gpu_check.sh`` runs this file with ``tests/test_cuda.py`` and then the GPU
benchmark, in one call.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.backends import get_backend
from tests.test_cuda import GATES, _CharModel, _char_step, _recurrent_kernels

INFO = mg.available_backends()["cuda"]
if INFO["available"]:
    from minigrad.backends.cuda import _runtime
    SIMULATED = _runtime.simulated()
else:
    SIMULATED = True
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(SIMULATED, reason="real sizes need a real GPU")]


@pytest.mark.parametrize("path", ["sequence", "step"])
@pytest.mark.parametrize("size", [(32, 100, 128), (64, 50, 256), (8, 30, 1024)])
@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_recurrent_kernels_at_real_sizes(monkeypatch, mode, size, path):
    monkeypatch.setenv("MINIGRAD_CUDA_RNN", path)
    B, T, H = size
    G = GATES[mode] * H
    rng = np.random.default_rng(0)
    arrays = {"gi": rng.standard_normal((T, B, G)), "w_hh": rng.uniform(-1, 1, (G, H)) / np.sqrt(H),
              "b_ih": rng.standard_normal(G) * 0.1, "b_hh": rng.standard_normal(G) * 0.1,
              "h0": rng.standard_normal((B, H)) * 0.5, "c0": rng.standard_normal((B, H)) * 0.5,
              "d_out": rng.standard_normal((T, B, H)), "d_hn": rng.standard_normal((B, H)),
              "d_cn": rng.standard_normal((B, H))}
    lengths = rng.integers(1, T + 1, B)
    mask = np.arange(T)[:, None] < lengths[None, :]
    for dtype, rtol, atol in ((np.float64, 1e-9, 1e-9), (np.float32, 2e-3, 2e-4)):
        typed = {n: a.astype(dtype) for n, a in arrays.items()}
        want = _recurrent_kernels(get_backend("numpy"), mode, typed, mask, True, False, True)
        got = _recurrent_kernels(get_backend("cuda"), mode, typed, mask, True, False, True)
        for i, (g, w) in enumerate(zip(got, want)):
            if i in {"rnn": (), "lstm": (3,), "gru": (2, 3)}[mode]:  # saved gates: unspecified at padding
                g, w = np.where(mask[:, :, None], g, 0), np.where(mask[:, :, None], w, 0)
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * max(1.0, float(np.abs(w).max())))


@pytest.mark.parametrize("tile", ["32", "64"])
def test_matmul_at_real_sizes(monkeypatch, tile):
    monkeypatch.setenv("MINIGRAD_CUDA_TILE", tile)
    monkeypatch.setenv("MINIGRAD_CUDA_MATMUL", "own")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((1000, 777)), rng.standard_normal((777, 1030))
    k = get_backend("cuda")
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-4)):
        got = k.to_numpy(k.matmul(k.asarray(a, dtype), k.asarray(b, dtype)))
        np.testing.assert_allclose(got, a @ b, rtol=rtol, atol=rtol * 30)


def test_losses_and_reductions_at_real_sizes():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((512, 10000)).astype(np.float32) * 3
    targets = rng.integers(0, 10000, 512)
    results = []
    for k in (get_backend("numpy"), get_backend("cuda")):
        d = k.asarray(x, np.float32)
        losses, logp = k.cross_entropy(d, targets, -100, 0.1)
        results.append([k.to_numpy(v) for v in (losses, logp, k.softmax(d, 0), k.sum(d, None, False),
                                                k.max(d, (1,), False), k.argmax(d, 1, False))])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


def test_char_model_trains_as_on_the_cpu_at_real_size():
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, 65, (100, 32)), rng.integers(0, 65, (100, 32))
    runs = {}
    for device in ("cpu", "cuda"):
        mg.manual_seed(0)
        model = _CharModel(65, 64, 256).to(device)
        opt = mg.optim.Adam(model.parameters(), lr=2e-3)
        runs[device] = [_char_step(model, opt, tokens, targets, 5.0)[0] for _ in range(5)]
    np.testing.assert_allclose(runs["cuda"], runs["cpu"], rtol=1e-4)
    assert runs["cuda"][-1] < runs["cuda"][0]
