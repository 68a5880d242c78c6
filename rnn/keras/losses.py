"""Losses by Keras name, with Keras's semantics: predictions are probabilities unless
``from_logits=True``.

Each loss gives one value per example (or per example and step, for sequence outputs),
averaged over the last axis where Keras does (mse, mae, ...); the model averages those
over the batch, skipping masked steps. The cross-entropies of probabilities clip them to
[1e-7, 1 - 1e-7], as Keras does. When a model's last layer is a softmax (or sigmoid)
and its loss the matching cross-entropy on probabilities, the model computes the loss
from the logits instead (``Sequential`` asks ``fuses_with``): the same value, without
the log of a rounded probability, and with the simple gradient softmax(z) - y.

    name(s)                                          y_true             y_pred
    mse, mean_squared_error                          like y_pred        any
    mae, mean_absolute_error                         like y_pred        any
    mape, mean_absolute_percentage_error             like y_pred        any
    msle, mean_squared_logarithmic_error             like y_pred        any
    huber                                            like y_pred        any
    binary_crossentropy                              0/1, like y_pred   probabilities (sigmoid)
    categorical_crossentropy                         one-hot (..., C)   probabilities (..., C)
    sparse_categorical_crossentropy                  ids (...,)         probabilities (..., C)
"""
import numpy as np

import minigrad as mg

EPSILON = 1e-7


class Loss:
    """Base: ``per_example(y_true, y_pred)`` -> Tensor; ``loss(y_true, y_pred)`` -> scalar mean."""

    name = None
    fuses_with = None   # the output activation whose logits this loss can take directly
    from_logits = False

    def per_example(self, y_true, y_pred):
        raise NotImplementedError

    def per_example_from_logits(self, y_true, logits):
        raise NotImplementedError

    def check_targets(self, y_true, output_shape):
        """Raise a clear error when targets of this shape cannot go with this output (before training)."""
        t, o = tuple(y_true.shape), tuple(output_shape)
        if t != o and not (len(t) == len(o) - 1 and o[-1] == 1 and t == o[:-1]):
            raise ValueError(f"loss {self.name!r}: targets {t} do not fit the model's output {o}; for this loss "
                             f"they must have the output's shape {('(N, ...)' if len(o) > 1 else '(N,)')}, e.g. "
                             f"{(t[0],) + o[1:]}")

    def _like(self, y_true, y_pred):
        """y_true as a float tensor shaped like y_pred (Keras adds the trailing axis of 1)."""
        y = y_true if isinstance(y_true, mg.Tensor) else mg.tensor(np.asarray(y_true))
        if y.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
            y = y.unsqueeze(-1)
        return y.astype(y_pred.dtype) if y.dtype != y_pred.dtype else y

    def __call__(self, y_true, y_pred):
        return self.per_example(y_true, y_pred).mean()

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})" if self.fuses_with else \
            f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def per_example(self, y_true, y_pred):
        d = y_pred - self._like(y_true, y_pred)
        return (d * d).mean(axis=-1)


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def per_example(self, y_true, y_pred):
        return mg.abs(y_pred - self._like(y_true, y_pred)).mean(axis=-1)


class MeanAbsolutePercentageError(Loss):
    name = "mean_absolute_percentage_error"

    def per_example(self, y_true, y_pred):
        y = self._like(y_true, y_pred)
        return (mg.abs(y - y_pred) / mg.clip(mg.abs(y), EPSILON, None)).mean(axis=-1) * 100


class MeanSquaredLogarithmicError(Loss):
    name = "mean_squared_logarithmic_error"

    def per_example(self, y_true, y_pred):
        y = self._like(y_true, y_pred)
        d = mg.log(mg.clip(y_pred, EPSILON, None) + 1) - mg.log(mg.clip(y, EPSILON, None) + 1)
        return (d * d).mean(axis=-1)


class Huber(Loss):
    """0.5 d^2 where |d| <= delta, delta (|d| - 0.5 delta) beyond."""

    name = "huber"

    def __init__(self, delta=1.0):
        self.delta = float(delta)

    def per_example(self, y_true, y_pred):
        d = mg.abs(y_pred - self._like(y_true, y_pred))
        quad = mg.minimum(d, self.delta)
        return (0.5 * quad * quad + self.delta * (d - quad)).mean(axis=-1)


class _Crossentropy(Loss):
    """A cross-entropy: of probabilities (clipped, as Keras), or of logits with ``from_logits``."""

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def per_example(self, y_true, y_pred):
        if self.from_logits:
            return self.per_example_from_logits(y_true, y_pred)
        return self.per_example_from_probabilities(y_true, y_pred)

    def per_example_from_probabilities(self, y_true, probs):
        raise NotImplementedError


