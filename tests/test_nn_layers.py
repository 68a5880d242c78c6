"""nn layers: Linear, Identity, Flatten, Embedding, Dropout, activations and loss modules.

Forward values against numpy, gradients against closed forms and (in float64) finite
differences, and, where PyTorch is installed, against torch.nn with the same weights.
"""
import math

import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close, f64, needs_torch
from minigrad import nn
from minigrad.nn import functional as F


# ---------------------------------------------------------------------- Linear
def test_linear_forward_matches_numpy_for_batched_inputs():
    lin = nn.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,) and lin.weight.dtype == np.float32
    for shape in [(4,), (5, 4), (2, 5, 4)]:
        x = np.random.randn(*shape).astype(np.float32)
        out = lin(mg.tensor(x))
        assert out.shape == shape[:-1] + (3,)
        assert_close(out, x @ lin.weight.numpy().T + lin.bias.numpy())
    no_bias = nn.Linear(4, 3, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    x = np.random.randn(2, 4).astype(np.float32)
    assert_close(no_bias(mg.tensor(x)), x @ no_bias.weight.numpy().T)


def test_linear_gradients_match_closed_form():
    lin = nn.Linear(4, 3)
    x = mg.tensor(np.random.randn(6, 4), requires_grad=True)
    g = np.random.randn(6, 3).astype(np.float32)
    lin(x).backward(g)
    assert_close(lin.weight.grad, g.T @ x.numpy(), rtol=1e-5)
    assert_close(lin.bias.grad, g.sum(0), rtol=1e-5)
    assert_close(x.grad, g @ lin.weight.numpy(), rtol=1e-5)


def test_linear_and_sequential_gradcheck_in_float64():
    lin = nn.Linear(3, 2).double()
    x = f64(np.random.randn(4, 3))
    assert mg.gradcheck(lambda x, w, b: lin(x).tanh(), [x, lin.weight, lin.bias])
    mlp = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 2)).double()
    x = f64(np.random.randn(2, 3))
    assert mg.gradcheck(lambda x, *ps: mlp(x), [x, *mlp.parameters()])


def test_gradcheck_catches_a_wrong_layer_gradient():
    """The gradcheck above can fail: a forward that cuts the weight out of the graph is caught."""
    lin = nn.Linear(3, 2).double()
    x = f64(np.random.randn(4, 3))
    with pytest.raises(mg.GradcheckError, match="input 1"):
        mg.gradcheck(lambda x, w, b: mg.linear(x, w.detach(), b), [x, lin.weight, lin.bias])


def test_linear_init_range_and_seed_reproducibility():
    mg.manual_seed(42)
    a = nn.Linear(50, 40)
    mg.manual_seed(42)
    b = nn.Linear(50, 40)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    c = nn.Linear(50, 40)  # the generator moved on
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())
    bound = 1 / math.sqrt(50)
    w = a.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(a.bias.numpy()).max() <= bound


def test_linear_dtype_and_bad_arguments():
    assert nn.Linear(2, 2, dtype=mg.float64).weight.dtype == np.float64
    with pytest.raises(TypeError, match="in_features"):
        nn.Linear(2.5, 3)
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(2, -1)
    with pytest.raises(ValueError, match="features"):
        nn.Linear(4, 3)(mg.zeros(2, 5))


def test_identity_and_flatten():
    x = mg.randn(2, 3, 4, 5)
    assert nn.Identity(7, foo=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))


# ------------------------------------------------------------------- Embedding
def test_embedding_lookup_init_and_padding_row():
    emb = nn.Embedding(1000, 16, padding_idx=3)
    w = emb.weight.numpy()
    np.testing.assert_array_equal(w[3], np.zeros(16))
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1.0) < 0.02  # N(0, 1)
    idx = np.array([[1, 3, 999], [0, 0, 5]])
    out = emb(mg.tensor(idx))
    assert out.shape == (2, 3, 16)
    np.testing.assert_array_equal(out.numpy(), w[idx])
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)


