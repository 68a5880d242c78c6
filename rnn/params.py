"""Creating and initialising the parameters of a recurrent cell or layer.

PyTorch's conventions (a contract of this project): for G gates and hidden size H,
``weight_ih`` is (G*H, input_size), ``weight_hh`` is (G*H, H), ``bias_ih`` and
``bias_hh`` are (G*H,), gate blocks stacked in the order LSTM (i, f, g, o), GRU
(r, z, n); every parameter ~ U(-1/sqrt(H), 1/sqrt(H)).

Two documented alternatives to that default:

* ``init="orthogonal"``: each gate's block of ``weight_hh`` orthogonal (repeated
  multiplication by an orthogonal matrix neither shrinks nor blows up a vector, which
  keeps early gradients through time healthy), ``weight_ih`` Xavier-uniform, biases 0.
* ``forget_bias=b`` (LSTM): the forget gate's slice of ``bias_ih`` set to b and of
  ``bias_hh`` to 0, so the cell starts out remembering (Jozefowicz et al., 2015).
"""
import math

import numpy as np

from minigrad.dtypes import get_default_dtype
from minigrad.nn import Parameter, init

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def make_params(module, mode, input_size, hidden_size, bias, dtype, suffix=""):
    """Register weight_ih{suffix}, weight_hh{suffix} (and biases) on ``module``; returns their names."""
    g = GATES[mode] * hidden_size
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    names = [f"weight_ih{suffix}", f"weight_hh{suffix}"]
    setattr(module, names[0], Parameter(np.zeros((g, input_size)), dtype=dtype))
    setattr(module, names[1], Parameter(np.zeros((g, hidden_size)), dtype=dtype))
    if bias:
        names += [f"bias_ih{suffix}", f"bias_hh{suffix}"]
        setattr(module, names[2], Parameter(np.zeros(g), dtype=dtype))
        setattr(module, names[3], Parameter(np.zeros(g), dtype=dtype))
    return names


def init_params(params, mode, hidden_size, scheme="uniform", forget_bias=None):
    """Initialise one (weight_ih, weight_hh[, bias_ih, bias_hh]) group in place."""
    if scheme == "uniform":
        bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        for p in params:
            init.uniform_(p, -bound, bound)
    elif scheme == "orthogonal":
        w_ih, w_hh, *biases = params
        init.xavier_uniform_(w_ih)
        blocks = [init.orthogonal_(Parameter(np.zeros((hidden_size, hidden_size)), dtype=w_hh.dtype)).numpy()
                  for _ in range(GATES[mode])]
        w_hh.data = np.concatenate(blocks, axis=0).astype(w_hh.dtype)
        for b in biases:
            init.zeros_(b)
    else:
        raise ValueError(f"init must be 'uniform' or 'orthogonal', got {scheme!r}")
    if forget_bias is not None:
        if mode != "LSTM":
            raise ValueError(f"forget_bias applies to LSTM only, not {mode}")
        if len(params) < 4:
            raise ValueError("forget_bias needs bias=True")
        h = hidden_size
        b_ih, b_hh = params[2].data.copy(), params[3].data.copy()
        b_ih[h:2 * h], b_hh[h:2 * h] = forget_bias, 0.0  # gate order i, f, g, o: f is the 2nd block
        params[2].data, params[3].data = b_ih, b_hh