class BinaryCrossentropy(_Crossentropy):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis; p = sigmoid(logits) when from_logits."""

    name, fuses_with = "binary_crossentropy", "sigmoid"

    def per_example_from_probabilities(self, y_true, probs):
        y = self._like(y_true, probs)
        p = mg.clip(probs, EPSILON, 1 - EPSILON)
        return -(y * mg.log(p) + (1 - y) * mg.log(1 - p)).mean(axis=-1)

    def per_example_from_logits(self, y_true, logits):
        y = self._like(y_true, logits)
        return mg.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(axis=-1)


class CategoricalCrossentropy(_Crossentropy):
    """-sum y log p over the classes (last axis), y one-hot (or any distribution)."""

    name, fuses_with = "categorical_crossentropy", "softmax"

    def per_example_from_probabilities(self, y_true, probs):
        y = self._like(y_true, probs)
        p = probs / probs.sum(axis=-1, keepdims=True)
        return -(y * mg.log(mg.clip(p, EPSILON, 1 - EPSILON))).sum(axis=-1)

    def per_example_from_logits(self, y_true, logits):
        return -(self._like(y_true, logits) * mg.log_softmax(logits, axis=-1)).sum(axis=-1)


class SparseCategoricalCrossentropy(_Crossentropy):
    """-log p[y] for integer class ids y (...,) against probabilities (..., C) (renormalised to sum
    to 1, then clipped, as Keras does)."""

    name, fuses_with = "sparse_categorical_crossentropy", "softmax"

    def check_targets(self, y_true, output_shape):
        t, o = tuple(y_true.shape), tuple(output_shape)
        ok = t == o[:-1] or (t == o[:-1] + (1,))
        if not ok:
            raise ValueError(f"loss 'sparse_categorical_crossentropy': targets {t} do not fit the model's output "
                             f"{o}; give one class id per example: targets {o[:-1]} (for one-hot targets use "
                             "'categorical_crossentropy')")
        arr = y_true.numpy() if isinstance(y_true, mg.Tensor) else np.asarray(y_true)
        if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
            raise ValueError("loss 'sparse_categorical_crossentropy': targets must be integer class ids, got "
                             "non-integer values")
        if arr.size and (arr.min() < 0 or arr.max() >= o[-1]):
            raise ValueError(f"loss 'sparse_categorical_crossentropy': class ids must be in [0, {o[-1]}) for an "
                             f"output of {o[-1]} classes, got {int(arr.min() if arr.min() < 0 else arr.max())}")

    def _ids(self, y_true, y_pred):
        arr = y_true.numpy() if isinstance(y_true, mg.Tensor) else np.asarray(y_true)
        arr = arr.astype(np.int64)
        if arr.ndim == y_pred.ndim:  # (..., 1)
            arr = arr[..., 0]
        return arr

    def per_example_from_probabilities(self, y_true, probs):
        ids = self._ids(y_true, probs)
        flat = probs.reshape(-1, probs.shape[-1])
        flat = flat / flat.sum(axis=-1, keepdims=True)  # as Keras: the probabilities renormalised first
        picked = flat[np.arange(flat.shape[0]), ids.reshape(-1)]
        return -mg.log(mg.clip(picked, EPSILON, 1 - EPSILON)).reshape(*ids.shape)

    def per_example_from_logits(self, y_true, logits):
        ids = self._ids(y_true, logits)
        flat = logits.reshape(-1, logits.shape[-1])
        return mg.cross_entropy(flat, mg.tensor(ids.reshape(-1)), reduction="none").reshape(*ids.shape)


_BY_NAME = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
            "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
            "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
            "msle": MeanSquaredLogarithmicError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
            "huber": Huber, "huber_loss": Huber,
            "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
            "categorical_crossentropy": CategoricalCrossentropy,
            "sparse_categorical_crossentropy": SparseCategoricalCrossentropy}


def get(loss):
    """A Loss from a Keras name (any case, e.g. "MSE"), a Loss, or a function (y_true, y_pred) -> per-example Tensor."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in _BY_NAME:
        return _BY_NAME[loss.lower()]()
    if callable(loss) and not isinstance(loss, type):
        return _FunctionLoss(loss)
    raise ValueError(f"unknown loss {loss!r}; accepted: {', '.join(sorted(_BY_NAME))}, a Loss object "
                     "(e.g. SparseCategoricalCrossentropy(from_logits=True)) or a function (y_true, y_pred)")


class _FunctionLoss(Loss):
    """A user's function (y_true, y_pred) -> Tensor (per example, or already a scalar)."""

    def __init__(self, fn):
        self.fn, self.name = fn, getattr(fn, "__name__", "loss")

    def per_example(self, y_true, y_pred):
        y = y_true if isinstance(y_true, mg.Tensor) else mg.tensor(np.asarray(y_true))
        return self.fn(y, y_pred)

    def check_targets(self, y_true, output_shape):
        pass


# Keras's function names: keras.losses.mean_squared_error(y_true, y_pred) -> per-example values
def mean_squared_error(y_true, y_pred):
    return MeanSquaredError().per_example(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return MeanAbsoluteError().per_example(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    return BinaryCrossentropy(from_logits).per_example(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    return CategoricalCrossentropy(from_logits).per_example(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    return SparseCategoricalCrossentropy(from_logits).per_example(y_true, y_pred)


mse, mae = mean_squared_error, mean_absolute_error
