"""The tutorials' Keras code (seeds 000-004) runs on rnn.keras with only the imports changed,
and trains to Keras's result.

The seeds' bodies are in tests/keras_seeds.py, each a function of the names it imports,
so the same lines run here on rnn.keras and, via ``python tests/keras_seeds.py``, on
Keras 3.15 itself (torch backend). Keras's numbers below come from that command on
this project's 2-core machine (2026-12-03).
"""
import os
import sys
import types

import numpy as np
import pytest

import minigrad as mg
import rnn
from rnn import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_seeds  # noqa: E402

# python tests/keras_seeds.py 000: Keras's per-epoch loss and accuracy, from start_weights(seed=0)
KERAS_000_LOSS = [2.0751917362213135, 2.0402729511260986, 2.0075321197509766, 1.975875973701477, 1.9454046487808228,
                  1.9155616760253906, 1.8855677843093872, 1.8557170629501343, 1.825704574584961, 1.7958101034164429]
KERAS_000_ACCURACY = [1 / 6] * 7 + [2 / 6, 3 / 6, 3 / 6]


def test_seed_000_text_generation_follows_keras_epoch_by_epoch():
    """tf.keras.Sequential([SimpleRNN(128, relu), Dense(softmax)]) with Adam and sparse cross-entropy,
    ``import rnn as tf`` the only change: from the same weights, Keras's loss at every epoch
    to 1e-5 and its accuracy exactly (six examples: one full batch, so no shuffling enters)."""
    history = keras_seeds.seed_000(rnn)  # `import rnn as tf`: tf.keras.Sequential is rnn.keras.Sequential
    np.testing.assert_allclose(history["loss"], KERAS_000_LOSS, rtol=1e-5)
    np.testing.assert_allclose(history["accuracy"], KERAS_000_ACCURACY)


def test_seed_001_stacked_simple_rnn_reaches_keras_level():
    """Random data memorised by a stacked SimpleRNN with Keras's RMSprop: the issue's bar is
    <= 0.02 after 500 epochs (Keras: 0.0104 in the report that motivated this front end).
    Over seeds 0-3 this front end ended at 0.022, 0.015, 0.014, 0.008 (PyTorch's defaults
    and RMSprop instead: 0.084 with spikes to 2.28)."""
    mg.manual_seed(1)
    np.random.seed(1)
    history = keras_seeds.seed_001(keras.models.Sequential, keras.layers.SimpleRNN)
    loss = history["loss"]
    assert len(loss) == 500
    assert loss[-1] <= 0.02, loss[-10:]
    assert loss[0] > 0.07  # it started from nothing learnt


def test_seed_002_numpy_rnn_is_a_simple_rnn_with_a_dense_head():
    """The tutorial's from-scratch NumPy RNN (column vectors, h = tanh(Wxh x + Whh h + bh),
    y = Why h + by) computes what SimpleRNN(return_sequences=True) + Dense computes with its
    weights transposed into Keras's layout."""

    class SimpleRNN:  # seed 002, verbatim
        def __init__(self, input_dim, hidden_dim, output_dim):
            self.Wxh = np.random.randn(hidden_dim, input_dim) * 0.01
            self.Whh = np.random.randn(hidden_dim, hidden_dim) * 0.01
            self.Why = np.random.randn(output_dim, hidden_dim) * 0.01
            self.bh = np.zeros((hidden_dim, 1))
            self.by = np.zeros((output_dim, 1))

        def forward(self, inputs):
            h = np.zeros((self.Whh.shape[0], 1))
            y = []
            for t in range(len(inputs)):
                h = np.tanh(np.dot(self.Wxh, inputs[t]) + np.dot(self.Whh, h) + self.bh)
                y_t = np.dot(self.Why, h) + self.by
                y.append(y_t)
            return y, h

    np.random.seed(0)
    scratch = SimpleRNN(3, 8, 2)
    scratch.Wxh *= 50  # larger weights than the seed's 0.01 scale, so that tanh is not linear
    scratch.Whh *= 50
    scratch.bh = np.random.randn(8, 1) * 0.3
    inputs = [np.random.randn(3, 1) for _ in range(6)]
    ys, h = scratch.forward(inputs)
    model = keras.Sequential([keras.layers.SimpleRNN(8, return_sequences=True, input_shape=(6, 3), dtype="float64"),
                              keras.layers.Dense(2, dtype="float64")])  # float64: compare to rounding
    model.set_weights([scratch.Wxh.T, scratch.Whh.T, scratch.bh[:, 0], scratch.Why.T, scratch.by[:, 0]])
    out = model.predict(np.stack([x[:, 0] for x in inputs])[None])
    np.testing.assert_allclose(out[0], np.stack([y[:, 0] for y in ys]), rtol=1e-6, atol=1e-9)


# python tests/keras_seeds.py 003 (3,000 training sentences): Keras's training accuracy per epoch
# 0.558, 0.752, 0.910, 0.969, 0.987 and its accuracy on the 2,000 held-out ones
KERAS_003_TEST_ACCURACY = 0.699


def test_seed_003_sentiment_with_padding_reaches_keras_accuracy():
    """Embedding + LSTM(return_sequences) + LSTM + Dense(sigmoid) on the local polarity sentences,
    pre-padded by pad_sequences (the mask-free model of the seed: padding is just id 0):
    training accuracy climbs as Keras's does, held-out accuracy within 0.04 of Keras's."""
    mg.manual_seed(0)
    history, (test_loss, test_acc) = keras_seeds.seed_003(
        keras.models.Sequential, keras.layers.Embedding, keras.layers.LSTM, keras.layers.Dense,
        keras.preprocessing.sequence.pad_sequences)
    acc = history["accuracy"]
    assert acc[-1] > 0.9 and acc[0] < 0.7, acc
    assert test_acc > KERAS_003_TEST_ACCURACY - 0.04, (test_loss, test_acc)


# python tests/keras_seeds.py 004: Keras's test MSE (the persistence forecast's: 0.0296)
KERAS_004_TEST_MSE = 0.209


def test_seed_004_stock_forecast_reaches_keras_level():
    """SimpleRNN(50) + Dense(1), Adam, MSE, batch size 1, 100 epochs, on 160 weekly closing
    prices: the test MSE of the next price is at Keras's level or better. (Neither beats
    the persistence forecast, the last price, on this random walk: the seed's model
    extrapolates a trend it learnt on the training years.)"""
    mg.manual_seed(0)
    test_mse, persistence = keras_seeds.seed_004(keras.models.Sequential, keras.layers.SimpleRNN,
                                                 keras.layers.Dense)
    assert persistence == pytest.approx(0.0296, rel=1e-2)
    assert np.isfinite(test_mse) and test_mse < 1.5 * KERAS_004_TEST_MSE, (test_mse, persistence)


def test_seed_namespace_import_forms():
    """The import lines the seeds use all resolve: keras.models / keras.layers,
    tensorflow.keras.layers (as rnn.keras.layers), tf.keras.Sequential (import rnn as tf)."""
    from rnn.keras.layers import LSTM, Dense, Embedding, SimpleRNN  # noqa: F401
    from rnn.keras.models import Sequential  # noqa: F401
    tf = types.SimpleNamespace(keras=rnn.keras)
    assert tf.keras.Sequential is rnn.keras.Sequential and rnn.keras.layers.SimpleRNN is SimpleRNN
