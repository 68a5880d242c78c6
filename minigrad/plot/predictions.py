"""Forecasts against what happened: the observed series, one or several models'
predictions, and where the test part begins.

    plot_predictions(y_test, model(x_test), "forecast.png")
    plot_predictions(series, {"LSTM": pred, "naive": naive}, x=dates, split=dates[n_train])
    plot_predictions(series, forecasts, horizons=(1, 26))    # forecasts: (N, 26)

How a prediction lines up with ``y_true`` (the series, shape (T,)):

* shape (N,): one value per time step, for the *last* N steps of y_true (all of it when
  N == T), as a model's predictions for a test period at the end of the series;
* shape (N, H): forecasts from N consecutive origins, each H steps ahead; row i's step
  h (1..H) forecasts ``y_true[start + i + h - 1]``, and by default ``start`` puts the last
  row's last step on the last value of y_true. The line of horizon h joins every
  h-step-ahead forecast at the time it forecasts, so "1 step ahead" and "26 steps ahead"
  can be compared with the truth, and with each other, at the same dates.

``start=`` (the index of y_true that row 0's first step forecasts) overrides that rule.
"""
from collections.abc import Mapping

import numpy as np

from ._figure import figure, finish


def _array(name, a):
    """A float array from numbers, a numpy array or a tensor; a clear error otherwise."""
    a = a.numpy() if hasattr(a, "numpy") else a
    try:
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"plot_predictions: {name} must hold numbers, got {type(a).__name__}") from None


def _series(y_true):
    y = _array("y_true", y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) == 0:
        hint = (" For the targets of (N, H) forecasts, pass the series itself: y[:, 0] followed by y[-1, 1:]."
                if y.ndim == 2 else "")
        raise ValueError(f"plot_predictions: y_true must be the observed series, shape (T,) with T >= 1; got shape "
                         f"{y.shape}.{hint}")
    return y


def _forecasts(name, y_pred):
    """(N, H) and whether it was given as one value per step (N,)."""
    p = _array(f"y_pred[{name!r}]", y_pred)
    if p.ndim == 3 and p.shape[2] == 1:
        p = p[:, :, 0]
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"plot_predictions: y_pred[{name!r}] has shape {np.shape(y_pred)}; expected (N,) one value "
                         "per time step, or (N, H) forecasts from N origins, H steps ahead each")
    return p


def _start(name, p, T, start):
    """The index of y_true that row 0's first step forecasts, checked to keep every target inside y_true."""
    if start is not None and not isinstance(start, (int, np.integer)):
        raise TypeError(f"plot_predictions: start must be an index into y_true (an int), got {start!r}")
    n, h = p.shape
    span = n + h - 1  # time steps the forecasts cover
    s = T - span if start is None else start
    if s < 0 or s + span > T:
        how = "" if start is None else f" from start={start!r}"
        raise ValueError(f"plot_predictions: y_pred[{name!r}] of shape {p.shape} forecasts {span} time steps "
                         f"(N + H - 1){how}, which do not fit in y_true's {T}; pass the whole observed series as "
                         "y_true, or start= (the index of y_true that the first row forecasts first)")
    return int(s)


def _horizons(horizons, h, name):
    """1-based steps ahead to draw: the given ones, or the first and the last."""
    if h == 1:
        return (1,)
    chosen = tuple(horizons) if horizons is not None else tuple(sorted({1, h}))
    for k in chosen:
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= h:
            raise ValueError(f"plot_predictions: horizon {k!r} is outside 1..{h} (y_pred[{name!r}] forecasts "
                             f"{h} steps ahead)")
    return chosen


def _x_axis(x, T):
    if x is None:
        return np.arange(T)
    xs = np.asarray(x)
    if xs.shape != (T,):
        raise ValueError(f"plot_predictions: x has shape {xs.shape}; expected ({T},), one position per value of "
                         "y_true")
    if xs.dtype.kind not in "iufM":
        raise TypeError(f"plot_predictions: x must be numbers or datetime64, got dtype {xs.dtype}")
    return xs


