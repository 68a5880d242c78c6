"""rnn cells: equations vs PyTorch, gradients, initialisation options, errors."""
import numpy as np
import pytest

import minigrad as mg
import rnn

CELLS = ["RNNCell", "LSTMCell", "GRUCell"]


def _f64(a, rg=False):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype=mg.float64, requires_grad=rg)


@pytest.mark.parametrize("name", CELLS)
def test_parameter_names_shapes_and_default_init(name):
    mg.manual_seed(0)
    cell = getattr(rnn, name)(5, 7)
    g = {"RNNCell": 1, "LSTMCell": 4, "GRUCell": 3}[name]
    shapes = {n: p.shape for n, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (g * 7, 5), "weight_hh": (g * 7, 7), "bias_ih": (g * 7,), "bias_hh": (g * 7,)}
    for p in cell.parameters():  # U(-1/sqrt(H), 1/sqrt(H))
        assert p.dtype == np.float32 and np.abs(p.numpy()).max() <= 1 / np.sqrt(7)
    assert {n for n, _ in getattr(rnn, name)(5, 7, bias=False).named_parameters()} == {"weight_ih", "weight_hh"}


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("batched", [True, False])
def test_cells_gradcheck(name, batched, backend):
    mg.manual_seed(1)
    cell = getattr(rnn, name)(3, 2, dtype=mg.float64)
    shape = (2, 3) if batched else (3,)
    hshape = (2, 2) if batched else (2,)
    x, h, c = _f64(np.random.randn(*shape), True), _f64(np.random.randn(*hshape), True), _f64(np.random.randn(*hshape), True)
    params = list(cell.parameters())

    def f(x, h, c, *ps):
        if name == "LSTMCell":
            h2, c2 = cell(x, (h, c))
            return h2 * 2 + c2
        return cell(x, h)

    assert mg.gradcheck(f, [x, h, c] + params)


@pytest.mark.parametrize("name", CELLS)
def test_cells_match_torch(name):
    torch = pytest.importorskip("torch")
    mg.manual_seed(2)
    cell = getattr(rnn, name)(4, 3, dtype=mg.float64)
    ref = getattr(torch.nn, name)(4, 3).double()
    with torch.no_grad():
        for n, p in cell.named_parameters():
            getattr(ref, n).copy_(torch.tensor(p.numpy()))
    x, h, c = np.random.randn(5, 4), np.random.randn(5, 3), np.random.randn(5, 3)
    xt = torch.tensor(x, requires_grad=True)
    xm = _f64(x, True)
    if name == "LSTMCell":
        out_t = ref(xt, (torch.tensor(h), torch.tensor(c)))
        out_m = cell(xm, (_f64(h), _f64(c)))
        (out_t[0].sum() + 3 * out_t[1].sum()).backward()
        (out_m[0].sum() + 3 * out_m[1].sum()).backward()
        np.testing.assert_allclose(out_m[1].numpy(), out_t[1].detach().numpy(), rtol=1e-12)
        out_m, out_t = out_m[0], out_t[0]
    else:
        out_t, out_m = ref(xt, torch.tensor(h)), cell(xm, _f64(h))
        (out_t ** 2).sum().backward()
        (out_m ** 2).sum().backward()
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
    for n, p in cell.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), getattr(ref, n).grad.numpy(), rtol=1e-10, atol=1e-13)


def test_relu_rnn_cell_and_zero_default_state():
    cell = rnn.RNNCell(2, 3, nonlinearity="relu")
    x = mg.randn(4, 2)
    h = cell(x)
    assert h.shape == (4, 3) and (h.numpy() >= 0).all()
    np.testing.assert_allclose(h.numpy(), cell(x, mg.zeros(4, 3)).numpy())


def test_orthogonal_init_and_forget_bias():
    mg.manual_seed(3)
    lstm = rnn.LSTM(3, 6, num_layers=2, init="orthogonal", forget_bias=1.0)
    w = lstm.weight_hh_l1.numpy()
    for k in range(4):  # each gate block of W_hh is orthogonal
        block = w[k * 6:(k + 1) * 6]
        np.testing.assert_allclose(block @ block.T, np.eye(6), atol=1e-5)
    b_ih, b_hh = lstm.bias_ih_l0.numpy(), lstm.bias_hh_l0.numpy()
    np.testing.assert_array_equal(b_ih[6:12], 1.0)  # forget gate (2nd block)
    np.testing.assert_array_equal(b_hh[6:12], 0.0)
    np.testing.assert_array_equal(b_ih[:6], 0.0)  # orthogonal scheme zeroes the other biases
    cell = rnn.LSTMCell(2, 4, forget_bias=2.0)
    np.testing.assert_array_equal(cell.bias_ih.numpy()[4:8], 2.0)
    with pytest.raises(ValueError, match="forget_bias applies to LSTM only"):
        rnn.GRU(2, 3, forget_bias=1.0)
    with pytest.raises(ValueError, match="init must be 'uniform' or 'orthogonal'"):
        rnn.RNN(2, 3, init="xavier")


def test_cell_errors_name_the_cell_and_shapes():
    cell = rnn.LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"LSTMCell: input must be \(batch, 3\) or \(3,\), got shape \(2, 5\)"):
        cell(mg.randn(2, 5))
    with pytest.raises(ValueError, match=r"LSTMCell: c must have shape \(2, 4\)"):
        cell(mg.randn(2, 3), (mg.randn(2, 4), mg.randn(2, 3)))
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        rnn.GRUCell(3, 0)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        rnn.RNNCell(3, 4, nonlinearity="sigmoid")


def test_composed_layer_exposes_step_states_for_hooks():
    """Hooks on step_states see dL/dh_t: for a tanh RNN, g_{t-1} = (g_t * (1 - h_t^2)) @ W_hh."""
    import numpy as np
    mg.manual_seed(0)
    layer = rnn.RNN(3, 4, fused=False, dtype=mg.float64)
    x = mg.randn(6, 2, 3, dtype=mg.float64)
    out, _ = layer(x)
    (steps,) = layer.step_states
    assert len(steps) == 6 and all(h.shape == (2, 4) for h in steps)
    np.testing.assert_array_equal(np.stack([h.numpy() for h in steps]), out.numpy())
    seen = {}
    for t, h in enumerate(steps):
        h.register_hook(lambda g, t=t: seen.__setitem__(t, g.numpy().copy()))
    out[-1].sum().backward()  # a loss on the last step only
    w = layer.weight_hh_l0.numpy()
    want = np.ones((2, 4))
    for t in range(5, -1, -1):
        np.testing.assert_allclose(seen[t], want, rtol=1e-12, atol=1e-15)
        want = (want * (1 - steps[t].numpy() ** 2)) @ w
    fused = rnn.RNN(3, 4, dtype=mg.float64)
    fused(x)
    assert fused.step_states is None  # the fused path keeps no per-step tensors


def test_step_states_with_lengths_are_the_carried_states():
    import numpy as np
    layer = rnn.GRU(3, 4, fused=False, bidirectional=True, num_layers=2, dtype=mg.float64)
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    out, h_n = layer(x, lengths=[5, 2])
    assert len(layer.step_states) == 4  # layer-major, direction-minor
    for k, steps in enumerate(layer.step_states):
        last = steps[0] if k % 2 else steps[-1]  # reverse direction ends at t = 0
        np.testing.assert_allclose(last.numpy(), h_n.numpy()[k], rtol=1e-12)
