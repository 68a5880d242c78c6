"""The fused recurrent path (minigrad/ops/recurrent.py) against the composed cells, finite differences and PyTorch.

Sizes stay tiny (T <= 5, B <= 3, H <= 4): the "python" backend runs its loops interpreted.
Until a backend compiles its own recurrent kernels it inherits numpy's reference, and the
tests still run on it (they then check the layer plumbing on that backend's other kernels).
"""
import numpy as np
import pytest

import minigrad as mg
import rnn
from conftest import assert_close, f64
from minigrad.ops.recurrent import FusedGRU, FusedLSTM, FusedRNN

T, B, I, H = 4, 3, 3, 4
LENGTHS = [4, 1, 3]  # includes 1 and T; unsorted
MODES = ["RNN_tanh", "RNN_relu", "LSTM", "GRU"]


def make(mode, dtype=mg.float64, **kw):
    """A layer for 'RNN_tanh', 'RNN_relu', 'LSTM' or 'GRU' (seeded, so two calls build equal layers)."""
    mg.manual_seed(0)
    if mode.startswith("RNN"):
        return rnn.RNN(I, H, nonlinearity=mode[4:], dtype=dtype, **kw)
    return getattr(rnn, mode)(I, H, dtype=dtype, **kw)


def inputs(m, batch_first=False, dtype=np.float64, seed=1, with_state=True):
    """x and the initial state(s) for layer m, all requiring grad."""
    rng = np.random.default_rng(seed)
    shape = (B, T, I) if batch_first else (T, B, I)
    x = mg.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)
    n = m.num_layers * m.num_directions
    states = [mg.tensor(rng.standard_normal((n, B, H)) * 0.5, dtype=dtype, requires_grad=True)
              for _ in range(2 if isinstance(m, rnn.LSTM) else 1)]
    if not with_state:
        return x, None, []
    return x, (tuple(states) if isinstance(m, rnn.LSTM) else states[0]), states


def run(m, x, hx, states, lengths=None, seed=2):
    """Forward, a loss that weighs every output and final state, backward: every result as numpy."""
    for t in [x, *states, *m.parameters()]:
        t.grad = None
    out, fin = m(x, hx, lengths=lengths)
    finals = list(fin) if isinstance(fin, tuple) else [fin]
    rng = np.random.default_rng(seed)
    loss = sum((y * mg.tensor(rng.standard_normal(y.shape), dtype=y.dtype)).sum() for y in [out] + finals)
    loss.backward()
    res = {"out": out.numpy()}
    res.update({f"final{i}": f.numpy() for i, f in enumerate(finals)})
    res["d_x"] = x.grad.numpy()
    res.update({f"d_state{i}": s.grad.numpy() for i, s in enumerate(states)})
    res.update({f"d_{name}": p.grad.numpy() for name, p in m.named_parameters()})
    return res


def fused_vs_composed(m, x, hx, states, lengths=None, dtype=np.float64, **tol):
    assert m.fused  # the default
    fused = run(m, x, hx, states, lengths)
    m.fused = False
    composed = run(m, x, hx, states, lengths)
    m.fused = True
    assert fused.keys() == composed.keys()
    for key in fused:
        assert fused[key].dtype == composed[key].dtype, key
        assert_close(fused[key], composed[key], dtype, **tol, err_msg=key)


