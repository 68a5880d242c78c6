"""Metrics by Keras name: the mean over all examples of a per-example value.

``"accuracy"`` (or ``"acc"``) is chosen as Keras chooses it, from the loss and the
output: binary accuracy for a binary cross-entropy or a single output unit, sparse
categorical accuracy for integer targets, categorical accuracy for one-hot targets.
Predictions are probabilities (the model's outputs), so binary accuracy thresholds at 0.5.
"""
import numpy as np

import minigrad as mg


def _arrays(y_true, y_pred):
    t = y_true.numpy() if isinstance(y_true, mg.Tensor) else np.asarray(y_true)
    p = y_pred.numpy() if isinstance(y_pred, mg.Tensor) else np.asarray(y_pred)
    return t, p


def binary_accuracy(y_true, y_pred, threshold=0.5):
    t, p = _arrays(y_true, y_pred)
    if t.ndim == p.ndim - 1 and p.shape[-1] == 1:
        t = t[..., None]
    return ((p > threshold) == (t > 0.5)).mean(axis=-1)


def categorical_accuracy(y_true, y_pred):
    t, p = _arrays(y_true, y_pred)
    return (p.argmax(axis=-1) == t.argmax(axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    t, p = _arrays(y_true, y_pred)
    if t.ndim == p.ndim:
        t = t[..., 0]
    return (p.argmax(axis=-1) == t).astype(np.float64)


def mean_squared_error(y_true, y_pred):
    t, p = _arrays(y_true, y_pred)
    if t.ndim == p.ndim - 1 and p.shape[-1] == 1:
        t = t[..., None]
    return ((p - t) ** 2).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    t, p = _arrays(y_true, y_pred)
    if t.ndim == p.ndim - 1 and p.shape[-1] == 1:
        t = t[..., None]
    return np.abs(p - t).mean(axis=-1)


_BY_NAME = {"binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
            "sparse_categorical_accuracy": sparse_categorical_accuracy, "mse": mean_squared_error,
            "mean_squared_error": mean_squared_error, "mae": mean_absolute_error,
            "mean_absolute_error": mean_absolute_error}
ACCURACY = ("accuracy", "acc")


def get(metric, loss_name=None, output_units=None):
    """(name in the logs, function (y_true, y_pred) -> per-example numpy values)."""
    if isinstance(metric, str):
        key = metric.lower()
        if key in ACCURACY:
            if loss_name == "binary_crossentropy" or (output_units == 1 and loss_name != "sparse_categorical_"
                                                      "crossentropy"):
                return metric, binary_accuracy
            if loss_name == "sparse_categorical_crossentropy":
                return metric, sparse_categorical_accuracy
            return metric, categorical_accuracy
        if key in _BY_NAME:
            return metric, _BY_NAME[key]
        raise ValueError(f"unknown metric {metric!r}; accepted: accuracy, acc, {', '.join(sorted(_BY_NAME))} or "
                         "a function (y_true, y_pred) -> per-example values")
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    raise TypeError(f"a metric is a name or a function (y_true, y_pred), got {type(metric).__name__}")