def test_embedding_grad_accumulates_repeats_and_skips_padding():
    emb = nn.Embedding(6, 3, padding_idx=0)
    idx = mg.tensor([[2, 0, 2], [5, 2, 0]])
    g = np.random.randn(2, 3, 3).astype(np.float32)
    emb(idx).backward(g)
    expected = np.zeros((6, 3), np.float32)
    np.add.at(expected, idx.numpy().reshape(-1), g.reshape(-1, 3))
    expected[0] = 0.0
    assert_close(emb.weight.grad, expected)
    assert_close(emb.weight.grad.numpy()[2], g[0, 0] + g[0, 2] + g[1, 1])  # three uses of row 2
    np.testing.assert_array_equal(emb.weight.grad.numpy()[[1, 3, 4]], 0.0)
    with pytest.raises(TypeError, match="integers"):
        emb(mg.tensor([1.0, 2.0]))


def test_embedding_from_pretrained():
    vecs = np.arange(12, dtype=np.float64).reshape(4, 3)
    state = mg.random.generator().bit_generator.state
    emb = nn.Embedding.from_pretrained(mg.tensor(vecs, dtype=mg.float64))
    assert mg.random.generator().bit_generator.state == state  # no random draw
    assert not emb.weight.requires_grad and emb.weight.dtype == np.float64
    np.testing.assert_array_equal(emb(mg.tensor([3, 1])).numpy(), vecs[[3, 1]])
    assert nn.Embedding.from_pretrained(vecs, freeze=False).weight.requires_grad


# --------------------------------------------------------------------- Dropout
def test_dropout_train_zeroes_and_rescales_eval_is_identity():
    drop = nn.Dropout(0.3)
    x = mg.full((200, 500), 1.0)
    y = drop(x).numpy()
    kept = y != 0
    assert abs((~kept).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.01  # inverted dropout preserves the mean
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    drop.train()
    assert (drop(x).numpy() == 0).any()


def test_dropout_backward_uses_the_same_mask_and_mode_follows_parent():
    x = mg.tensor(np.random.randn(50, 40), requires_grad=True)
    model = nn.Sequential(nn.Dropout(0.5))
    y = model(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(y.numpy() != 0, 2.0, 0.0))
    model.eval()
    assert not model[0].training
    np.testing.assert_array_equal(model(x).numpy(), x.numpy())


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, "0.5", None, True])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(p)


def test_dropout_is_reproducible_with_manual_seed():
    mg.manual_seed(5)
    a = nn.Dropout(0.5)(mg.full(100, 1.0)).numpy()
    mg.manual_seed(5)
    b = nn.Dropout(0.5)(mg.full(100, 1.0)).numpy()
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- activations
@pytest.mark.parametrize("module, reference", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Softmax(axis=0), lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    (nn.LogSoftmax(), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
])
def test_activation_modules_match_numpy(module, reference):
    x = np.random.randn(4, 5).astype(np.float32)
    assert_close(module(mg.tensor(x)), reference(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_functional_names_are_the_ops():
    for name in F.__all__:
        assert getattr(F, name) is getattr(mg.ops, name)
    assert nn.functional is F and callable(nn.init.xavier_uniform_)


# ---------------------------------------------------------------------- losses
def test_regression_losses_match_numpy():
    a, b = np.random.randn(3, 4).astype(np.float32), np.random.randn(3, 4).astype(np.float32)
    ta, tb = mg.tensor(a), mg.tensor(b)
    assert_close(nn.MSELoss()(ta, tb), ((a - b) ** 2).mean())
    assert_close(nn.MSELoss(reduction="sum")(ta, tb), ((a - b) ** 2).sum(), rtol=1e-5)
    assert_close(nn.L1Loss(reduction="none")(ta, tb), np.abs(a - b))
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="avg")


def test_cross_entropy_and_nll_modules_with_weight_and_ignore_index():
    logits = np.random.randn(6, 4)
    t = np.array([0, 3, 1, -100, 2, 3])
    w = np.array([1.0, 2.0, 0.5, 1.5])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    keep = t != -100
    rows = -logp[keep, t[keep]] * w[t[keep]]
    expected = rows.sum() / w[t[keep]].sum()
    ce = nn.CrossEntropyLoss(weight=w)
    assert [n for n, _ in ce.named_buffers()] == ["weight"]
    assert_close(ce(f64(logits, False), mg.tensor(t)), expected, dtype=np.float64)
    assert_close(nn.NLLLoss(weight=w)(f64(logp, False), mg.tensor(t)), expected, dtype=np.float64)
    plain = nn.CrossEntropyLoss(reduction="none")(f64(logits[keep], False), mg.tensor(t[keep]))
    assert_close(plain, -logp[keep, t[keep]], dtype=np.float64)
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.0)
    with pytest.raises(ValueError, match="not supported"):  # fails at construction, not at the first step
        nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    smooth = nn.CrossEntropyLoss(label_smoothing=0.2)(f64(logits[keep], False), mg.tensor(t[keep]))
    target = 0.8 * np.eye(4)[t[keep]] + 0.2 / 4
    assert_close(smooth, -(target * logp[keep]).sum(1).mean(), dtype=np.float64)


