"""What every plot shares: a Figure without pyplot, drawing into a caller's axes, saving.

The figures are built with ``matplotlib.figure.Figure`` directly rather than through
``pyplot``: no global state, no window, nothing to close, and they render on a machine
without a display. In Jupyter a returned Figure shows inline; passing ``ax=`` draws into
an axes the caller made (a subplot of a bigger figure, a notebook cell's ``plt.gca()``).
"""
import os

import numpy as np


def figure(ax=None, nrows=1, ncols=1, figsize=(7, 4.2), dpi=110, **subplot_kw):
    """(fig, axes): the caller's ``ax`` and its figure, or a new Figure with a grid of axes.

    ``axes`` is one Axes for a 1x1 grid, else the numpy array matplotlib returns."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, dpi=dpi)
    axes = fig.subplots(nrows, ncols, squeeze=True, **subplot_kw)
    return fig, axes


def panels(ax, names, fname, *, stacked=False, figsize=None, dpi=110, **subplot_kw):
    """(fig, [one Axes per panel], own): a new Figure with the panels side by side (or
    ``stacked`` one above the other), or the caller's ``ax``: one Axes, or a sequence
    (or array) of them, exactly one per panel. ``own`` is False for the caller's figure."""
    if ax is None:
        n = len(names)
        fig, grid = figure(nrows=n if stacked else 1, ncols=1 if stacked else n, figsize=figsize, dpi=dpi,
                           **subplot_kw)
        return fig, list(np.ravel(grid)), True
    axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axes) != len(names):
        raise ValueError(f"{fname}: {len(names)} panel(s) to draw ({', '.join(names)}) but ax holds {len(axes)} "
                         "Axes; pass one Axes per panel")
    return axes[0].figure, axes, False


def finish(fig, path=None, title=None, own=True):
    """Title, tight layout (only on a figure made here), and a PNG (or any format
    matplotlib knows from the suffix) when ``path`` is given. Returns the Figure."""
    if title:
        fig.suptitle(title)
    if own:
        fig.tight_layout()
    if path is not None:
        path = os.fspath(path)
        if not path:
            raise ValueError("plot: an empty path; give a file name such as 'curve.png', or None to only return "
                             "the Figure")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path)
    return fig
