"""Plots of training and of what a network computes (matplotlib; headless; each returns
the Figure, draws into ``ax=`` when given one, and writes a file when given a path)."""
from .benchmark import plot_benchmark
from .confusion import plot_confusion
from .curves import plot_curves
from .gradients import plot_grad_norms
from .graph import draw_graph, graph_text
from .hidden import plot_hidden_states
from .history import plot_history
from .predictions import plot_predictions

__all__ = ["plot_curves", "plot_history", "plot_predictions", "plot_confusion", "plot_benchmark",
           "draw_graph", "graph_text", "plot_grad_norms", "plot_hidden_states"]
