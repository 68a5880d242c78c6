"""The Keras front end's layers (rnn.keras.layers): shapes, weights in Keras's layout,
masks, errors, and -- where Keras 3 is installed (run on its torch backend) -- the same
outputs as Keras's own layers given the same weights; where PyTorch is installed, the
same outputs as torch.nn's recurrent layers."""
import os

import numpy as np
import pytest

import minigrad as mg
from rnn import keras as mk
from rnn.keras import layers as L


def _keras():
    """Keras 3 on its torch backend, or skip."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras runs on {keras.backend.backend()} here; the comparison uses its torch backend")
    return keras


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


RECURRENT = [("SimpleRNN", {}), ("SimpleRNN", {"activation": "relu"}), ("LSTM", {}), ("GRU", {})]


# ------------------------------------------------------------------ shapes and weights
@pytest.mark.parametrize("name,kw", RECURRENT)
def test_recurrent_weights_have_keras_shapes_and_parameter_counts(name, kw):
    layer = getattr(L, name)(7, input_shape=(5, 3), **kw)
    gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[name]
    shapes = [w.shape for w in layer.get_weights()]
    bias = (2, 3 * 7) if name == "GRU" else (gates * 7,)
    assert shapes == [(3, gates * 7), (7, gates * 7), bias]
    assert layer.count_params() == sum(int(np.prod(s)) for s in shapes)
    assert layer.output_shape == (None, 7)


def test_keras_initialisation():
    mg.manual_seed(0)
    lstm = L.LSTM(16, input_shape=(4, 8))
    kernel, recurrent, bias = lstm.get_weights()
    limit = np.sqrt(6 / (8 + 64))  # glorot_uniform on (8, 64)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(16), atol=1e-5)  # orthogonal rows
    np.testing.assert_array_equal(bias, np.r_[np.zeros(16), np.ones(16), np.zeros(32)])  # unit_forget_bias
    dense = L.Dense(3, input_shape=(5,))
    assert np.all(dense.get_weights()[1] == 0)
    emb = L.Embedding(10, 4, input_length=3)
    assert np.abs(emb.get_weights()[0]).max() <= 0.05


@pytest.mark.parametrize("name,kw", RECURRENT)
def test_set_weights_round_trips_and_checks_before_writing(name, kw):
    layer = getattr(L, name)(4, input_shape=(3, 2), **kw)
    ws = [_data(w.shape, i) for i, w in enumerate(layer.get_weights())]
    layer.set_weights(ws)
    for got, want in zip(layer.get_weights(), ws):
        np.testing.assert_array_equal(got, want)
    bad = [ws[0], ws[1][:, :-1], ws[2]]
    with pytest.raises(ValueError, match="recurrent_kernel"):
        layer.set_weights(bad)
    for got, want in zip(layer.get_weights(), ws):  # unchanged
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ against Keras itself
def _keras_layer(keras, name, kw, units, input_shape):
    layer = getattr(keras.layers, name)(units, **kw)
    layer.build((None,) + input_shape)
    return layer


@pytest.mark.parametrize("name,kw", RECURRENT + [("LSTM", {"go_backwards": True, "return_sequences": True}),
                                                 ("GRU", {"return_sequences": True})])
def test_recurrent_layers_match_keras(name, kw):
    keras = _keras()
    x = _data((3, 6, 4))
    theirs = _keras_layer(keras, name, kw, 5, (6, 4))
    ours = getattr(L, name)(5, **kw)
    ours(x)  # build
    ours.set_weights(theirs.get_weights())
    want = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).numpy(), want, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masked_recurrent_layers_match_keras(name, padding):
    """Masking + an RNN: the last output skips the padded steps, before or after."""
    keras = _keras()
    x = _data((3, 6, 2), 1)
    lengths = [6, 3, 1]
    for b, n in enumerate(lengths):
        if padding == "pre":
            x[b, :6 - n] = 0
        else:
            x[b, n:] = 0
    km = keras.Sequential([keras.Input((6, 2)), keras.layers.Masking(0.0), getattr(keras.layers, name)(4)])
    ours = mk.Sequential([L.Masking(0.0, input_shape=(6, 2)), getattr(L, name)(4)])
    ours.set_weights(km.get_weights())
    np.testing.assert_allclose(ours.predict(x), keras.ops.convert_to_numpy(km.predict(x, verbose=0)),
                               rtol=1e-4, atol=2e-5)


def test_embedding_bidirectional_dense_stack_matches_keras():
    keras = _keras()
    ids = np.random.default_rng(3).integers(1, 20, (4, 7))
    ids[0, :3] = 0  # pre-padding, masked by mask_zero
    ids[1, 5:] = 0  # post-padding
    km = keras.Sequential([keras.Input((7,), dtype="int32"), keras.layers.Embedding(20, 6, mask_zero=True),
                           keras.layers.Bidirectional(keras.layers.LSTM(5)),
                           keras.layers.Dense(3, activation="softmax")])
    ours = mk.Sequential([L.Embedding(20, 6, mask_zero=True, input_shape=(7,)), L.Bidirectional(L.LSTM(5)),
                          L.Dense(3, activation="softmax")])
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    ours.set_weights(km.get_weights())
    np.testing.assert_allclose(ours.predict(ids), keras.ops.convert_to_numpy(km.predict(ids, verbose=0)),
                               rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("loss,probs", [("binary_crossentropy", True), ("categorical_crossentropy", True),
                                        ("sparse_categorical_crossentropy", True), ("mse", False), ("mae", False),
                                        ("huber", False), ("mape", False), ("msle", False)])
def test_losses_match_keras(loss, probs):
    keras = _keras()
    rng = np.random.default_rng(4)
    pred = rng.random((6, 3)).astype(np.float32) if probs else rng.standard_normal((6, 3)).astype(np.float32)
    pred[0, 0] = 0.0 if probs else pred[0, 0]  # a probability of exactly 0: Keras clips it
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, 6)
    elif loss == "categorical_crossentropy":
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    elif loss == "binary_crossentropy":
        y = (rng.random((6, 3)) > 0.5).astype(np.float32)
    else:
        y = rng.random((6, 3)).astype(np.float32) + (loss == "msle")
    want = float(keras.ops.convert_to_numpy(keras.losses.get(loss)(y, pred)).mean())
    got = mk.losses.get(loss)(y, mg.tensor(pred)).item()
    assert got == pytest.approx(want, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd", "adagrad"])
def test_training_steps_match_keras(optimizer):
    """Three train_on_batch steps from the same weights give Keras's weights (its defaults)."""
    keras = _keras()
    x, y = _data((8, 5, 2), 5), _data((8, 1), 6)
    km = keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    km.compile(optimizer=optimizer, loss="mse")
    ours = mk.Sequential([L.LSTM(4, input_shape=(5, 2)), L.Dense(1)])
    ours.compile(optimizer=optimizer, loss="mse")
    ours.set_weights(km.get_weights())
    for _ in range(3):
        want = float(km.train_on_batch(x, y))
        got = ours.train_on_batch(x, y)
        assert got == pytest.approx(want, rel=1e-4)
    for a, b in zip(ours.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-3, atol=1e-5)


