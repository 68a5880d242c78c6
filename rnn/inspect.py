"""Looking inside a recurrence: gradients through time, hidden states and gates, gradient norms.

Three measurements, each a plain numpy result ready for ``minigrad.plot``:

* ``hidden_grad_norms``: ||dL/dh_t|| for every step t, the gradient that
  backpropagation through time carries back to step t. For a vanilla RNN it shrinks
  roughly geometrically with the distance to the loss, by about ||W_hh^T diag(1 - h^2)||
  per step (Bengio et al. 1994; Pascanu et al. 2013); gates let LSTMs and GRUs keep it.
* ``gate_activations``: the hidden states and the gate values the layer computes, step
  by step, e.g. to see saturated gates (stuck near 0 or 1).
* ``parameter_grad_norms``: the L2 norm of every parameter's ``.grad``, or one norm per
  layer, after a backward: which part of a model the gradient actually reaches.

The first two run the layer's own recurrence (``rnn/cells.py``, the equations the fused
kernels are tested against) one step at a time, so that every h_t is a tensor of its own,
on copies of the layer's weights: they never change the layer or its ``.grad``.
Supported layers: ``rnn.RNN``, ``rnn.LSTM``, ``rnn.GRU`` with one layer and one direction
(``num_layers=1, bidirectional=False``), batch-first or not, without padding.
"""
import numpy as np

import minigrad as mg

from .cells import gru_gates, gru_update, lstm_gates, lstm_update, rnn_step
from .layers import GRU, LSTM, RNN, composed_direction


def _setup(fname, layer, x, hx, dtype=None):
    """Check the layer, put x in (T, B, I) and make the weights' and states' copies.

    Returns (x (T, B, I), [h0] or [h0, c0] each (B, H), (w_ih, w_hh, b_ih, b_hh), unbatched):
    the weights are detached copies on x's device in ``dtype`` (the layer's by default).
    """
    if not isinstance(layer, (RNN, LSTM, GRU)):
        raise TypeError(f"{fname}: expected an rnn.RNN, rnn.LSTM or rnn.GRU layer, got {type(layer).__name__}")
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError(f"{fname}: supports one layer in one direction, got {type(layer).__name__} with "
                         f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}; inspect a stack "
                         "one layer at a time (a layer built with num_layers=1 and the same weights)")
    if not isinstance(x, mg.Tensor):
        raise TypeError(f"{fname}: x must be a Tensor, got {type(x).__name__}")
    dtype = layer.weight_ih_l0.dtype if dtype is None else np.dtype(dtype)
    x, states, _, _, unbatched = layer._prepare(x, hx, None)  # the layer's own checks and messages
    x = x.detach().to(dtype)

    def copy(p):
        return None if p is None else p.detach().to(x.device).to(dtype)

    _, b, _ = x.shape
    init = [mg.zeros(b, layer.hidden_size, dtype=dtype, device=x.device) if s is None else copy(s[0])
            for s in states]
    return x, init, tuple(copy(p) for p in layer.group(0, 0)), unbatched


def _to_layer_layout(layer, out, unbatched):
    """(T, B, H) -> what the layer's output looks like: (T, H) unbatched, (B, T, H) batch first."""
    if unbatched:
        return out.squeeze(1)
    return out.transpose(0, 1) if layer.batch_first else out


def hidden_grad_norms(layer, x, loss_fn, target=None, *, hx=None, dtype=None):
    """||dL/dh_t|| for t = 0 .. T-1: the gradient of a loss of the layer's outputs w.r.t. each hidden state.

    Args:
        layer: ``rnn.RNN``, ``rnn.LSTM`` or ``rnn.GRU``, one layer, one direction.
        x: the input in the layer's layout, (T, B, I), (B, T, I) with ``batch_first``, or (T, I).
        loss_fn: ``loss_fn(output)``, or ``loss_fn(output, target)`` when ``target`` is given,
            returning a one-element Tensor. ``output`` is the layer's output sequence in the
            layer's layout, (T, B, H) / (B, T, H) / (T, H) (an LSTM: its h; c is internal).
        hx: the initial state as the layer takes it (h0, or (h0, c0)); zeros by default.
        dtype: run in this dtype (e.g. ``mg.float64``, so that a gradient of 1e-30 shows as
            1e-30 and not as 0 in float32); the layer's dtype by default.

    Returns:
        numpy float64 array (T,): entry t is the norm over the batch and the hidden units
        of the *total* gradient dL/dh_t, i.e. what reaches h_t through its own output plus
        everything flowing back from the later steps (the quantity BPTT carries; for an
        LSTM through c as well). 0 where no gradient reaches.

    The recurrence runs step by step on copies of the weights, on x's device (a CPU x
    measures a GPU layer on the host), so the layer and its ``.grad`` are untouched.
    Tensors that ``loss_fn`` itself uses (a read-out layer's weights) receive gradients
    as in any backward: zero them before using their ``.grad`` for anything else.
    """
    x, init, params, unbatched = _setup("hidden_grad_norms", layer, x, hx, dtype)
    init = [s.detach().requires_grad_() for s in init]  # gives the recurrence a graph with frozen weights
    steps = []
    out, _ = composed_direction(layer.mode, x, init, params, False, None, layer.nonlinearity, record=steps)
    hs = steps[0]  # the T states h_t (B, H), the very tensors step t + 1 reads
    for h in hs:
        h.retain_grad()
    output = _to_layer_layout(layer, out, unbatched)
    loss = loss_fn(output) if target is None else loss_fn(output, target)
    if not isinstance(loss, mg.Tensor) or loss.size != 1:
        got = f"shape {loss.shape}" if isinstance(loss, mg.Tensor) else type(loss).__name__
        raise ValueError(f"hidden_grad_norms: loss_fn must return a one-element Tensor, got {got}")
    if not loss.requires_grad:
        raise ValueError("hidden_grad_norms: the loss does not depend on the layer's output (no graph "
                         "reaches it); loss_fn must compute the loss from the output it is given")
    loss.backward()
    return np.array([0.0 if h.grad is None else np.linalg.norm(h.grad.numpy().astype(np.float64))
                     for h in hs])


