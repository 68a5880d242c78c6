"""Training curves: the losses, metrics and learning rate of a run, on one x axis.

    fig = plot_history(history, "curve.png")            # a History from fit()
    fig = plot_history({"train loss": [...], "val loss": [...]})

What goes where:

* losses (every name containing "loss") on the main panel; metrics (accuracy, mae, ...)
  on a panel of their own; the learning rate ("lr", "learning_rate") on a small one at
  the bottom; seconds per epoch ("time") are not drawn. The panels share the x axis.
* values logged once per epoch sit at the *end* of their epoch (x = 1 for the first);
  values logged per step (a History's ``batch_history``) sit where their batch ends
  (batch b of n in epoch e at x = e - 1 + b/n), so a per-step training loss and a
  per-epoch validation loss line up.
* per-step curves are noisy: they are smoothed by an exponential moving average, with
  the raw values drawn faintly behind.
* the best epoch (lowest validation loss, or training loss; highest for accuracies) is
  marked with a star, a dotted line through every panel, and its value.
"""
import math
import numbers
from collections.abc import Mapping

import numpy as np

from ._figure import figure, finish

_NOT_PLOTTED = ("time", "epoch", "batch", "size")  # logged, but not a curve (or the x axis itself)
_LEARNING_RATE = ("lr", "learning_rate")
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1")
_STEP_POINTS = 100  # a dict's curve with this many points (or 5x the sparsest one's) counts as per-step
_FEW_POINTS = 25    # epoch curves this short get a marker at every point (one epoch must still show)
_HEIGHTS = {"loss": 3, "metric": 2, "lr": 1}


class _Curve:
    """One named series: x and y (float arrays of one length), logged per step or per epoch."""

    def __init__(self, name, x, y, per_step):
        self.name, self.x, self.y, self.per_step = name, x, y, per_step
        self.shown = y  # what the line draws: the EMA for smoothed per-step curves

    @property
    def role(self):
        key = self.name.lower()
        if key in _LEARNING_RATE:
            return "lr"
        return "loss" if "loss" in key else "metric"


def _number(name, v, i, what):
    """float(v) for a real number (a Python or numpy number, a one-element array or tensor)."""
    if isinstance(v, (numbers.Real, np.bool_)):
        return float(v)
    if not isinstance(v, (str, bytes)) and callable(getattr(v, "item", None)):
        try:
            item = v.item()
        except (TypeError, ValueError):  # more than one element
            item = None
        if isinstance(item, numbers.Real):
            return float(item)
    raise TypeError(f"plot_history: {name!r} holds a non-numeric {what} {v!r} at index {i}; expected numbers, or "
                    "(x, y) pairs of numbers")


def _numbers(name, values, what="value"):
    """values as a float array; a clear error for anything that is not a real number."""
    return np.array([_number(name, v, i, what) for i, v in enumerate(values)], dtype=float)


def _is_pair(v):
    return not isinstance(v, (str, bytes)) and hasattr(v, "__len__") and len(v) == 2


def _xy(name, values):
    """(x, y, pairs_given) of a dict entry: numbers at x = 1..n, or a list of (x, y) pairs."""
    values = list(values)
    if not values:
        raise ValueError(f"plot_history: {name!r} has no values")
    pairs = [_is_pair(v) for v in values]
    if all(pairs):
        x, y = zip(*values)
        return _numbers(name, x, "x"), _numbers(name, y), True
    if any(pairs):
        i = pairs.index(not pairs[0])
        raise ValueError(f"plot_history: {name!r} mixes numbers and (x, y) pairs (index 0 is {values[0]!r}, index "
                         f"{i} is {values[i]!r}); give one kind")
    return np.arange(1.0, len(values) + 1), _numbers(name, values), False


def _per_step_in_dict(n, fewest):
    """A plain dict does not say how often a curve was logged: a long curve, or one logged
    far more often than the sparsest curve beside it, is taken to be per step."""
    return n >= _STEP_POINTS or n >= max(10, 5 * fewest)


def _from_dict(history):
    """Curves of {name: numbers or (x, y) pairs}; the default x label ("step" if pairs were given)."""
    raw = [(str(name), *_xy(str(name), values)) for name, values in history.items() if name not in _NOT_PLOTTED]
    fewest = min((len(x) for _, x, _, _ in raw), default=0)
    curves = [_Curve(name, x, y, _per_step_in_dict(len(x), fewest)) for name, x, y, _ in raw]
    return curves, "step" if any(p for *_, p in raw) else "epoch"


