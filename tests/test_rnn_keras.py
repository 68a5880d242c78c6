"""Keras-style return_sequences / return_state on RNN, LSTM, GRU (rnn/layers.py)."""
import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import nn

LAYERS = [rnn.RNN, rnn.LSTM, rnn.GRU]


def _pair(cls, **kw):
    """The same weights twice: PyTorch style and Keras style."""
    mg.manual_seed(3)
    a = cls(3, 4, dtype=mg.float64, **{k: v for k, v in kw.items() if not k.startswith("return")})
    b = cls(3, 4, dtype=mg.float64, **kw)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_last_output_is_the_final_state_at_each_real_end(cls, bidirectional, num_layers):
    a, b = _pair(cls, batch_first=True, bidirectional=bidirectional, num_layers=num_layers,
                 return_sequences=False)
    x = mg.randn(3, 6, 3, dtype=mg.float64)
    lengths = [6, 2, 4]
    out, _ = a(x, lengths=lengths)
    last = b(x, lengths=lengths)
    H = 4
    assert last.shape == (3, 2 * H if bidirectional else H)
    o = out.numpy()
    for i, n in enumerate(lengths):
        # forward direction: its output at the last real step; reverse: its output at step 0
        np.testing.assert_allclose(last.numpy()[i, :H], o[i, n - 1, :H], rtol=1e-12)
        if bidirectional:
            np.testing.assert_allclose(last.numpy()[i, H:], o[i, 0, H:], rtol=1e-12)


@pytest.mark.parametrize("cls", LAYERS)
def test_return_sequences_and_state_give_the_pytorch_values(cls):
    a, b = _pair(cls, return_sequences=True, return_state=True)
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    out, states = a(x)
    states = states if cls is rnn.LSTM else (states,)
    got = b(x)
    assert isinstance(got, tuple) and len(got) == 1 + len(states)
    for want, have in zip((out,) + tuple(states), got):
        np.testing.assert_array_equal(have.numpy(), want.numpy())
    only_seq = _pair(cls, return_sequences=True)[1]
    only_seq.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(only_seq(x).numpy(), out.numpy())


def test_return_state_alone_returns_last_output_and_states():
    a, b = _pair(rnn.LSTM, return_state=True)
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    _, (h, c) = a(x)
    last, h2, c2 = b(x)
    np.testing.assert_array_equal(last.numpy(), h.numpy()[-1])
    np.testing.assert_array_equal(h2.numpy(), h.numpy())
    np.testing.assert_array_equal(c2.numpy(), c.numpy())


def test_unbatched_last_output():
    _, b = _pair(rnn.GRU, bidirectional=True, return_sequences=False)
    assert b(mg.randn(5, 3, dtype=mg.float64)).shape == (8,)


def test_stacked_in_sequential_trains_like_the_explicit_module():
    """Sequential(LSTM(seq) -> GRU(last) -> Linear) has the gradients of the same net written out."""
    mg.manual_seed(0)
    seq = nn.Sequential(rnn.LSTM(3, 5, batch_first=True, return_sequences=True, dtype=mg.float64),
                        rnn.GRU(5, 4, batch_first=True, return_sequences=False, dtype=mg.float64),
                        nn.Linear(4, 1, dtype=mg.float64))
    lstm, gru = rnn.LSTM(3, 5, batch_first=True, dtype=mg.float64), rnn.GRU(5, 4, batch_first=True, dtype=mg.float64)
    lstm.load_state_dict(seq[0].state_dict())
    gru.load_state_dict(seq[1].state_dict())
    x = mg.randn(2, 6, 3, dtype=mg.float64)
    y1 = seq(x)
    h, _ = lstm(x)
    _, hn = gru(h)
    y2 = seq[2](hn[-1])
    np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-12)
    y1.sum().backward()
    y2.sum().backward()
    np.testing.assert_allclose(seq[0].weight_hh_l0.grad.numpy(), lstm.weight_hh_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(seq[1].weight_ih_l0.grad.numpy(), gru.weight_ih_l0.grad.numpy(), rtol=1e-10)


def test_switches_must_be_booleans():
    with pytest.raises(TypeError, match="LSTM: return_sequences must be True, False or None, got 1"):
        rnn.LSTM(3, 4, return_sequences=1)
    assert "return_sequences=True" in repr(rnn.GRU(3, 4, return_sequences=True))


def test_sequential_hands_lengths_to_the_recurrent_layers_only():
    mg.manual_seed(1)
    emb = nn.Embedding(10, 3, dtype=mg.float64)
    lstm = rnn.LSTM(3, 4, batch_first=True, bidirectional=True, return_sequences=False, dtype=mg.float64)
    head = nn.Linear(8, 2, dtype=mg.float64)
    model = nn.Sequential(emb, lstm, head)
    ids = mg.tensor(np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]]))
    got = model(ids, lengths=[3, 5])
    want = head(lstm(emb(ids), lengths=[3, 5]))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    # padding does not leak in: the first sequence alone gives the same row
    alone = model(mg.tensor(np.array([[1, 2, 3]])))
    np.testing.assert_allclose(got.numpy()[0], alone.numpy()[0], rtol=1e-12)
    with pytest.raises(TypeError, match="Sequential: no module takes the keyword argument.s. hx"):
        nn.Sequential(nn.Linear(2, 2))(mg.randn(1, 2), hx=None)


def test_fit_trains_a_sequential_on_padded_batches():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 8, size=64)
    x = np.zeros((64, 8, 1), np.float32)
    for i, n in enumerate(lengths):
        x[i, :n, 0] = rng.standard_normal(n)
    y = np.array([x[i, :n, 0].sum() for i, n in enumerate(lengths)], np.float32)[:, None]
    mg.manual_seed(0)
    model = nn.Sequential(rnn.GRU(1, 16, batch_first=True, return_sequences=False), nn.Linear(16, 1))
    history = rnn.train.fit(model, x, y, lengths=lengths, epochs=15, batch_size=16, lr=0.01, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.3 * losses[0], losses
