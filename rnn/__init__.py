"""rnn: recurrent networks built on minigrad — cells, layers, truncated BPTT, training, inspection."""
from .cells import GRUCell, LSTMCell, RNNCell
from .layers import GRU, LSTM, RNN
from . import callbacks, data, inspect, keras, loop, train
from .tbptt import TBPTT

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "TBPTT"]
