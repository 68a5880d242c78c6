"""Plots of training and of what a network computes (matplotlib; headless; each returns
the Figure, draws into ``ax=`` when given one, and writes a file when given a path)."""
from .curves import plot_curves

__all__ = ["plot_curves"]