# ------------------------------------------------------ fused == composed
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_fused_equals_composed(backend, mode, num_layers, bidirectional, lengths, batch_first):
    m = make(mode, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    x, hx, states = inputs(m, batch_first)
    fused_vs_composed(m, x, hx, states, lengths, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_fused_equals_composed_float32_no_bias_no_state(backend, mode):
    m = make(mode, dtype=mg.float32, num_layers=2, bidirectional=True, bias=False)
    x, hx, states = inputs(m, dtype=np.float32, with_state=False)
    fused_vs_composed(m, x, hx, states, LENGTHS, dtype=np.float32, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_fused_equals_composed_unbatched(backend, mode):
    m = make(mode, bidirectional=True)
    rng = np.random.default_rng(3)
    x = f64(rng.standard_normal((T, I)))
    states = [f64(rng.standard_normal((2, H))) for _ in range(2 if mode == "LSTM" else 1)]
    hx = tuple(states) if mode == "LSTM" else states[0]
    fused_vs_composed(m, x, hx, states, rtol=1e-10, atol=1e-12)


def test_layers_build_one_fused_node_per_layer_and_direction():
    m = make("LSTM", num_layers=2)
    x, hx, _ = inputs(m)
    out, (h_n, c_n) = m(x, hx)
    node = out._ctx  # out, h_n, c_n: the three outputs of one node
    assert isinstance(node, FusedLSTM) and h_n._ctx.parents[-1]._ctx is node and c_n._ctx.parents[-1]._ctx is node
    assert isinstance(node.parents[0]._ctx, FusedLSTM)  # layer 0's output
    m.fused = False
    composed = m(x, hx)[0]._ctx  # a Stack of T per-step outputs
    assert type(composed).__name__ == "Stack" and len(composed.parents) == T


# ------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("lengths", [None, [3, 1]])
@pytest.mark.parametrize("mode", MODES)
def test_fused_layer_gradcheck(mode, lengths):
    """Finite differences through the fused layer: x, h0 (c0) and every parameter."""
    m = make(mode, bidirectional=True)
    m_in = 2 if mode == "LSTM" else 1
    rng = np.random.default_rng(4)
    x = f64(rng.standard_normal((3, 2, I)))
    states = [f64(rng.standard_normal((2, 2, H)) * 0.5) for _ in range(m_in)]
    params = list(m.parameters())

    def f(x, *rest):
        hx = tuple(rest[:2]) if mode == "LSTM" else rest[0]
        out, fin = m(x, hx, lengths=lengths)
        finals = list(fin) if mode == "LSTM" else [fin]
        return mg.cat([out.reshape(-1)] + [s.reshape(-1) for s in finals])

    assert mg.gradcheck(f, [x, *states, *params])


def test_fused_functions_direct_without_bias_and_state_grads():
    """The Functions on their own: b=None, h0/c0 not requiring grad, x not requiring grad."""
    rng = np.random.default_rng(5)
    t = lambda *s, g=True: f64(rng.standard_normal(s), requires_grad=g)  # noqa: E731
    for fn, gates in ((FusedRNN, 1), (FusedLSTM, 4), (FusedGRU, 3)):
        w_ih, w_hh = t(gates * H, I), t(gates * H, H)
        x, h0, c0 = t(T, B, I, g=False), t(B, H, g=False), t(B, H, g=False)
        res = fn.apply(x, w_ih, w_hh, None, None, h0, *([c0] if fn is FusedLSTM else []), reverse=True)
        assert len(res) == (3 if fn is FusedLSTM else 2)
        assert res[0].shape == (T, B, H) and all(r.shape == (B, H) for r in res[1:])
        sum(r.sum() for r in res).backward()
        assert x.grad is None and h0.grad is None and w_ih.grad.shape == w_ih.shape and w_hh.grad is not None

        def f(w_ih, w_hh, h0):
            extra = [c0] if fn is FusedLSTM else []
            return mg.cat([r.reshape(-1) for r in fn.apply(x, w_ih, w_hh, None, None, h0, *extra)])

        assert mg.gradcheck(f, [w_ih, w_hh, t(B, H)])


def test_no_grad_inference_matches_training_forward():
    m = make("GRU", num_layers=2, bidirectional=True)
    x, hx, _ = inputs(m)
    with mg.no_grad():
        out, h_n = m(x, hx, lengths=LENGTHS)
    assert not out.requires_grad
    out2, h_n2 = m(x, hx, lengths=LENGTHS)
    np.testing.assert_array_equal(out.numpy(), out2.numpy())
    np.testing.assert_array_equal(h_n.numpy(), h_n2.numpy())


# ------------------------------------------------------- padding semantics
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_padding_changes_nothing(backend, mode, batch_first):
    m = make(mode, num_layers=2, bidirectional=True, batch_first=batch_first)
    x, hx, states = inputs(m, batch_first)
    ref = run(m, x, hx, states, LENGTHS)
    pad = np.arange(T)[:, None] >= np.array(LENGTHS)[None, :]  # (T, B): True on padding
    if batch_first:
        pad = pad.T
    noisy = x.numpy().copy()
    noisy[pad] = 1e3 * np.random.default_rng(9).standard_normal((int(pad.sum()), I))
    x2 = f64(noisy)
    got = run(m, x2, hx, states, LENGTHS)
    for key in ref:
        np.testing.assert_array_equal(got[key], ref[key], err_msg=key)
    assert np.all(got["out"][pad] == 0), "outputs past a sequence's end must be exactly 0"
    assert np.all(got["d_x"][pad] == 0), "padding must receive no gradient"


def test_full_lengths_equal_no_lengths():
    m = make("LSTM", bidirectional=True)
    x, hx, states = inputs(m)
    a, b = run(m, x, hx, states), run(m, x, hx, states, [T] * B)
    for key in a:
        assert_close(a[key], b[key], np.float64, err_msg=key)


# ----------------------------------------------------------- torch parity
def _torch_run(torch, mode, m, x, hx, lengths, seed=2):
    cls = {"RNN_tanh": torch.nn.RNN, "RNN_relu": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[mode]
    kw = {"nonlinearity": mode[4:]} if mode.startswith("RNN") else {}
    ref = cls(I, H, num_layers=m.num_layers, bidirectional=m.bidirectional, batch_first=m.batch_first, **kw).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            getattr(ref, name).copy_(torch.from_numpy(p.numpy()))
    tx = torch.tensor(x.numpy(), requires_grad=True)
    states = [torch.tensor(s.numpy(), requires_grad=True) for s in (hx if mode == "LSTM" else (hx,))]
    feed = tx
    if lengths is not None:
        feed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=m.batch_first,
                                                       enforce_sorted=False)
    out, fin = ref(feed, tuple(states) if mode == "LSTM" else states[0])
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=m.batch_first, total_length=T)
    finals = list(fin) if mode == "LSTM" else [fin]
    rng = np.random.default_rng(seed)
    loss = sum((y * torch.from_numpy(rng.standard_normal(tuple(y.shape)))).sum() for y in [out] + finals)
    loss.backward()
    res = {"out": out.detach().numpy()}
    res.update({f"final{i}": f.detach().numpy() for i, f in enumerate(finals)})
    res["d_x"] = tx.grad.numpy()
    res.update({f"d_state{i}": s.grad.numpy() for i, s in enumerate(states)})
    res.update({f"d_{name}": getattr(ref, name).grad.numpy() for name, _ in m.named_parameters()})
    return res


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_matches_torch(mode, bidirectional, lengths, batch_first):
    torch = pytest.importorskip("torch")
    m = make(mode, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    x, hx, states = inputs(m, batch_first)
    ours = run(m, x, hx, states, lengths)
    theirs = _torch_run(torch, mode, m, x, hx, lengths)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert_close(ours[key], theirs[key], np.float64, rtol=1e-9, atol=1e-11, err_msg=key)


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("fused", [True, False])
def test_bad_inputs_give_clear_errors(fused):
    m = make("LSTM", num_layers=2, fused=fused)
    z = lambda *s: f64(np.zeros(s), requires_grad=False)  # noqa: E731
    x, h = z(T, B, I), z(2, B, H)
    with pytest.raises(ValueError, match="input has 5 features .* input_size=3"):
        m(z(T, B, 5))
    with pytest.raises(ValueError, match="input must be 3-D"):
        m(z(T, B, I, 1))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 3, 4\)"):
        m(x, (z(1, B, H), h))
    with pytest.raises(ValueError, match=r"c0 must have shape \(2, 3, 4\)"):
        m(x, (h, z(2, B, H + 1)))
    with pytest.raises(TypeError, match=r"must be a tuple \(h0, c0\)"):
        m(x, h)
    with pytest.raises(ValueError, match=r"every length must be in \[1, 4\].*got 5"):
        m(x, lengths=[5, 1, 1])
    with pytest.raises(ValueError, match=r"every length must be in \[1, 4\].*got 0"):
        m(x, lengths=[0, 1, 1])
    with pytest.raises(TypeError, match="lengths must be integers"):
        m(x, lengths=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"lengths must have shape \(3,\)"):
        m(x, lengths=[1, 2])
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 3, 4\)"):
        make("GRU", num_layers=2, fused=fused)(x, z(2, B + 1, H))


def test_fused_function_checks_its_inputs():
    z = lambda *s: f64(np.zeros(s), requires_grad=False)  # noqa: E731
    w_ih, w_hh, h0 = z(4 * H, I), z(4 * H, H), z(B, H)
    with pytest.raises(ValueError, match=r"FusedLSTM: w_ih must have shape \(16, 5\)"):
        FusedLSTM.apply(z(T, B, 5), w_ih, w_hh, None, None, h0, h0)
    with pytest.raises(ValueError, match=r"FusedLSTM: c0 must have shape \(3, 4\), got None"):
        FusedLSTM.apply(z(T, B, I), w_ih, w_hh, None, None, h0)
    with pytest.raises(ValueError, match=r"FusedGRU: w_ih must have shape \(12, 3\)"):
        FusedGRU.apply(z(T, B, I), w_ih, w_hh, None, None, h0)
    with pytest.raises(ValueError, match=r"mask must be a \(T, B\)"):
        FusedLSTM.apply(z(T, B, I), w_ih, w_hh, None, None, h0, h0, mask=np.ones((T, B, 1), bool))
    with pytest.raises(TypeError, match="dtype float32 but the input has float64"):
        FusedRNN.apply(z(T, B, I), z(H, I), mg.tensor(np.zeros((H, H)), dtype=mg.float32), None, None, z(B, H))


def test_dtype_mismatch_is_a_clear_error():
    m = make("GRU")  # float64 parameters
    with pytest.raises(TypeError, match="dtype"):
        m(mg.tensor(np.zeros((T, B, I)), dtype=mg.float32))
