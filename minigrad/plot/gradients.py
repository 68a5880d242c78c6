"""The vanishing-gradient picture: how much gradient reaches each time step, and each layer.

Left panel: ||dL/dh_t|| against the time step t on a log scale (``rnn.inspect.
hidden_grad_norms`` measures it). A straight falling line towards early steps is an
exponential decay: each step back multiplies the gradient by about the same factor,
the norm of W_hh^T diag(act'(pre-activation)) for a vanilla RNN. Right panel: the
gradient norm of every layer over the updates of a training run (``rnn.inspect.
parameter_grad_norms(model, per="layer")`` after each backward).
"""
import numpy as np

from ._figure import finish, panels

def _as_curves(step_norms):
    """{label: (K, T) array} from an array (T,) or (K, T), or a dict of them."""
    if not isinstance(step_norms, dict):
        step_norms = {None: step_norms}
    curves = {}
    for label, v in step_norms.items():
        a = np.asarray(v, dtype=np.float64)
        if a.ndim not in (1, 2) or a.shape[-1] == 0:
            raise ValueError(f"plot_grad_norms: step_norms{'' if label is None else f'[{label!r}]'} must be an array "
                             f"(T,) of norms per time step, or (K, T) for K moments of training, got shape {a.shape}")
        curves[label] = a[None] if a.ndim == 1 else a
    return curves


def _draw_steps(ax, curves, relative, stages):
    for c, (label, a) in enumerate(curves.items()):
        if relative:
            last = a[:, -1:]
            a = np.divide(a, last, out=np.full_like(a, np.nan), where=last != 0)
        steps = np.arange(a.shape[1])
        if len(a) == 1:
            ax.plot(steps, a[0], label=label, lw=1.6, color=f"C{c}")
            continue
        # K curves of one model over training in its own colour, from pale (first) to full (last)
        from matplotlib.colors import to_rgb
        base = np.array(to_rgb(f"C{c}"))
        ramp = [1 - (1 - base) * w for w in np.linspace(0.3, 1.0, len(a))]
        for k, (row, colour) in enumerate(zip(a, ramp)):
            if stages is not None:
                tag = stages[k] if label is None else f"{label}, {stages[k]}"
            elif label is not None and k in (0, len(a) - 1):
                tag = f"{label} ({'first' if k == 0 else 'last'})"
            else:
                tag = None
            ax.plot(steps, row, color=colour, lw=1.0 + 0.6 * k / (len(a) - 1), label=tag)
    ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||" if relative else "||dL/dh_t||")
    ax.set_title("gradient reaching each time step")
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _as_series(layer_norms):
    """{name: (U,) array} from {layer name: norms per update}, checked."""
    if not isinstance(layer_norms, dict) or not layer_norms:
        raise ValueError("plot_grad_norms: layer_norms must be a non-empty dict {layer name: norms per update}, "
                         f"got {layer_norms!r:.60}")
    series = {}
    for name, v in layer_norms.items():
        series[name] = a = np.asarray(v, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"plot_grad_norms: layer_norms[{name!r}] must be a sequence of numbers (one per update), "
                             f"got shape {a.shape}")
    return series


def _draw_layers(ax, series):
    for name, a in series.items():
        ax.plot(np.arange(1, len(a) + 1), a, label=name, lw=1.2)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("update")
    ax.set_ylabel("gradient norm")
    ax.set_title("gradient norm per layer")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def plot_grad_norms(step_norms=None, layer_norms=None, path=None, *, ax=None, title=None, relative=False,
                    stages=None, figsize=None, dpi=110):
    """Gradient norms through time (left) and per layer over training (right), log scale.

    Args:
        step_norms: ||dL/dh_t|| per time step: an array (T,); a dict {label: (T,)} to
            compare models (RNN, LSTM, GRU); or (K, T) arrays, K measurements taken during
            training, drawn as K curves in the model's colour from pale (first) to full (last).
        layer_norms: {layer name: sequence of gradient norms, one per update}.
        path: write a PNG (or any format matplotlib knows from the suffix).
        ax: draw into this Axes (one panel given), or these two Axes (both given).
        title: above the figure.
        relative: divide each curve by its value at the last step, so that curves of
            different models start at 1 on the right and read as "the fraction left k
            steps back".
        stages: names of the K measurements of (K, T) arrays for the legend (e.g. ``["at
            initialisation", "after training"]``); by default the first and last curve
            are labelled ``(first)`` and ``(last)``.
        figsize, dpi: of a new figure (by default 5.5 in wide per panel, 4.2 high).

    Returns:
        the matplotlib Figure. Only one panel when only one of the two is given. Values
        <= 0 (no gradient at all) are left out of the log scale.
    """
    if step_norms is None and layer_norms is None:
        raise ValueError("plot_grad_norms: give step_norms (norms per time step), layer_norms (norms per layer "
                         "and update), or both")
    names = [p for p in ("steps", "layers") if (step_norms if p == "steps" else layer_norms) is not None]
    # checked before anything is drawn
    curves = None if step_norms is None else _as_curves(step_norms)
    series = None if layer_norms is None else _as_series(layer_norms)
    if stages is not None and curves and any(len(stages) != len(a) for a in curves.values()):
        raise ValueError(f"plot_grad_norms: {len(stages)} stages named but step_norms holds "
                         f"{sorted({len(a) for a in curves.values()})} measurement(s) per curve")
    fig, axes, own = panels(ax, names, "plot_grad_norms", figsize=figsize or (5.5 * len(names), 4.2), dpi=dpi)
    for a, panel in zip(axes, names):
        if panel == "steps":
            _draw_steps(a, curves, relative, stages)
        else:
            _draw_layers(a, series)
    return finish(fig, path, title, own)