def _split_at(xs, split):
    """The test part's first position, on x's scale (a date when x holds dates), checked to lie on x."""
    try:
        at = np.datetime64(split) if xs.dtype.kind == "M" else float(split)
    except (TypeError, ValueError):
        raise TypeError(f"plot_predictions: split={split!r} is not a position on x's scale "
                        f"({'dates' if xs.dtype.kind == 'M' else 'numbers'})") from None
    if not xs[0] <= at <= xs[-1]:
        raise ValueError(f"plot_predictions: split={split!r} is outside x's range {xs[0]} .. {xs[-1]}")
    return at


def _mark_split(ax, xs, at):
    """The boundary as a dashed line, the test part shaded, "train" and "test" written either side."""
    where = ax.convert_xunits(at)
    ax.axvspan(where, ax.convert_xunits(xs[-1]), color="0.5", alpha=0.12, zorder=0, label="_test part")
    ax.axvline(where, color="0.3", linestyle="--", linewidth=1.0, label="_split")
    top = ax.get_xaxis_transform()  # x in data, y in axes fractions
    ax.text(where, 0.97, "train  ", transform=top, ha="right", va="top", fontsize=9, color="0.3")
    ax.text(where, 0.97, "  test", transform=top, ha="left", va="top", fontsize=9, color="0.3")


def plot_predictions(y_true, y_pred, path=None, *, x=None, split=None, start=None, ax=None, title=None, labels=None,
                     horizons=None, xlabel=None, ylabel=None, figsize=(8, 4), dpi=110):
    """Draw the observed series and predictions of it; returns the matplotlib Figure.

    y_true: (T,) the series. y_pred: (N,) or (N, H) (see the module's docstring for how
        they line up), or a dict {name: array} of several models, one line each.
    x: (T,) positions of y_true (numbers or datetime64); 0..T-1 by default.
    split: where the test part begins, on x's scale (an index when x is not given): a
        dashed line, the test part shaded, and each line's MAE computed on the test part.
    horizons: steps ahead to draw for (N, H) forecasts, 1-based; default the first and last.
    labels: (name of the truth, name of a single prediction); default ("observed", "predicted").
    ax: draw into this Axes; figsize, dpi: of a new figure.
    """
    truth_label, pred_label = labels or ("observed", "predicted")
    true = _series(y_true)
    T = len(true)
    xs = _x_axis(x, T)
    preds = dict(y_pred) if isinstance(y_pred, Mapping) else {pred_label: y_pred}
    if not preds:
        raise ValueError("plot_predictions: y_pred is an empty dict; expected {name: predictions}")
    preds = {str(name): _forecasts(name, p) for name, p in preds.items()}
    if horizons is not None and all(p.shape[1] == 1 for p in preds.values()):
        raise ValueError("plot_predictions: horizons= chooses steps of (N, H) forecasts, but every y_pred has one "
                         "value per time step")
    at = _split_at(xs, split) if split is not None else None
    lines = []  # (label, time steps, values): everything is checked before anything is drawn
    for name, p in preds.items():
        s = _start(name, p, T, start)
        for h in _horizons(horizons, p.shape[1], name):
            idx = s + np.arange(len(p)) + h - 1  # the time step each forecast is about
            err = np.abs(p[:, h - 1] - true[idx])
            scored = np.isfinite(err) & (xs[idx] >= at if at is not None else True)
            label = name if p.shape[1] == 1 else f"{name}, {h} step{'s' if h > 1 else ''} ahead"
            if scored.any():
                label += f" (MAE{' on test' if at is not None else ''} {err[scored].mean():.3g})"
            lines.append((label, idx, p[:, h - 1]))
    own = ax is None
    fig, ax = figure(ax, figsize=figsize, dpi=dpi)
    ax.plot(xs, true, color="black", linewidth=1.5, label=truth_label)
    if at is not None:
        _mark_split(ax, xs, at)
    for i, (label, idx, values) in enumerate(lines):
        ax.plot(xs[idx], values, color=f"C{i % 10}", linewidth=1.2, label=label)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    ax.set_xlabel(xlabel or ("time step" if x is None else ""))
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return finish(fig, path, own=own)