# ------------------------------------------------------------------ against PyTorch
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_converted_to_torch_the_outputs_agree(name):
    torch = pytest.importorskip("torch")
    layer = getattr(L, name)(5, return_sequences=True, input_shape=(6, 3))
    x = _data((2, 6, 3), 7)
    cls = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[name]
    t = cls(3, 5, batch_first=True)
    with torch.no_grad():
        t.weight_ih_l0.copy_(torch.from_numpy(layer.weight_ih.numpy()))
        t.weight_hh_l0.copy_(torch.from_numpy(layer.weight_hh.numpy()))
        t.bias_ih_l0.copy_(torch.from_numpy(layer.bias_ih.numpy()))
        b_hh = layer.bias_hh.numpy() if name == "GRU" else np.zeros_like(layer.bias_ih.numpy())
        t.bias_hh_l0.copy_(torch.from_numpy(b_hh))
        want = t(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-4, atol=2e-6)


# ------------------------------------------------------------------ behaviour
def test_return_state_go_backwards_and_stateful():
    mg.manual_seed(1)
    x = _data((2, 5, 3), 8)
    lstm = L.LSTM(4, return_sequences=True, return_state=True)
    out, h, c = lstm(x)
    assert out.shape == (2, 5, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    np.testing.assert_allclose(out.numpy()[:, -1], h.numpy(), rtol=1e-6)
    back = L.LSTM(4, return_sequences=True, go_backwards=True)
    back(x)
    back.set_weights(lstm.get_weights())
    rev = back(x).numpy()
    fwd_of_reversed = lstm(x[:, ::-1].copy())[0].numpy()
    np.testing.assert_allclose(rev, fwd_of_reversed, rtol=1e-5, atol=1e-7)  # in processing order, as Keras
    st = L.GRU(4, stateful=True)
    st(x)
    st_weights = st.get_weights()
    whole = L.GRU(4)
    whole(np.concatenate([x, x], axis=1))
    whole.set_weights(st_weights)
    second = st(x).numpy()  # continues from the first call's state
    np.testing.assert_allclose(second, whole(np.concatenate([x, x], axis=1)).numpy(), rtol=1e-5)
    st.reset_states()
    np.testing.assert_allclose(st(x).numpy(), whole(x).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="stateful layer keeps one batch size"):
        st(x[:1])


def test_recurrent_dropout_trains_step_by_step_and_is_off_in_inference():
    mg.manual_seed(2)
    layer = L.LSTM(6, dropout=0.3, recurrent_dropout=0.3, input_shape=(4, 3))
    x = _data((5, 4, 3), 9)
    a = layer(x, training=True).numpy()
    b = layer(x, training=True).numpy()
    assert not np.allclose(a, b)  # fresh masks each call
    np.testing.assert_array_equal(layer(x, training=False).numpy(), layer(x, training=False).numpy())
    xt = mg.tensor(x, requires_grad=True)
    layer(xt, training=True).sum().backward()
    assert xt.grad is not None and np.isfinite(xt.grad.numpy()).all()


def test_layer_errors_name_the_fix():
    with pytest.raises(ValueError, match=r"add a feature axis: x\[\.\.\., None\]"):
        L.SimpleRNN(3)(np.zeros((4, 10), np.float32))
    with pytest.raises(NotImplementedError, match="reset_after=False"):
        L.GRU(3, reset_after=False)
    with pytest.raises(NotImplementedError, match="activation='tanh'"):
        L.LSTM(3, activation="relu")
    with pytest.raises(TypeError, match="unexpected argument"):
        L.Dense(3, activaton="relu")
    with pytest.raises(ValueError, match="unknown activation 'softmaxx'"):
        L.Dense(3, activation="softmaxx")
    with pytest.raises(ValueError, match=r"id 20 is outside \[0, 20\)"):
        L.Embedding(20, 3)(np.array([[1, 20]]))
    with pytest.raises(ValueError, match="not built yet"):
        L.Dense(3).get_weights()


def test_pad_sequences_as_keras():
    pad = mk.preprocessing.sequence.pad_sequences
    seqs = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(pad(seqs), [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4], [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(pad(seqs, maxlen=4, padding="post", truncating="post"),
                                  [[1, 2, 3, 0], [4, 0, 0, 0], [5, 6, 7, 8]])
    np.testing.assert_array_equal(pad(seqs, maxlen=2), [[2, 3], [0, 4], [8, 9]])  # truncating="pre"
    assert pad([[0.5, 1.5]], dtype="float32", value=-1.0, maxlen=3).tolist() == [[-1.0, 0.5, 1.5]]
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post'"):
        pad(seqs, padding="left")
    with pytest.raises(ValueError, match="non-integer values"):
        pad([[0.5]])


def test_seed_001_model_trains_step_for_step_like_keras():
    """The stacked SimpleRNN of seed 001 with Keras's RMSprop: 20 steps from Keras's weights
    give Keras's losses and weights (the 500-epoch result then differs only by the random
    draws: initial weights and batch order)."""
    keras = _keras()
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 10, 1)).astype(np.float32), rng.random((32, 1)).astype(np.float32)
    km = keras.Sequential([keras.Input((10, 1)), keras.layers.SimpleRNN(50, return_sequences=True),
                           keras.layers.SimpleRNN(1)])
    km.compile(optimizer="rmsprop", loss="mse")
    ours = mk.Sequential([L.SimpleRNN(50, return_sequences=True, input_shape=(10, 1)), L.SimpleRNN(1)])
    ours.compile(optimizer="rmsprop", loss="mse")
    ours.set_weights(km.get_weights())
    for _ in range(20):  # float32: the two sum in different orders, so rounding drifts a little
        want = float(km.train_on_batch(x, y))
        assert ours.train_on_batch(x, y) == pytest.approx(want, rel=2e-3)
    for a, b in zip(ours.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("wrap", [False, True])
def test_masked_sequences_match_keras_at_every_step(name, wrap):
    """return_sequences under a mask: a padded step repeats the last output (zeros inside
    Bidirectional, which Keras asks for), and the next layer sees Keras's mask."""
    keras = _keras()
    x = _data((3, 6, 2), 2)
    x[0, :2] = 0  # pre-padding
    x[1, 4:] = 0  # post-padding
    x[2, 2:4] = 0  # a gap
    rec = lambda mod: getattr(mod, name)(4, return_sequences=True)  # noqa: E731
    wrap_k = (lambda l: keras.layers.Bidirectional(l)) if wrap else (lambda l: l)  # noqa: E731
    wrap_o = (lambda l: L.Bidirectional(l)) if wrap else (lambda l: l)  # noqa: E731
    km = keras.Sequential([keras.Input((6, 2)), keras.layers.Masking(0.0), wrap_k(rec(keras.layers)),
                           getattr(keras.layers, name)(3)])
    ours = mk.Sequential([L.Masking(0.0, input_shape=(6, 2)), wrap_o(rec(L)), getattr(L, name)(3)])
    ours.set_weights(km.get_weights())
    np.testing.assert_allclose(ours.predict(x), keras.ops.convert_to_numpy(km.predict(x, verbose=0)),
                               rtol=1e-4, atol=2e-5)
    inner_k = keras.Model(km.inputs, km.layers[1].output)
    np.testing.assert_allclose(ours._stack[1](ours._stack[0](x), mask=ours._stack[0].compute_mask(x)).numpy(),
                               keras.ops.convert_to_numpy(inner_k.predict(x, verbose=0)), rtol=1e-4, atol=2e-5)
