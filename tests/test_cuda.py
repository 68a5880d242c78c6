"""The cuda backend against the numpy backend: every op forward and backward, on the device.

Without a GPU these run in numba's CUDA simulator (tests/conftest.py turns it on), which
runs every GPU thread as a Python thread: shapes stay tiny. On a GPU machine the same
tests run on the device.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import nn, optim
from tests.conftest import assert_close

INFO = mg.available_backends()["cuda"]
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not INFO["available"], reason=f"cuda backend not available: {INFO['reason']}")]
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(0)


def _data(shape, dtype, scale=1.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def run_on(device, fn, arrays, dtype, weight_seed=7):
    """fn of leaf tensors made from ``arrays`` on ``device``; (output, input gradients) as numpy."""
    with mg.backend("numpy"):
        ts = [mg.tensor(a, dtype=dtype, requires_grad=True, device=device) for a in arrays]
        y = fn(*ts)
        w = mg.tensor(_data(y.shape, dtype, seed=weight_seed), dtype=dtype, device=device)
        (y * w).sum().backward()
        return y.numpy(), [None if t.grad is None else t.grad.numpy() for t in ts]


def same_on_both(fn, arrays, dtype=np.float32, **tol):
    y_cpu, g_cpu = run_on("cpu", fn, arrays, dtype)
    y_dev, g_dev = run_on("cuda", fn, arrays, dtype)
    assert y_dev.shape == y_cpu.shape and y_dev.dtype == y_cpu.dtype
    assert_close(y_dev, y_cpu, dtype, **tol)
    for a, b in zip(g_dev, g_cpu):
        assert (a is None) == (b is None)
        if a is not None:
            assert_close(a, b, dtype, **tol)


# ------------------------------------------------------------- elementwise
UNARY = {
    "neg": lambda x: -x, "exp": mg.exp, "log": lambda x: mg.log(x.abs() + 0.1), "sqrt": lambda x: mg.sqrt(x.abs()),
    "abs": mg.abs, "tanh": mg.tanh, "sigmoid": mg.sigmoid, "relu": mg.relu, "leaky_relu": lambda x: mg.leaky_relu(x, 0.2),
    "clip": lambda x: mg.clip(x, -0.5, 0.7), "square": lambda x: x ** 2, "scalars": lambda x: (2.0 - x) / 3 + x * 0.5,
    "softmax0": lambda x: mg.softmax(x, axis=0), "log_softmax1": lambda x: mg.log_softmax(x, axis=1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_and_activations(name, dtype):
    same_on_both(UNARY[name], [_data((3, 4), dtype, 2.0)], dtype)


BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / (b.abs() + 0.5), "pow": lambda a, b: a.abs() ** b,
          "maximum": mg.maximum, "minimum": mg.minimum, "where": lambda a, b: mg.where(a > b, a, b * 2)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 1, 3), (4, 1)), ((), (2, 3))])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_broadcast(name, shapes, dtype):
    same_on_both(BINARY[name], [_data(shapes[0], dtype, seed=1), _data(shapes[1], dtype, seed=2)], dtype)


def test_nan_and_inf_stay_as_on_the_cpu():
    x = np.array([[np.nan, np.inf, -np.inf, 0.0], [1.0, -2.0, 100.0, -100.0]], np.float32)
    for fn in (mg.relu, mg.sigmoid, mg.tanh, mg.exp, lambda t: mg.maximum(t, t.flip(1)), lambda t: t.max(axis=1),
               lambda t: mg.softmax(t, axis=1)):
        cpu = fn(mg.tensor(x)).numpy()
        dev = fn(mg.tensor(x, device="cuda")).numpy()
        np.testing.assert_array_equal(np.isnan(dev), np.isnan(cpu))
        np.testing.assert_allclose(dev[np.isfinite(cpu)], cpu[np.isfinite(cpu)], rtol=2e-5, atol=1e-6)


# -------------------------------------------------------------- reductions
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, 2, (0, 2), (1, 2)])
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var"])
def test_reductions_over_axes(op, axis, dtype):
    x = _data((2, 3, 4), dtype, seed=3)
    if op in ("max", "min"):
        x[0, 1, 2] = x[1, 2, 3] = 9.0 if op == "max" else -9.0  # a tie shares the gradient
    for keepdims in (False, True):
        same_on_both(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), [x], dtype)


def test_argmax_argmin_and_comparisons():
    x = np.array([[1.0, 5.0, 5.0, -2.0], [np.nan, 0.0, 3.0, np.nan]], np.float32)
    for device in ("cpu", "cuda"):
        t = mg.tensor(x, device=device)
        out = [t.argmax().numpy(), t.argmax(axis=1).numpy(), t.argmin(axis=0, keepdims=True).numpy(),
               (t > 1).numpy(), (t == 5).numpy()]
        if device == "cpu":
            want = out
    for a, b in zip(out, want):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ matmul
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa, sb", [((3, 5), (5, 4)), ((5,), (5, 3)), ((4, 5), (5,)), ((5,), (5,)),
                                    ((2, 3, 5), (5, 2)), ((2, 1, 3, 4), (3, 4, 2)), ((33, 9), (9, 35))])
def test_matmul_shapes_batches_and_tiles(sa, sb, dtype):
    same_on_both(lambda a, b: a @ b, [_data(sa, dtype, seed=4), _data(sb, dtype, seed=5)], dtype,
                 rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-5 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("tile", ["32", "64"])
def test_matmul_both_tile_sizes_cover_ragged_edges(monkeypatch, tile):
    monkeypatch.setenv("MINIGRAD_CUDA_TILE", tile)
    same_on_both(lambda a, b: a @ b, [_data((67, 5), np.float32, seed=1), _data((5, 66), np.float32, seed=2)])


def test_matmul_reads_transposed_views_in_place():
    same_on_both(lambda a, b: a.T @ b.T, [_data((5, 3), np.float32, seed=6), _data((4, 5), np.float32, seed=7)])


# ------------------------------------------------------------ shape, index
SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6), "transpose": lambda x: x.transpose(0, 2).reshape(-1),
    "permute": lambda x: x.permute(2, 0, 1) * 1.0, "flip": lambda x: x.flip(1), "pad": lambda x: mg.pad(x, ((0, 0), (1, 2), (0, 1))),
    "expand": lambda x: x[:, :1].expand(2, 3, 4), "squeeze": lambda x: x[:, 1:2].squeeze(1) + x.unsqueeze(0).sum(0)[:, 0],
    "cat": lambda x: mg.cat([x, x * 2], axis=1), "stack": lambda x: mg.stack([x, -x], axis=0),
    "split": lambda x: mg.cat(x.split(2, axis=2)[::-1], axis=2), "chunk": lambda x: x.chunk(3, axis=1)[1],
    "basic_index": lambda x: x[1, ::2, 1:], "int_index": lambda x: x[:, [0, 2, 0]], "bool_index": lambda x: x[x > 0],
    "rows_repeated": lambda x: x[np.array([1, 1, 0])], "astype": lambda x: x.double().sum(axis=0),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_and_index_ops(name):
    same_on_both(SHAPE_OPS[name], [_data((2, 3, 4), np.float32, seed=8)])


def test_setitem_on_the_device():
    for device in ("cpu", "cuda"):
        t = mg.zeros(3, 4, device=device)
        with mg.no_grad():
            t[1] = 5.0
            t[:, 2] = mg.tensor([1.0, 2.0, 3.0], device=device)
            t[[0, 2], [0, 3]] = -1.0
        out = t.numpy()
        if device == "cpu":
            want = out
    np.testing.assert_array_equal(out, want)


# --------------------------------------------------------------- nn ops
def test_losses_embedding_and_linear():
    x = _data((5, 4), np.float32, seed=9)
    targets = np.array([0, 3, -100, 1, 2])
    same_on_both(lambda t: mg.cross_entropy(t, targets, label_smoothing=0.1), [x])
    same_on_both(lambda t: mg.nll_loss(mg.log_softmax(t, axis=1), targets, reduction="sum"), [x])
    same_on_both(lambda t: mg.binary_cross_entropy_with_logits(t, mg.full_like(t, 0.3)), [x])
    same_on_both(lambda t: mg.mse_loss(t, mg.zeros_like(t)) + mg.l1_loss(t, mg.ones_like(t)), [x])
    idx = np.array([[0, 2, 2], [4, 0, 1]])
    same_on_both(lambda w: mg.embedding(idx, w, padding_idx=1), [x])
    same_on_both(lambda t, w: mg.linear(t, w), [x, _data((3, 4), np.float32, seed=10)])


# ------------------------------------------------- fused kernels, called directly
SPECIAL = np.array([[np.nan, np.inf, -np.inf, 0.0, -0.0], [1.0, -2.0, 90.0, -90.0, 0.3]])
FUSED_CALLS = {  # name: (arguments built from (x, g) on a backend k)
    "sigmoid": lambda k, x, g: (x,), "relu": lambda k, x, g: (x,), "leaky_relu": lambda k, x, g: (x, 0.1),
    "clip": lambda k, x, g: (x, -1.0, None), "tanh_backward": lambda k, x, g: (k.tanh(x), g),
    "sigmoid_backward": lambda k, x, g: (k.sigmoid(x), g), "relu_backward": lambda k, x, g: (x, g),
    "leaky_relu_backward": lambda k, x, g: (x, g, 0.1), "clip_backward": lambda k, x, g: (x, g, None, 0.5),
    "abs_backward": lambda k, x, g: (x, g), "sqrt_backward": lambda k, x, g: (k.sqrt(k.abs(x)), g),
    "softmax": lambda k, x, g: (x, 0), "log_softmax": lambda k, x, g: (x, None),
    "softmax_backward": lambda k, x, g: (k.softmax(x, 1), g, 1),
    "log_softmax_backward": lambda k, x, g: (k.log_softmax(x, 0), g, 0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FUSED_CALLS))
def test_fused_kernels_with_nan_and_inf_equal_the_reference(name, dtype):
    from minigrad.backends import get_backend
    results = []
    for k in (get_backend("numpy"), get_backend("cuda")):
        x, g = k.asarray(SPECIAL, dtype), k.asarray(_data(SPECIAL.shape, dtype, seed=3), dtype)
        with np.errstate(all="ignore"):
            results.append(k.to_numpy(getattr(k, name)(*FUSED_CALLS[name](k, x, g))))
    want, got = results
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=2e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-7)


OPTIMIZER_CASES = [
    ("sgd_step", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True, weight_decay=0.01, maximize=False,
                      first=False), ("buf",)),
    ("sgd_step", dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=True,
                      first=True), ("buf",)),
    ("adam_step", dict(step=3, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1, decoupled=True,
                       maximize=False), ("m", "v", "vmax")),
    ("adam_step", dict(step=1, lr=0.01, beta1=0.8, beta2=0.9, eps=1e-6, weight_decay=0.1, decoupled=False,
                       maximize=True), ("m", "v", None)),
    ("rmsprop_step", dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.05, momentum=0.5, maximize=False),
     ("sq", "buf", "gavg")),
    ("rmsprop_step", dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, maximize=False),
     ("sq", "buf", None)),
    ("adagrad_step", dict(clr=0.1, eps=1e-10, weight_decay=0.01, maximize=False), ("acc",)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,hyper,states", OPTIMIZER_CASES)
def test_optimizer_kernels_update_in_place_as_the_reference(name, hyper, states, dtype):
    from minigrad.backends import get_backend
    start = [_data((3, 5), dtype, seed=s) for s in range(len(states) + 2)]
    start = start[:2] + [np.abs(a) if n in ("v", "vmax", "sq", "acc") else a for n, a in zip(states, start[2:])]
    results = []
    for k in (get_backend("numpy"), get_backend("cuda")):
        arrays = [k.asarray(a.copy(), dtype) for a in start]
        p, g, *rest = arrays
        state = [None if n is None else a for n, a in zip(states, rest)]
        assert getattr(k, name)(p, g, *state, **hyper) is None
        results.append([k.to_numpy(a) for n, a in zip(("p", "g") + states, arrays) if n is not None])
    for got, want in zip(results[1], results[0]):
        assert_close(got, want, dtype)
    assert not np.allclose(results[1][0], start[0])  # p moved


def test_philox_matches_the_papers_known_answers():
    from minigrad.backends.cuda.nn import _philox_2x32
    # Random123's known-answer vectors for Philox-2x32-10: (counter, key) -> output
    assert _philox_2x32(0, 0, 0) == (0xFF1DAE59, 0x6CD10DF2)
    assert _philox_2x32(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) == (0x2C3F628B, 0xAB4FD7AD)
    assert _philox_2x32(0x243F6A88, 0x85A308D3, 0x13198A2E) == (0xDD7CE038, 0xF62A4C12)


def test_dropout_mask_is_drawn_on_the_device_from_a_seed_of_the_generator():
    from minigrad.backends import get_backend
    from minigrad.backends.cuda.nn import _uniforms_on_host
    k, n, p = get_backend("cuda"), 1500, 0.4
    mask = k.to_numpy(k.dropout_mask((3, n // 3), p, np.random.default_rng(5), np.float32))
    seed = int(np.random.default_rng(5).integers(0, 2 ** 63))  # the one number taken from the generator
    want = np.where(_uniforms_on_host(n, seed) >= p, np.float32(1 / (1 - p)), 0).reshape(3, n // 3)
    np.testing.assert_array_equal(mask, want.astype(np.float32))
    assert abs((mask > 0).mean() - (1 - p)) < 0.06  # 1500 draws: the kept share is 0.6 +- 0.013


def test_dropout_on_the_device_follows_the_seed_and_scales_the_gradient():
    outs = []
    for _ in range(2):
        mg.manual_seed(4)
        x = mg.ones(4, 50, device="cuda", requires_grad=True)
        y = mg.dropout(x, p=0.4)
        y.sum().backward()
        outs.append((y.numpy(), x.grad.numpy(), mg.dropout(x, p=0.4).numpy()))
    (y, grad, again), (y2, _, _) = outs
    np.testing.assert_array_equal(y, y2)           # one seed, one mask
    assert not np.array_equal(y, again)            # the next draw is another mask
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.6)}
    np.testing.assert_array_equal(grad, y)         # d(x * mask)/dx = mask


def test_gradcheck_in_float64_on_the_device():
    x = mg.tensor(_data((2, 3), np.float64, seed=11), dtype=mg.float64, requires_grad=True, device="cuda")
    w = mg.tensor(_data((3, 2), np.float64, seed=12), dtype=mg.float64, requires_grad=True, device="cuda")
    assert mg.gradcheck(lambda x, w: mg.log_softmax((x @ w).tanh(), axis=1), [x, w])


# ------------------------------------------------------------ devices, models
def test_mixing_devices_names_both():
    with pytest.raises(RuntimeError, match="different devices .*cpu.*cuda|different devices .*cuda.*cpu"):
        mg.ones(2) + mg.ones(2, device="cuda")


def test_mlp_training_step_equals_the_cpus():
    results = {}
    for device in ("cpu", "cuda"):
        mg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).to(device)
        opt = optim.Adam(model.parameters(), lr=0.05)
        x = mg.tensor(_data((5, 4), np.float32, seed=13), device=device)
        targets = np.array([0, 2, 1, 1, 0])
        losses = []
        for _ in range(3):
            loss = mg.cross_entropy(model(x), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert all(p.device == device for p in model.parameters())
        assert all(s.device == device for st in opt.state.values() for s in st.values() if isinstance(s, mg.Tensor))
        results[device] = (losses, [p.numpy() for p in model.parameters()])
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=1e-5)
    for a, b in zip(results["cuda"][1], results["cpu"][1]):
        assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("path", ["sequence", "step"])
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrent_layer_on_the_device_equals_the_cpus(monkeypatch, mode, path):
    """Two bidirectional layers over sequences of different lengths, forward and backward."""
    monkeypatch.setenv("MINIGRAD_CUDA_RNN", path)
    results = {}
    for device in ("cpu", "cuda"):
        mg.manual_seed(1)
        layer = getattr(rnn, mode)(3, 4, num_layers=2, bidirectional=True).to(device)
        x = mg.tensor(_data((3, 2, 3), np.float32, seed=14), requires_grad=True, device=device)
        out, _ = layer(x, lengths=[3, 2])
        out.sum().backward()
        results[device] = [out.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]
    for a, b in zip(results["cuda"], results["cpu"]):
        assert_close(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------- recurrent kernels, both paths
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
RECURRENT_CASES = [  # (mode, reverse, lengths, biases, relu, upstream gradients of the final states)
    ("rnn", False, None, True, False, True), ("rnn", True, [3, 1], False, True, False),
    ("lstm", False, [2, 3], True, False, True), ("lstm", True, None, False, False, False),
    ("gru", False, None, False, False, True), ("gru", True, [1, 3], True, False, True),
]


def _recurrent_kernels(k, mode, arrays, mask, reverse, relu, finals):
    """Forward and backward of one recurrent kernel pair on backend k; every output as numpy."""
    dev = {name: None if a is None else k.asarray(a, a.dtype) for name, a in arrays.items()}
    extra = (dev["c0"],) if mode == "lstm" else ()
    flags = (mask, reverse, relu) if mode == "rnn" else (mask, reverse)
    fwd = getattr(k, f"{mode}_forward")(dev["gi"], dev["w_hh"], dev["b_ih"], dev["b_hh"], dev["h0"], *extra, *flags)
    saved = {"rnn": lambda: (fwd[1],), "lstm": lambda: (fwd[3], fwd[1], fwd[2]),
             "gru": lambda: (fwd[2], fwd[3], fwd[1])}[mode]()
    d_finals = tuple(dev[n] if finals else None for n in ("d_hn", "d_cn")[:2 if mode == "lstm" else 1])
    bwd = getattr(k, f"{mode}_backward")(*saved, dev["w_hh"], *flags, dev["d_out"], *d_finals)
    return [k.to_numpy(a) for a in fwd + bwd]


@pytest.mark.parametrize("path", ["sequence", "step"])
@pytest.mark.parametrize("mode,reverse,lengths,biases,relu,finals", RECURRENT_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_recurrent_kernels_on_both_paths_equal_the_reference(monkeypatch, path, mode, reverse, lengths, biases,
                                                             relu, finals, dtype):
    from minigrad.backends import get_backend
    monkeypatch.setenv("MINIGRAD_CUDA_RNN", path)
    T, B, H = 3, 2, 4
    G = GATES[mode] * H
    rng = np.random.default_rng(len(mode) + 3 * reverse)
    arrays = {"gi": rng.standard_normal((T, B, G)), "w_hh": rng.uniform(-0.6, 0.6, (G, H)),
              "b_ih": rng.standard_normal(G) * 0.5 if biases else None,
              "b_hh": rng.standard_normal(G) * 0.5 if biases else None,
              "h0": rng.standard_normal((B, H)) * 0.5, "c0": rng.standard_normal((B, H)) * 0.5,
              "d_out": rng.standard_normal((T, B, H)), "d_hn": rng.standard_normal((B, H)),
              "d_cn": rng.standard_normal((B, H))}
    arrays = {n: None if a is None else a.astype(dtype) for n, a in arrays.items()}
    mask = None if lengths is None else np.arange(T)[:, None] < np.asarray(lengths)[None, :]
    want = _recurrent_kernels(get_backend("numpy"), mode, arrays, mask, reverse, relu, finals)
    got = _recurrent_kernels(get_backend("cuda"), mode, arrays, mask, reverse, relu, finals)
    assert len(got) == len(want)
    if mask is not None:  # saved gates (and GRU's hn) at padded steps are unspecified by the contract
        for i in {"rnn": (), "lstm": (3,), "gru": (2, 3)}[mode]:
            got[i], want[i] = (np.where(mask[:, :, None], a, 0) for a in (got[i], want[i]))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        assert_close(g, w, dtype)


class _CharModel(nn.Module):
    """Embedding -> LSTM -> Linear, the text-generation model at toy size."""

    def __init__(self, vocab=7, dim=4, hidden=5):
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(vocab, dim), rnn.LSTM(dim, hidden), nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)


def _char_step(model, opt, tokens, targets, max_norm=0.5):
    logits = model(tokens)
    loss = mg.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    opt.zero_grad()
    loss.backward()
    norm = optim.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    return loss.item(), norm


def test_a_training_step_copies_only_the_loss_to_the_host_and_reuses_its_memory():
    from minigrad.backends import get_backend
    stats = get_backend("cuda").stats
    mg.manual_seed(3)
    model = _CharModel().to("cuda")
    opt = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    tokens, targets = rng.integers(0, 7, (4, 2)), rng.integers(0, 7, (4, 2))
    for _ in range(2):  # the first steps create the optimizer state and fill the allocator's cache
        _char_step(model, opt, tokens, targets)
    stats.reset()
    loss, norm = _char_step(model, opt, tokens, targets)
    assert (stats.to_host, stats.to_host_bytes) == (1, 4)  # loss.item(): one float32
    assert stats.allocations == 0  # every buffer came from the cache
    assert isinstance(norm, mg.Tensor) and norm.device == "cuda" and norm.shape == ()
    assert stats.peak > 0 and np.isfinite(loss)


def test_clip_grad_norm_on_the_device_equals_the_cpus():
    results = {}
    for device in ("cpu", "cuda"):
        mg.manual_seed(3)
        model = _CharModel().to(device)
        opt = optim.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(1)
        loss, norm = _char_step(model, opt, rng.integers(0, 7, (3, 2)), rng.integers(0, 7, (3, 2)), 0.1)
        results[device] = (loss, float(norm), [p.numpy() for p in model.parameters()])
    (loss_c, norm_c, ps_c), (loss_d, norm_d, ps_d) = results["cpu"], results["cuda"]
    assert norm_c > 0.1  # the clip acted
    np.testing.assert_allclose([loss_d, norm_d], [loss_c, norm_c], rtol=1e-5)
    for a, b in zip(ps_d, ps_c):
        assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fit_moves_each_batch_to_the_models_device():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 3, 2)).astype(np.float32), rng.standard_normal((6, 1)).astype(np.float32)
    results = {}
    for device in ("cpu", "cuda"):
        mg.manual_seed(5)
        model = nn.Sequential(rnn.GRU(2, 3, batch_first=True, return_sequences=False), nn.Linear(3, 1)).to(device)
        history = rnn.train.fit(model, x, y, loss="mse", optimizer="sgd", lr=0.1, epochs=2, batch_size=3,
                                shuffle=False, verbose=0)
        results[device] = (history.history["loss"], rnn.train.predict(model, x))
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=1e-5)
    assert_close(results["cuda"][1], results["cpu"][1], rtol=1e-5, atol=1e-6)


def test_save_and_load_of_device_tensors(tmp_path):
    mg.manual_seed(2)
    model = nn.Linear(3, 2).to("cuda")
    mg.save({"model": model.state_dict()}, tmp_path / "ckpt.npz")
    other = nn.Linear(3, 2).to("cuda")
    other.load_state_dict(mg.load(tmp_path / "ckpt.npz")["model"])
    assert other.weight.device == "cuda"
    np.testing.assert_array_equal(other.weight.numpy(), model.weight.numpy())


def test_import_minigrad_does_not_import_numba_cuda():
    code = "import sys, minigrad; print('numba.cuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "False", out.stderr


def _nvvm_available():
    code = "from numba.cuda.cudadrv import nvvm; nvvm.NVVM()"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120).returncode == 0


def test_every_kernel_compiles_for_a_gpu():
    """Every kernel signature the tests above launch compiles to PTX for a Hopper GPU (the
    code paths the simulator does not take, warp shuffles included); needs the CUDA
    toolkit's NVVM, not a GPU (tests/cuda_compile_check.py)."""
    if not _nvvm_available():
        pytest.skip("the CUDA toolkit's NVVM library is not installed")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, os.path.join(root, "tests", "cuda_compile_check.py")], capture_output=True,
                         text=True, timeout=900, cwd=root)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "failed: 0" in out.stdout
    assert int(out.stdout.split("compiled for sm_90: ")[1].split()[0]) >= 100
