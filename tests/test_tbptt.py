"""Truncated BPTT: the equivalences that define it."""
import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import nn, optim
from rnn.tbptt import TBPTT, detach


class Tagger(nn.Module):
    """y_t = W h_t: a recurrent layer with a linear read-out at every step."""

    def __init__(self, mode="LSTM"):
        super().__init__()
        self.rnn = getattr(rnn, mode)(3, 5, dtype=mg.float64)
        self.head = nn.Linear(5, 2, dtype=mg.float64)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def mse(pred, y):
    return mg.mse_loss(pred, y)


def _data(t=12, b=2, seed=0):
    rng = np.random.default_rng(seed)
    return (mg.tensor(rng.standard_normal((t, b, 3)), dtype=mg.float64),
            mg.tensor(rng.standard_normal((t, b, 2)), dtype=mg.float64))


class Recorder(optim.SGD):
    """SGD with lr=0 that records each update's gradients (weights never change)."""

    def __init__(self, params):
        super().__init__(params, lr=0.0)
        self.grads = []

    def step(self, closure=None):
        self.grads.append([p.grad.numpy().copy() for g in self.param_groups for p in g["params"]])


def _reference_grads(model, x, y, k1, k2):
    """For each update ending at step t: the gradient of the loss on steps [t-k1, t),
    backpropagated through steps [t-k2, t) from the state there (found by a no-grad run)."""
    grads = []
    for t in range(k1, x.shape[0] + 1, k1):
        start = max(0, t - k2)
        with mg.no_grad():
            state = None if start == 0 else model(x[:start], None)[1]
        for p in model.parameters():
            p.grad = None
        pred, _ = model(x[start:t], state)
        mse(pred[t - k1 - start:], y[t - k1:t]).backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    return grads


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("k1, k2", [(3, 3), (3, 6), (2, 5), (4, 12), (12, 12)])
def test_tbptt_gradients_equal_the_definition(mode, k1, k2):
    mg.manual_seed(1)
    model = Tagger(mode)
    x, y = _data()
    rec = Recorder(model.parameters())
    TBPTT(model, mse, rec, k1=k1, k2=k2).step(x, y)
    expected = _reference_grads(model, x, y, k1, k2)
    assert len(rec.grads) == len(expected) == 12 // k1
    for got, want in zip(rec.grads, expected):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_k1_equals_k2_equals_t_is_full_bptt_including_the_update():
    mg.manual_seed(2)
    a, b = Tagger(), Tagger()
    b.load_state_dict(a.state_dict())
    x, y = _data()
    oa, ob = optim.SGD(a.parameters(), lr=0.1), optim.SGD(b.parameters(), lr=0.1)
    TBPTT(a, mse, oa, k1=12, k2=12).step(x, y)
    pred, _ = b(x)
    ob.zero_grad()
    mse(pred, y).backward()
    ob.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.numpy(), pb.numpy(), rtol=1e-12)


def test_state_is_carried_across_calls_and_detached():
    mg.manual_seed(3)
    model = Tagger()
    x, y = _data()
    trainer = TBPTT(model, mse, optim.SGD(model.parameters(), lr=0.0), k1=4)
    trainer.step(x[:4], y[:4])
    h, c = trainer.state
    assert not h.requires_grad and h.grad_fn is None
    with mg.no_grad():
        _, (h_ref, c_ref) = model(x[:4])
    np.testing.assert_allclose(h.numpy(), h_ref.numpy(), rtol=1e-12)
    trainer.reset_state()
    assert trainer.state is None


def test_clipping_records_norms_and_bad_arguments_raise():
    mg.manual_seed(4)
    model = Tagger()
    x, y = _data()
    trainer = TBPTT(model, mse, optim.SGD(model.parameters(), lr=0.01), k1=6, clip_norm=1e-3)
    losses = trainer.step(x, y)
    assert len(losses) == 2 and len(trainer.grad_norms) == 2 and all(n > 1e-3 for n in trainer.grad_norms)
    with pytest.raises(ValueError, match="1 <= k1 <= k2"):
        TBPTT(model, mse, None, k1=5, k2=3)
    assert detach(None) is None


@pytest.mark.parametrize("k1, k2", [(3, 5), (2, 5), (4, 6), (3, 3)])
def test_the_overlap_starts_from_the_state_the_forward_pass_computed(k1, k2):
    """With lr > 0 (weights change between updates): TBPTT equals a step-by-step reference in
    which every update runs from the state that an earlier forward pass computed at t - k2,
    detached. (Recomputing that state with the updated weights, as an earlier version did,
    gives other weights; at lr = 0 the two cannot be told apart.)"""
    x, y = _data(t=14, seed=3)
    mg.manual_seed(4)
    a = Tagger("GRU")
    b = Tagger("GRU")
    b.load_state_dict(a.state_dict())
    TBPTT(a, mse, optim.SGD(a.parameters(), lr=0.3), k1=k1, k2=k2).step(x, y)

    opt = optim.SGD(b.parameters(), lr=0.3)
    saved = {0: None}  # position -> the state entering it, as a forward pass computed it (detached)
    for start_new in range(0, x.shape[0], k1):
        stop = min(start_new + k1, x.shape[0])
        start = max(0, start_new - (k2 - k1))
        state, preds = saved[start], []
        for p in range(start, stop):  # one step at a time, keeping every state it passes
            pred, state = b(x[p:p + 1], state)
            preds.append(pred)
            saved[p + 1] = detach(state)
        loss = mse(mg.cat(preds, axis=0)[start_new - start:], y[start_new:stop])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.numpy(), pb.numpy(), rtol=1e-10, atol=1e-12)
