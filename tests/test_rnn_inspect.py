"""rnn.inspect: gradients through time against hand and independent computations, gates
against the layers' own forward on every backend, parameter gradient norms against numpy."""
import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import nn
from rnn.inspect import gate_activations, hidden_grad_norms, parameter_grad_norms

LAYERS = [rnn.RNN, rnn.LSTM, rnn.GRU]


def _f64(a, rg=False):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype=mg.float64, requires_grad=rg)


# ------------------------------------------------------------------ hidden_grad_norms
def test_two_step_rnn_by_hand():
    """h1 = tanh(W x1 + b + U h0), h2 = tanh(W x2 + b + U h1), L = c1.h1 + c2.h2:
    dL/dh2 = c2, dL/dh1 = c1 + U^T ((1 - h2^2) * c2): the own output plus the step after."""
    layer = rnn.RNN(1, 2, dtype=mg.float64)
    W, U = np.array([[0.5], [-1.0]]), np.array([[0.9, -0.4], [0.3, 1.2]])
    b_ih, b_hh = np.array([0.1, -0.2]), np.array([0.05, 0.0])
    for name, v in (("weight_ih_l0", W), ("weight_hh_l0", U), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
        getattr(layer, name).data = v.copy()
    xs = np.array([0.7, -1.3])
    C = np.array([[1.0, -2.0], [0.5, 3.0]])  # weight of each step's output in the loss
    h1 = np.tanh(W[:, 0] * xs[0] + b_ih + b_hh)
    h2 = np.tanh(W[:, 0] * xs[1] + b_ih + b_hh + U @ h1)
    expect = [np.linalg.norm(C[0] + U.T @ ((1 - h2 ** 2) * C[1])), np.linalg.norm(C[1])]

    norms = hidden_grad_norms(layer, _f64(xs.reshape(2, 1, 1)), lambda out, c: (out * c).sum(), _f64(C[:, None, :]))
    np.testing.assert_allclose(norms, expect, rtol=1e-12)
    assert norms[0] != pytest.approx(np.linalg.norm(C[0]))  # the recurrent part is really there


@pytest.mark.parametrize("cls", LAYERS)
def test_total_gradient_matches_rerunning_the_rest_of_the_sequence(cls):
    """Independent reference: dL/dh_t is the gradient of the loss w.r.t. the initial state of
    the (fused) layer run on steps t+1.. from h_t (and c_t), when only the last output counts."""
    mg.manual_seed(3)
    layer = cls(3, 4, dtype=mg.float64)
    x = mg.randn(7, 2, 3, dtype=mg.float64)
    w = _f64(np.random.randn(2, 4))

    def last_loss(out):
        return (out[-1] * w).sum() + (out[-1] ** 2).sum()

    norms = hidden_grad_norms(layer, x, last_loss)
    assert all(p.grad is None for p in layer.parameters())  # measured on copies: the layer is untouched
    states = gate_activations(layer, x)
    expect = []
    for t in range(7):
        h = _f64(states["h"][t], rg=True)
        if t == 6:
            loss = last_loss(h[None])
        else:
            hx = (h[None], _f64(states["c"][t])[None]) if cls is rnn.LSTM else h[None]
            loss = last_loss(layer(x[t + 1:], hx)[0])
        loss.backward()
        expect.append(np.linalg.norm(h.grad.numpy()))
    np.testing.assert_allclose(norms, expect, rtol=1e-9)
    assert norms[0] < norms[-1]  # and it does shrink going back


def test_batch_first_unbatched_and_float64_copy():
    mg.manual_seed(4)
    layer = rnn.GRU(2, 3)  # float32 weights
    first = rnn.GRU(2, 3, batch_first=True)
    first.load_state_dict(layer.state_dict())
    x = mg.randn(5, 1, 2)
    a = hidden_grad_norms(layer, x, lambda o: o[-1].sum(), dtype=mg.float64)
    b = hidden_grad_norms(first, x.transpose(0, 1), lambda o: o[:, -1].sum(), dtype=mg.float64)
    c = hidden_grad_norms(layer, x[:, 0], lambda o: o[-1].sum(), dtype=mg.float64)  # (T, I)
    f32 = hidden_grad_norms(layer, x, lambda o: o[-1].sum())
    np.testing.assert_allclose(b, a, rtol=1e-12)
    np.testing.assert_allclose(c, a, rtol=1e-12)
    np.testing.assert_allclose(f32, a, rtol=1e-4)
    assert layer.weight_hh_l0.dtype == np.float32  # measured on a copy


def test_hidden_grad_norms_errors():
    x = mg.randn(4, 2, 3)
    with pytest.raises(ValueError, match="num_layers=2"):
        hidden_grad_norms(rnn.LSTM(3, 4, num_layers=2), x, lambda o: o.sum())
    with pytest.raises(ValueError, match="bidirectional=True"):
        hidden_grad_norms(rnn.GRU(3, 4, bidirectional=True), x, lambda o: o.sum())
    with pytest.raises(TypeError, match="rnn.RNN, rnn.LSTM or rnn.GRU.*LSTMCell"):
        hidden_grad_norms(rnn.LSTMCell(3, 4), x, lambda o: o.sum())
    with pytest.raises(ValueError, match=r"one-element Tensor, got shape \(4, 2, 4\)"):
        hidden_grad_norms(rnn.RNN(3, 4), x, lambda o: o * 2)
    with pytest.raises(ValueError, match="input has 3 features"):
        hidden_grad_norms(rnn.RNN(5, 4), x, lambda o: o.sum())


# ------------------------------------------------------------------- gate_activations
@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_gates_reproduce_the_layer_output_on_every_backend(cls, batch_first, backend):
    mg.manual_seed(5)
    layer = cls(3, 5, batch_first=batch_first)
    x = mg.randn(2, 6, 3) if batch_first else mg.randn(6, 2, 3)
    out, state = layer(x)
    s = gate_activations(layer, x)
    want = {rnn.RNN: {"h"}, rnn.LSTM: {"h", "i", "f", "g", "o", "c"}, rnn.GRU: {"h", "r", "z", "n"}}[cls]
    assert set(s) == want and all(v.shape == (6, 2, 5) for v in s.values())
    out = out.numpy().transpose(1, 0, 2) if batch_first else out.numpy()
    np.testing.assert_allclose(s["h"], out, rtol=1e-5, atol=2e-6)
    for k in ("i", "f", "o", "r", "z"):
        if k in s:
            assert 0 < s[k].min() and s[k].max() < 1
    for k in ("g", "n"):
        if k in s:
            assert -1 < s[k].min() and s[k].max() < 1
    if cls is rnn.LSTM:
        np.testing.assert_allclose(s["c"][-1], state[1].numpy()[0], rtol=1e-5, atol=2e-6)
        c_prev = np.concatenate([np.zeros((1, 2, 5), np.float32), s["c"][:-1]])
        np.testing.assert_allclose(s["c"], s["f"] * c_prev + s["i"] * s["g"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s["h"], s["o"] * np.tanh(s["c"]), rtol=1e-5, atol=1e-6)
    if cls is rnn.GRU:
        h_prev = np.concatenate([np.zeros((1, 2, 5), np.float32), s["h"][:-1]])
        np.testing.assert_allclose(s["h"], (1 - s["z"]) * s["n"] + s["z"] * h_prev, rtol=1e-5, atol=1e-6)


def test_lstm_gate_order_is_pytorchs():
    """At t = 0 (h0 = 0) each gate is its activation of its block of W_ih x + b_ih + b_hh."""
    mg.manual_seed(6)
    layer = rnn.LSTM(3, 2, dtype=mg.float64)
    x = mg.randn(1, 1, 3, dtype=mg.float64)
    pre = layer.weight_ih_l0.numpy() @ x.numpy()[0, 0] + layer.bias_ih_l0.numpy() + layer.bias_hh_l0.numpy()
    i, f, g, o = pre.reshape(4, 2)
    s = gate_activations(layer, x)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for k, v in (("i", sig(i)), ("f", sig(f)), ("g", np.tanh(g)), ("o", sig(o))):
        np.testing.assert_allclose(s[k][0, 0], v, rtol=1e-12)


def test_gate_activations_with_initial_state():
    mg.manual_seed(7)
    layer = rnn.LSTM(2, 3)
    x, h0, c0 = mg.randn(4, 2, 2), mg.randn(1, 2, 3), mg.randn(1, 2, 3)
    out, _ = layer(x, (h0, c0))
    np.testing.assert_allclose(gate_activations(layer, x, (h0, c0))["h"], out.numpy(), rtol=1e-5, atol=2e-6)


# --------------------------------------------------------------- parameter_grad_norms
class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = rnn.LSTM(3, 4, num_layers=2)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def test_parameter_grad_norms_per_parameter_and_per_layer():
    mg.manual_seed(8)
    model = _Model()
    model.head.bias.requires_grad = False  # frozen: no gradient, left out
    (model(mg.randn(5, 2, 3)) ** 2).mean().backward()
    norms = parameter_grad_norms(model)
    grads = {n: p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}
    assert list(norms) == list(grads) and "head.bias" not in norms and len(norms) == 9
    for n, g in grads.items():
        assert norms[n] == pytest.approx(np.linalg.norm(g), rel=1e-6)
    layers = parameter_grad_norms(model, per="layer")
    assert list(layers) == ["rnn.l0", "rnn.l1", "head"]
    l1 = [g for n, g in grads.items() if n.startswith("rnn.") and n.endswith("_l1")]
    assert len(l1) == 4
    assert layers["rnn.l1"] == pytest.approx(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in l1)), rel=1e-6)
    assert layers["head"] == pytest.approx(norms["head.weight"])
    assert parameter_grad_norms(dict(model.named_parameters())) == norms


def test_parameter_grad_norms_errors():
    model = _Model()
    with pytest.raises(ValueError, match="no parameter has a gradient; call loss.backward"):
        parameter_grad_norms(model)
    with pytest.raises(ValueError, match="per must be 'parameter' or 'layer', got 'unit'"):
        parameter_grad_norms(model, per="unit")
    with pytest.raises(TypeError, match="nn.Module or a dict"):
        parameter_grad_norms([1, 2])
