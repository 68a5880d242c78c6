"""A Keras front end on minigrad: the tutorials' Keras code runs with only the imports changed.

    from rnn.keras.models import Sequential            # keras.models
    from rnn.keras.layers import SimpleRNN, LSTM, Dense # keras.layers
    from rnn.keras.preprocessing.sequence import pad_sequences

    model = Sequential()
    model.add(SimpleRNN(50, input_shape=(10, 1), return_sequences=True))
    model.add(SimpleRNN(1))
    model.compile(optimizer="rmsprop", loss="mse")
    model.fit(x, y, epochs=500, verbose=0)

Keras's semantics throughout: batch-first (N, T, F) inputs, weights built on first call,
Keras's initializers, optimizer defaults and loss semantics (probabilities unless
``from_logits``), masks from ``Embedding(mask_zero=True)`` / ``Masking``. Underneath run
minigrad's fused recurrent kernels on the active backend. What differs from the
PyTorch-style API (``rnn.LSTM``, ``rnn.train.fit``): docs/keras.md.
"""
from . import activations, callbacks, initializers, layers, losses, metrics, optimizers, preprocessing, utils
from . import models
from .layers import Input
from .models import Sequential

__all__ = ["Sequential", "Input", "activations", "callbacks", "initializers", "layers", "losses", "metrics",
           "models", "optimizers", "preprocessing", "utils"]
