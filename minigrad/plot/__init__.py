"""Plots of training and of what a network computes (matplotlib; headless; each returns
the Figure, draws into ``ax=`` when given one, and writes a file when given a path)."""
from .benchmark import plot_benchmark
from .confusion import plot_confusion
from .curves import plot_curves
from .history import plot_history
from .predictions import plot_predictions

__all__ = ["plot_curves", "plot_history", "plot_predictions", "plot_confusion", "plot_benchmark"]