def test_bce_with_logits_module():
    x = np.random.randn(5, 2) * 4
    y = (np.random.rand(5, 2) > 0.5).astype(np.float64)
    s = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert_close(nn.BCEWithLogitsLoss()(f64(x, False), f64(y, False)), expected.mean(), dtype=np.float64)
    w = np.array([0.5, 2.0])
    out = nn.BCEWithLogitsLoss(weight=w, reduction="sum")(f64(x, False), f64(y, False))
    assert_close(out, (expected * w).sum(), dtype=np.float64)


# ------------------------------------------------------------- torch parity
@needs_torch
def test_linear_matches_torch_forward_and_gradients():
    import torch
    lin = nn.Linear(5, 3)
    ref = torch.nn.Linear(5, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(lin.weight.numpy()))
        ref.bias.copy_(torch.from_numpy(lin.bias.numpy()))
    x = np.random.randn(2, 4, 5).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    xm = mg.tensor(x, requires_grad=True)
    out_t, out_m = ref(xt).tanh(), lin(xm).tanh()
    assert_close(out_m, out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    out_t.sum().backward()
    out_m.sum().backward()
    assert_close(lin.weight.grad, ref.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert_close(lin.bias.grad, ref.bias.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert_close(xm.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-5)


@needs_torch
def test_embedding_matches_torch_including_padding():
    import torch
    emb = nn.Embedding(7, 4, padding_idx=2)
    ref = torch.nn.Embedding(7, 4, padding_idx=2)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.weight.numpy()))
    idx = np.array([[1, 2, 1], [6, 2, 0]])
    g = np.random.randn(2, 3, 4).astype(np.float32)
    out_t = ref(torch.from_numpy(idx))
    out_m = emb(mg.tensor(idx))
    assert_close(out_m, out_t.detach().numpy())
    out_t.backward(torch.from_numpy(g))
    out_m.backward(g)
    assert_close(emb.weight.grad, ref.weight.grad.numpy())


@needs_torch
def test_mlp_state_dict_moves_to_torch_and_matches():
    import torch
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 4), nn.LogSoftmax())
    ref = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 4), torch.nn.LogSoftmax(-1))
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = np.random.randn(5, 3).astype(np.float32)
    t = np.array([0, 3, 2, 1, 1])
    loss_m = nn.NLLLoss()(model(mg.tensor(x)), mg.tensor(t))
    loss_t = torch.nn.NLLLoss()(ref(torch.from_numpy(x)), torch.from_numpy(t))
    assert_close(loss_m, loss_t.item(), rtol=1e-5)
    loss_m.backward()
    loss_t.backward()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        assert_close(p.grad, q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})  # and back
