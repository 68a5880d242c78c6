"""Watching a run as it trains: the curves redrawn after every epoch."""
import os
import sys

from .base import Callback


def _in_notebook():
    """True inside a Jupyter kernel (where a figure can be shown in the cell's output)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class LivePlot(Callback):
    """Redraw the History (``minigrad.plot.plot_history``: per-batch and per-epoch curves,
    metrics, learning rate) every ``every`` epochs and at the end of the run.

    path: the PNG rewritten each time (atomically: an image viewer or a web page polling
    it never sees half a file), or None; inline: show the figure in a Jupyter cell,
    replacing the previous one (default: when running in Jupyter). Other keyword arguments
    go to ``plot_history`` (smooth=, logy=, title=, ...)."""

    order = 15  # after the History (10), which records the epoch this draws
    main_rank_only = True

    def __init__(self, path="training.png", every=1, inline=None, **plot_kwargs):
        super().__init__()
        if path is not None and not os.fspath(path):
            raise ValueError("LivePlot: path is empty; give a file name, or None to only show it inline")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"LivePlot: every must be a positive int (epochs), got {every!r}")
        self.path, self.every, self.inline, self.plot_kwargs = path, every, inline, plot_kwargs
        self.draws = 0

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.draw()

    def on_train_end(self, logs=None):
        if self.loop.history.epoch or self.loop.history.batch_history:
            self.draw()

    def draw(self):
        """Render the History now; returns the Figure."""
        from minigrad.plot import plot_history
        fig = plot_history(self.loop.history, None, **self.plot_kwargs)
        if self.path is not None:
            path = os.fspath(self.path)
            directory, name = os.path.split(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            stem, suffix = os.path.splitext(name)
            tmp = os.path.join(directory, f".{stem}.{os.getpid()}.tmp{suffix or '.png'}")
            try:
                fig.savefig(tmp)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        if self.inline if self.inline is not None else _in_notebook():
            from IPython.display import clear_output, display
            clear_output(wait=True)
            display(fig)
        self.draws += 1
        return fig
