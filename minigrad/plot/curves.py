"""Training curves as PNG files (matplotlib, no display needed)."""
import os


def plot_curves(curves, path, title=None, xlabel="epoch", ylabel="loss", logy=False):
    """Plot named curves and write a PNG.

    ``curves``: {name: sequence of numbers}, e.g. {"train loss": [...], "val loss": [...]};
    names containing "loss" share the left axis, any others (accuracy, lr, ...) get a
    right-hand axis so that quantities on different scales stay readable.
    Returns ``path``.
    """
    import matplotlib
    matplotlib.use("Agg")  # render to files; works on machines without a display
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("plot_curves: no curves given")
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    losses = {k: v for k, v in curves.items() if "loss" in k.lower()} or dict(curves)
    others = {k: v for k, v in curves.items() if k not in losses}
    for name, values in losses.items():
        ax.plot(range(1, len(values) + 1), list(values), label=name, linewidth=1.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if others:
        ax2 = ax.twinx()
        for i, (name, values) in enumerate(others.items()):
            ax2.plot(range(1, len(values) + 1), list(values), label=name, linestyle="--", color=f"C{len(losses) + i}")
        ax2.set_ylabel(", ".join(others))
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="best")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
