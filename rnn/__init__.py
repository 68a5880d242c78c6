"""rnn: recurrent networks built on minigrad — cells, layers, truncated BPTT, training, inspection,
sampling."""
from .cells import GRUCell, LSTMCell, RNNCell
from .layers import GRU, LSTM, RNN
from . import callbacks, data, datasets, inspect, keras, loop, train
from .tbptt import TBPTT
from .generate import generate, generate_text, sample_logits  # rnn.generate is the function

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "TBPTT", "generate", "generate_text", "sample_logits"]
