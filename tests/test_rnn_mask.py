"""Masks on the recurrent layers: any pattern of padded steps (Keras's pre- and post-padding).

A padded step outputs zero and carries the state, so a sequence padded before or after
its real steps gives the unpadded sequence's outputs at its real steps and its final
state, in both directions, fused and composed, and padding gets no gradient.
"""
import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.ops.recurrent import lstm_sequence

LAYERS = [rnn.RNN, rnn.LSTM, rnn.GRU]


def _layer(cls, **kw):
    mg.manual_seed(2)
    return cls(3, 5, dtype=mg.float64, batch_first=True, **kw)


def _finals(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("padding", ["pre", "post", "middle"])
def test_padded_steps_change_nothing(cls, bidirectional, fused, padding):
    layer = _layer(cls, bidirectional=bidirectional, fused=fused)
    rng = np.random.default_rng(0)
    real = [4, 2, 6]  # steps of each sequence; padded to T = 7
    T = 7
    seqs = [rng.standard_normal((n, 3)) for n in real]
    x = rng.standard_normal((3, T, 3)) * 50  # garbage at padded steps: it must not leak
    mask = np.zeros((3, T), bool)
    for b, n in enumerate(real):
        steps = {"pre": range(T - n, T), "post": range(n), "middle": [0] + list(range(T - n + 1, T))}[padding]
        steps = list(steps)
        mask[b, steps] = True
        x[b, steps] = seqs[b]
    xt = mg.tensor(x, dtype=mg.float64, requires_grad=True)
    out, state = layer(xt, mask=mask)
    (out.sum() + sum(s.sum() for s in _finals(state))).backward()
    for b, n in enumerate(real):
        alone_out, alone_state = layer(mg.tensor(seqs[b][None], dtype=mg.float64))
        steps = np.flatnonzero(mask[b])
        np.testing.assert_allclose(out.numpy()[b, steps], alone_out.numpy()[0], rtol=1e-10, atol=1e-12)
        assert np.all(out.numpy()[b, ~mask[b]] == 0)
        for got, want in zip(_finals(state), _finals(alone_state)):
            np.testing.assert_allclose(got.numpy()[:, b], want.numpy()[:, 0], rtol=1e-10, atol=1e-12)
        assert np.all(xt.grad.numpy()[b, ~mask[b]] == 0)  # padding gets no gradient
        assert np.any(xt.grad.numpy()[b, steps] != 0)


@pytest.mark.parametrize("cls", LAYERS)
def test_a_mask_of_lengths_equals_lengths(cls):
    layer = _layer(cls, num_layers=2)
    x = mg.randn(3, 6, 3, dtype=mg.float64)
    lengths = np.array([6, 2, 4])
    mask = np.arange(6)[None, :] < lengths[:, None]
    a_out, a_state = layer(x, lengths=lengths)
    b_out, b_state = layer(x, mask=mask.astype(np.int8))  # 0/1 integers are read as booleans
    np.testing.assert_array_equal(a_out.numpy(), b_out.numpy())
    for a, b in zip(_finals(a_state), _finals(b_state)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_keras_style_last_output_under_a_pre_padding_mask():
    layer = _layer(rnn.LSTM, return_sequences=False)
    x = mg.randn(2, 5, 3, dtype=mg.float64)
    mask = np.array([[False, False, True, True, True], [True] * 5])
    last = layer(x, mask=mask)
    alone = layer(x[0:1, 2:])
    np.testing.assert_allclose(last.numpy()[0], alone.numpy()[0], rtol=1e-10)


def test_mask_layouts_and_errors():
    layer = rnn.GRU(3, 4)  # time-major
    x = mg.randn(5, 2, 3)
    out, _ = layer(x, mask=np.ones((5, 2), bool))
    assert out.shape == (5, 2, 4)
    out1, _ = layer(x[:, 0], mask=np.array([True, True, True, False, False]))  # unbatched: (T,)
    np.testing.assert_array_equal(out1.numpy()[3:], 0)
    with pytest.raises(ValueError, match=r"mask must have shape \(5, 2\), \(T, B\)"):
        layer(x, mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="lengths or mask, not both"):
        layer(x, lengths=[5, 5], mask=np.ones((5, 2), bool))
    with pytest.raises(TypeError, match="mask must be booleans"):
        layer(x, mask=np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match=r"lstm_sequence: mask must have shape \(T, B\)"):
        lstm_sequence(x, mg.randn(16, 3), mg.randn(16, 4), None, None, mg.zeros(2, 4), mg.zeros(2, 4),
                      mask=np.ones((2, 5), bool))


@pytest.mark.parametrize("backend", ["numba", "cython", "python"])
@pytest.mark.parametrize("cls", LAYERS)
def test_pre_padding_masks_on_every_backend(backend, cls):
    """The compiled kernels take any (T, B) mask: gradients match the numpy reference."""
    if not mg.available_backends()[backend]["available"]:
        pytest.skip(f"{backend} backend not available")
    mask = np.array([[False, False, True, True], [True, True, True, True], [False, True, True, True]])
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((3, 4, 3))
    results = []
    for name in ("numpy", backend):
        with mg.backend(name):
            layer = _layer(cls, bidirectional=True)
            x = mg.tensor(x_np, dtype=mg.float64, requires_grad=True)
            out, state = layer(x, mask=mask)
            (out * out).sum().backward()
            results.append([out.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