def gate_activations(layer, x, hx=None):
    """The hidden states and gates the layer computes at every step, as numpy arrays.

    Args:
        layer: ``rnn.RNN``, ``rnn.LSTM`` or ``rnn.GRU``, one layer, one direction.
        x: the input in the layer's layout, (T, B, I), (B, T, I) with ``batch_first``, or (T, I).
        hx: the initial state as the layer takes it; zeros by default.

    Returns:
        dict of (T, B, H) arrays, time first whatever the layer's layout (B = 1 for
        unbatched input): ``"h"``, the hidden state after each step (the layer's output);
        an LSTM adds its gates ``"i"`` (input), ``"f"`` (forget), ``"o"`` (output), in
        (0, 1), the candidate ``"g"`` in (-1, 1) and the cell state ``"c"``; a GRU adds
        ``"r"`` (reset) and ``"z"`` (update), in (0, 1), and the candidate ``"n"`` in (-1, 1).

    Runs without a graph, in the layer's dtype, on x's device, through the same step
    functions the composed layer uses (``rnn/cells.py``), so ``"h"`` equals the layer's
    output to float tolerance.
    """
    x, state, (w_ih, w_hh, b_ih, b_hh), _ = _setup("gate_activations", layer, x, hx)
    names = {"RNN": ("h",), "LSTM": ("h", "i", "f", "g", "o", "c"), "GRU": ("h", "r", "z", "n")}[layer.mode]
    record = {n: [] for n in names}
    with mg.no_grad():
        gi_all = mg.linear(x, w_ih, b_ih)  # (T, B, G*H): every step's input projection at once
        for t in range(x.shape[0]):
            if layer.mode == "LSTM":
                gates = lstm_gates(gi_all[t], state[0], w_hh, b_hh)
                state = list(lstm_update(gates, state[1]))
                values = (state[0], *gates, state[1])
            elif layer.mode == "GRU":
                gates = gru_gates(gi_all[t], state[0], w_hh, b_hh)
                state = [gru_update(gates, state[0])]
                values = (state[0], *gates)
            else:
                state = [rnn_step(gi_all[t], state[0], w_hh, b_hh, layer.nonlinearity)]
                values = (state[0],)
            for n, v in zip(names, values):
                record[n].append(v.numpy())
    return {n: np.stack(v) for n, v in record.items()}


def _layer_of(name, top):
    """The layer a parameter belongs to: its module path, plus ``l<k>`` for a recurrent
    layer's ``..._l<k>`` / ``..._l<k>_reverse`` weights (both directions of layer k together)."""
    prefix, _, leaf = name.rpartition(".")
    parts = leaf.split("_")
    if parts[-1] == "reverse":
        parts = parts[:-1]
    if len(parts) > 1 and parts[-1][:1] == "l" and parts[-1][1:].isdigit():
        return f"{prefix}.{parts[-1]}" if prefix else parts[-1]
    return prefix or top


def parameter_grad_norms(model, per="parameter"):
    """The L2 norm of each parameter's gradient, after a backward.

    Args:
        model: an ``nn.Module`` (its ``named_parameters()``), or a dict {name: tensor}.
        per: ``"parameter"``: one entry per parameter; ``"layer"``: one per layer, the norm
            of that layer's gradients taken together, sqrt(sum of the squared norms), where a
            layer is a module path (``"encoder"``, ``"head"``) and a recurrent layer's
            stacked layers count separately (``"rnn.l0"``, ``"rnn.l1"``: PyTorch's ``_l<k>``
            suffixes; both directions of a layer together). A Module's own parameters
            (no path) are grouped under its class name.

    Returns:
        dict {name: float}, in the model's parameter order. Parameters without a gradient
        (frozen, or unused by the loss) are left out.
    """
    if per not in ("parameter", "layer"):
        raise ValueError(f"parameter_grad_norms: per must be 'parameter' or 'layer', got {per!r}")
    if hasattr(model, "named_parameters"):
        named, top = list(model.named_parameters()), type(model).__name__
    elif isinstance(model, dict):
        named, top = list(model.items()), "model"
    else:
        raise TypeError(f"parameter_grad_norms: expected an nn.Module or a dict {{name: tensor}}, "
                        f"got {type(model).__name__}")
    norms = {}
    for name, p in named:
        if p.grad is not None:
            g = p.grad.numpy().astype(np.float64, copy=False)
            norms[name] = float(np.sqrt(np.sum(g * g)))
    if not norms and named:
        raise ValueError("parameter_grad_norms: no parameter has a gradient; call loss.backward() first "
                         "(and read the norms before optimizer.zero_grad())")
    if per == "parameter":
        return norms
    squares = {}
    for name, n in norms.items():
        key = _layer_of(name, top)
        squares[key] = squares.get(key, 0.0) + n * n
    return {k: float(np.sqrt(v)) for k, v in squares.items()}