def _from_history(history):
    """Curves of a History-like object: ``.history`` {name: one value per epoch}, ``.epoch``
    (numbers from 0 as Keras, or from 1; ``.epochs_from = 0`` says which) and optionally ``.batch_history`` {"epoch": x of
    each batch, name: one value per batch}."""
    per_epoch = dict(history.history)
    epochs = getattr(history, "epoch", None)
    if epochs is None:
        epochs = range(1, 1 + max((len(v) for v in per_epoch.values()), default=0))
    x = _numbers("epoch", list(epochs), "epoch number")
    # Keras counts epochs from 0: epoch 0's values are those at the end of the first epoch. A
    # History that says so (``epochs_from = 0``) is shifted even when it starts later (a resumed run).
    if getattr(history, "epochs_from", None) == 0 or (len(x) and x.min() == 0):
        x = x + 1
    steps = dict(getattr(history, "batch_history", None) or {})
    if steps and "epoch" not in steps:
        raise ValueError(f"plot_history: batch_history has no 'epoch' entry (it has {sorted(steps)}); expected "
                         "'epoch': where each batch ends, in epochs, next to one value per batch of each name")
    xs = _numbers("batch_history['epoch']", steps.get("epoch", []), "x")
    curves = {}
    for name in list(per_epoch) + [n for n in steps if n not in per_epoch]:
        if name in _NOT_PLOTTED:
            continue
        if name in steps:  # a name logged per step is drawn from its per-step values
            values, where = steps[name], f"batch_history[{name!r}]"
            if len(values) != len(xs):
                raise ValueError(f"plot_history: {where} has {len(values)} values but batch_history['epoch'] has "
                                 f"{len(xs)}; expected one value per batch")
            curves[name] = _Curve(f"{name} per step", xs, _numbers(where, values), per_step=True)
            continue
        values = per_epoch[name]
        if len(values) != len(x):
            raise ValueError(f"plot_history: {name!r} has {len(values)} values but the history has {len(x)} "
                             "epochs (its .epoch list); expected one value per epoch")
        curves[name] = _Curve(str(name), x, _numbers(name, values), per_step=False)
    curves = [c for c in curves.values() if len(c.x)]
    return curves, "epoch"


def ema(values, smooth):
    """Exponential moving average with bias correction (as Adam's moments and TensorBoard):

        s_t = smooth * s_{t-1} + (1 - smooth) * v_t,  s_0 = 0;   shown: s_t / (1 - smooth**t)

    Without the correction the first values would be pulled towards 0. Non-finite values
    (a diverged loss) are left out of the average and shown as gaps."""
    out = np.full(len(values), np.nan)
    s, t = 0.0, 0
    for i, v in enumerate(values):
        if math.isfinite(v):
            s, t = smooth * s + (1 - smooth) * v, t + 1
            out[i] = s / (1 - smooth ** t)
    return out


def _auto_best(curves):
    """The validation loss, else the training loss; None when there is no loss."""
    def key(c):
        return c.name.lower().replace("_", " ")
    for wanted in (lambda k: k.startswith("val") and "loss" in k, lambda k: k in ("loss", "train loss"),
                   lambda k: "loss" in k and "baseline" not in k):
        found = [c for c in curves if wanted(key(c))]
        if found:
            return found[0]
    return None


def _best_curve(curves, best):
    """The curve whose best value is marked: "auto", a curve's name, or None."""
    if best is None or best is False:
        return None
    if best == "auto":
        return _auto_best(curves)
    found = [c for c in curves if c.name in (best, f"{best} per step")]
    if not found:
        raise ValueError(f"plot_history: best={best!r} is not a curve of this history; it has "
                         f"{', '.join(repr(c.name) for c in curves)} (or pass best=None)")
    return found[0]


def _mark_best(curve, curves, panels, xlabel):
    """A star at the best value of ``curve``, its value, a dotted line through every panel."""
    if curve is None or curve.role not in panels:
        return None  # nothing to mark, or its panel is not drawn (one Axes given: the main panel only)
    higher = any(word in curve.name.lower() for word in _HIGHER_IS_BETTER)
    y = np.where(np.isfinite(curve.shown), curve.shown, -np.inf if higher else np.inf)
    i = int(np.argmax(y) if higher else np.argmin(y))
    if not np.isfinite(y[i]):
        return None
    bx, by = curve.x[i], curve.shown[i]
    ax = panels[curve.role]
    for a in panels.values():
        a.axvline(bx, color="0.45", linestyle=":", linewidth=1.0, label="_best")
    ax.plot([bx], [by], marker="*", markersize=13, color="gold", markeredgecolor="black", zorder=5,
            linestyle="none", label="_best")
    lo, hi = min(c.x.min() for c in curves), max(c.x.max() for c in curves)
    left = bx > (lo + hi) / 2  # write towards the middle of the plot, where there is room
    ax.annotate(f"best {curve.name} {by:.4g}\n{xlabel} {bx:.4g}", xy=(bx, by),
                xytext=(-14 if left else 14, 18 if not higher else -26), textcoords="offset points",
                ha="right" if left else "left", fontsize=8, arrowprops=dict(arrowstyle="-", color="0.3", lw=0.8),
                bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="0.7", alpha=0.9))
    return bx, by


def _metric_label(curves):
    """"accuracy" for train accuracy, val_accuracy and accuracy per step: the metrics' own names."""
    names = []
    for c in curves:
        if c.role == "metric":
            name = c.name.removesuffix(" per step")
            for prefix in ("val_", "val ", "train_", "train "):
                name = name.removeprefix(prefix)
            names.append(name)
    names = dict.fromkeys(names)
    return ", ".join(names)[:40]


