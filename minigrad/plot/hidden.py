"""What a recurrent layer holds at every step: heatmaps of hidden units (and gates) over time.

One panel per quantity, units down, time steps across, all panels on one time axis.
Hidden and cell states and the tanh candidates use a diverging map centred at 0 (red
positive, blue negative); sigmoid gates a 0..1 map. A gate that is saturated sits at one
end of its map for long stretches: a forget gate near 1 keeps the cell state (and its
gradient) alive across many steps, one near 0 wipes it every step.
"""
import numpy as np

from ._figure import finish, panels

_SIGMOID_GATES = {"i", "f", "o", "r", "z"}
_NAMES = {"h": "hidden state", "c": "cell state", "i": "input gate", "f": "forget gate", "g": "candidate cell",
          "o": "output gate", "r": "reset gate", "z": "update gate", "n": "candidate state"}


def _arrays(states, batch_index, units, keys):
    """[(key, (units, T) array, unit indices)], checked, in drawing order."""
    if not isinstance(states, dict):
        states = {"h": states}
    keys = list(states) if keys is None else list(keys)
    if not keys:
        raise ValueError("plot_hidden_states: nothing to draw; give an array (T, B, H) or a dict of them, e.g. "
                         "rnn.inspect.gate_activations(layer, x)")
    missing = [k for k in keys if k not in states]
    if missing:
        raise KeyError(f"plot_hidden_states: keys {missing} are not among the states given ({list(states)})")
    arrays, steps = [], None
    for key in keys:
        a = states[key]
        a = np.asarray(a.numpy() if hasattr(a, "numpy") else a, dtype=np.float64)
        if a.ndim == 3:
            if not -a.shape[1] <= batch_index < a.shape[1]:
                raise IndexError(f"plot_hidden_states: batch_index={batch_index} but {key!r} has a batch of "
                                 f"{a.shape[1]} (shape {a.shape}, expected (T, B, H))")
            a = a[:, batch_index]
        elif a.ndim != 2:
            raise ValueError(f"plot_hidden_states: {key!r} must be (T, B, H) or (T, H), got shape {a.shape}")
        if steps is not None and a.shape[0] != steps:
            raise ValueError(f"plot_hidden_states: {key!r} has {a.shape[0]} time steps, the others {steps}")
        steps = a.shape[0]
        if units is None:
            pick = np.arange(a.shape[1])
        elif isinstance(units, (int, np.integer)):
            pick = np.arange(min(int(units), a.shape[1]))
        else:
            pick = np.asarray(units, dtype=np.int64).ravel()
            if pick.size and (pick.min() < 0 or pick.max() >= a.shape[1]):
                raise IndexError(f"plot_hidden_states: units {pick.tolist()} out of range for {key!r}, which has "
                                 f"{a.shape[1]} hidden units")
        arrays.append((key, a[:, pick].T, pick))
    return arrays


def plot_hidden_states(states, path=None, *, ax=None, title=None, batch_index=0, units=None, keys=None,
                       figsize=None, dpi=110):
    """Heatmaps of units x time: the hidden state and, from a dict, every gate.

    Args:
        states: an array (T, B, H) or (T, H) of hidden states, or the dict of such arrays
            that ``rnn.inspect.gate_activations`` returns (``"h"`` and the LSTM's
            ``"i", "f", "g", "o", "c"`` or the GRU's ``"r", "z", "n"``).
        path: write a PNG (or any format matplotlib knows from the suffix).
        ax: draw into this Axes (one panel) or these Axes (one per panel).
        title: above the figure.
        batch_index: which sequence of the batch to show.
        units: the first ``units`` hidden units (an int), or a list of unit indices; all
            by default.
        keys: which entries of the dict to draw, in this order; all by default.
        figsize, dpi: of a new figure (by default 8 in wide, 1.7 in per panel).

    Returns:
        the matplotlib Figure. Sigmoid gates (i, f, o, r, z) use a 0..1 colour map; the
        rest a diverging one centred at 0, from -1 to 1 (wider if values exceed 1).
    """
    shown = _arrays(states, batch_index, units, keys)
    fig, axes, own = panels(ax, [p[0] for p in shown], "plot_hidden_states", stacked=True,
                            figsize=figsize or (8.0, 1.7 * len(shown) + 0.5), dpi=dpi, sharex=True)
    for a, (key, values, pick) in zip(axes, shown):
        if key in _SIGMOID_GATES:
            style = dict(cmap="viridis", vmin=0.0, vmax=1.0)
        else:
            m = max(1.0, float(np.nanmax(np.abs(values))) if values.size else 1.0)
            style = dict(cmap="RdBu_r", vmin=-m, vmax=m)
        im = a.imshow(values, aspect="auto", origin="lower", interpolation="nearest", **style)
        fig.colorbar(im, ax=a, pad=0.01, fraction=0.04)
        a.set_title(f"{key}: {_NAMES.get(key, key)}", fontsize=9, loc="left")
        a.set_ylabel("unit")
        if units is not None and not isinstance(units, (int, np.integer)) and len(pick) <= 16:
            a.set_yticks(np.arange(len(pick)), [str(u) for u in pick])  # the units asked for, by their index
    axes[-1].set_xlabel("time step t")
    return finish(fig, path, title, own)
