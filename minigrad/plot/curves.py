"""Training curves in one call, to a PNG: the original entry point, kept for the code
that uses it (``mg.plot_curves``); ``plot_history`` does the drawing."""
from .history import plot_history


def plot_curves(curves, path, title=None, xlabel="epoch", ylabel="loss", logy=False):
    """Plot named curves and write a PNG (or any format matplotlib knows from the suffix).

    ``curves``: {name: sequence of numbers}, e.g. {"train loss": [...], "val loss": [...]},
    one value per epoch; names containing "loss" share the main panel, metrics (accuracy,
    ...) and the learning rate get panels of their own (see ``plot_history``).
    Returns ``path``.
    """
    if not curves:
        raise ValueError("plot_curves: no curves given; expected {name: values}, e.g. {'train loss': [...]}")
    plot_history(dict(curves), path, title=title, xlabel=xlabel, ylabel=ylabel, logy=logy)
    return path