def _draw(ax, curves, smooth):
    for i, c in enumerate(curves):
        color = f"C{i % 10}"
        if c.per_step and smooth > 0 and c.role != "lr":  # a schedule is exact: nothing to smooth
            ax.plot(c.x, c.y, color=color, alpha=0.25, linewidth=0.8, label=f"_{c.name} raw")
            c.shown = ema(c.y, smooth)
        few = not c.per_step and len(c.x) <= _FEW_POINTS
        ax.plot(c.x, c.shown, color=color, linewidth=1.8 if not c.per_step else 1.4, label=c.name,
                marker="o" if few else None, markersize=4)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)


def _axes_for(ax, roles, figsize, dpi):
    """{role: Axes}: a new stack of panels, the caller's sequence of axes, or one Axes for the main panel."""
    if ax is None:
        heights = [3] + [_HEIGHTS[r] for r in roles[1:]]
        figsize = figsize or (7, 1.3 + 0.9 * sum(heights))  # 4 inches tall for the loss alone
        fig, axes = figure(None, nrows=len(roles), figsize=figsize, dpi=dpi, sharex=True,
                           gridspec_kw=dict(height_ratios=heights))
        return fig, dict(zip(roles, np.atleast_1d(axes))), True
    axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axes) == 1:
        return axes[0].figure, {roles[0]: axes[0]}, False  # one Axes: the main panel only
    if len(axes) < len(roles):
        raise ValueError(f"plot_history: {len(axes)} axes given for {len(roles)} panels ({', '.join(roles)}); "
                         f"pass one Axes (it gets the {roles[0]} panel only) or {len(roles)}")
    return axes[0].figure, dict(zip(roles, axes)), False


def plot_history(history, path=None, *, ax=None, title=None, smooth=0.9, logy=False, xlabel=None, ylabel=None,
                 best="auto", figsize=None, dpi=110):
    """Draw a run's curves; returns the matplotlib Figure (and writes ``path`` when given).

    history: a History (``rnn.train.fit``, ``rnn.keras``: ``.history`` {name: one value per
        epoch}, ``.epoch``, optionally ``.batch_history``), or a dict {name: values} where
        values are numbers (drawn at x = 1, 2, ...) or (x, y) pairs (e.g. {"val loss":
        [(500, 2.0), (1000, 1.0)]}: one line).
    smooth: EMA factor for per-step curves (a History's batch_history; in a dict, a curve of
        100 points or more, or 5x the points of the sparsest curve); 0 draws them raw.
    logy: log scale on the main (loss) panel. xlabel: "epoch" (or "step" for a dict of
        pairs) by default; ylabel: the main panel's, "loss" by default.
    best: "auto" (val loss, else loss), a curve's name, or None: the curve whose best
        value is marked (lowest, or highest for accuracies, auc, precision, recall, f1).
    ax: one Axes draws the main panel only (losses, or the metrics when there is no loss);
        a sequence of axes gets one panel each (losses, metrics, learning rate).
    figsize, dpi: of a new figure (the PNG is figsize * dpi pixels).
    """
    if not 0 <= smooth < 1:
        raise ValueError(f"plot_history: smooth must be in [0, 1) (the EMA factor; 0 = no smoothing), got {smooth!r}")
    if isinstance(history, Mapping):
        curves, default_xlabel = _from_dict(history)
    elif hasattr(history, "history"):
        curves, default_xlabel = _from_history(history)
    else:
        raise TypeError(f"plot_history: expected a History (with .history and .epoch) or a dict {{name: values}}, "
                        f"got {type(history).__name__}")
    if not curves:
        raise ValueError("plot_history: the history is empty: no curve to draw (nothing was logged yet, or only "
                         f"{', '.join(_NOT_PLOTTED)})")
    xlabel = xlabel or default_xlabel
    roles = [r for r in ("loss", "metric", "lr") if any(c.role == r for c in curves)]
    marked = _best_curve(curves, best)  # checked before anything is drawn
    fig, panels, own = _axes_for(ax, roles, figsize, dpi)
    for role, a in panels.items():
        _draw(a, [c for c in curves if c.role == role], smooth)
    from matplotlib.ticker import MaxNLocator
    main = panels[roles[0]]
    for role, a in panels.items():
        # whole epochs (or steps) on the x axis; MaxNLocator falls back to fractions on a short range
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.set_ylabel({"loss": ylabel or "loss", "lr": "learning rate"}.get(role) or _metric_label(curves))
    lo, hi = min(c.x.min() for c in curves), max(c.x.max() for c in curves)
    if lo == hi:  # one epoch: a range around it, so that it still has whole-number ticks
        main.set_xlim(lo - 1, hi + 1)
    if logy:
        main.set_yscale("log")
    lr = panels.get("lr")
    if lr is not None:
        values = np.concatenate([c.y for c in curves if c.role == "lr"])
        if values.min() > 0 and values.max() >= 100 * values.min():
            lr.set_yscale("log")  # a schedule over orders of magnitude
    _mark_best(marked, curves, panels, xlabel)
    list(panels.values())[-1].set_xlabel(xlabel)
    if title:
        main.set_title(title)
    return finish(fig, path, own=own)
