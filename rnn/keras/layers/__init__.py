"""Keras-style layers (``from rnn.keras.layers import LSTM, Dense``): built on first call,
batch-first shapes, Keras's arguments, defaults and weight layouts."""
from .base import Layer
from .core import Activation, Dense, Dropout, Embedding, Flatten, Input, InputLayer, Masking
from .recurrent import GRU, LSTM, SimpleRNN
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Embedding", "Masking",
           "SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed"]
