"""A confusion matrix: how often each true class (a row) was predicted as each class (a column).

    plot_confusion(y_test, model(x_test), "confusion.png", labels=["negative", "positive"])

What ``y_pred`` may be, decided by its shape and dtype (never by its values alone):

* shape (N, C) with C >= 2: a score per class, logits or probabilities; the prediction
  is the class with the highest score (argmax over the last axis);
* shape (N,) of integers or booleans: class ids;
* shape (N,) of floats: one score per example for a binary problem; the prediction is
  class 1 where the score is above ``threshold``. By default that is 0.5 when every score
  lies in [0, 1] (probabilities) and 0 otherwise (logits: sigmoid(0) = 0.5). Logits that
  all happen to fall in [0, 1] would be read as probabilities: pass ``threshold=0``.

Float class ids of more than two classes (``[0., 2., 1.]``) are refused rather than
thresholded: pass them as integers. ``y_true`` holds class ids (whole numbers, any dtype),
or one-hot rows (N, C).
"""
import numpy as np

from ._figure import figure, finish

_NORMALIZE = {None: "count", "true": "fraction of the true class (recall on the diagonal)",
              "pred": "fraction of the predicted class (precision on the diagonal)", "all": "fraction of all"}


def _array(name, a):
    a = a.numpy() if hasattr(a, "numpy") else a
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"plot_confusion: {name} must hold numbers, got dtype {a.dtype}")
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.size == 0:
        raise ValueError(f"plot_confusion: {name} is empty (shape {a.shape})")
    return a


def _true_ids(y_true):
    """Class ids (N,) from ids or one-hot rows."""
    a = _array("y_true", y_true)
    if a.ndim == 2:
        a = a.argmax(axis=1)  # one-hot rows
    if a.ndim != 1:
        raise ValueError(f"plot_confusion: y_true has shape {a.shape}; expected class ids (N,) or one-hot rows (N, C)")
    whole = np.isfinite(a) & (a == np.round(a)) & (a >= 0)
    if not whole.all():
        i = int(np.argmin(whole))
        raise ValueError(f"plot_confusion: y_true[{i}] = {a[i].tolist()!r} is not a class id (a whole number >= 0)")
    return a.astype(np.int64)


def _pred_ids(y_pred, n_true, n_classes_true, threshold):
    """Class ids (N,) and the number of classes the scores imply (0 for ids); see the module's docstring."""
    a = _array("y_pred", y_pred)
    if a.ndim not in (1, 2) or len(a) != n_true:
        raise ValueError(f"plot_confusion: y_pred has shape {a.shape} and y_true {n_true} examples; expected (N,) "
                         f"class ids or scores, or (N, C) scores per class, with N = {n_true}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        i = int(np.argmin(np.isfinite(a).reshape(len(a), -1).all(axis=1)))
        raise ValueError(f"plot_confusion: y_pred[{i}] is not finite ({a[i].tolist()!r}); a diverged model has no prediction")
    if threshold is not None and not (a.ndim == 1 and a.dtype.kind == "f"):
        raise ValueError(f"plot_confusion: threshold= applies to binary scores, a float y_pred of shape (N,); this "
                         f"one has shape {a.shape} and dtype {a.dtype}")
    if a.ndim == 2:
        return a.argmax(axis=1), a.shape[1]
    if a.dtype.kind in "biu":
        if a.min() < 0:
            raise ValueError(f"plot_confusion: y_pred holds a negative class id ({a.min()})")
        return a.astype(np.int64), 0
    if n_classes_true > 2:
        raise ValueError(f"plot_confusion: a float y_pred of shape (N,) is read as binary scores, but y_true has "
                         f"{n_classes_true} classes; pass class ids as integers (y_pred.astype(int)) or scores of "
                         "shape (N, C)")
    if threshold is None:
        threshold = 0.5 if a.min() >= 0 and a.max() <= 1 else 0.0
    return (a > threshold).astype(np.int64), 2


def confusion_counts(y_true, y_pred, n_classes):
    """counts[i, j]: examples of true class i predicted as class j, (n_classes, n_classes)."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def _normalized(counts, normalize):
    if normalize is None:
        return counts.astype(float)
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    total = counts.sum(axis=axis, keepdims=axis is not None).astype(float)
    return np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)  # an empty row stays 0


def plot_confusion(y_true, y_pred, path=None, *, labels=None, normalize=None, threshold=None, ax=None, title=None,
                   cmap="Blues", figsize=None, dpi=110):
    """Draw the confusion matrix; returns the matplotlib Figure.

    y_true: class ids (N,) or one-hot (N, C). y_pred: class ids (N,), scores (N, C), or
        binary scores (N,) thresholded at ``threshold`` (see the module's docstring).
    labels: the classes' names, in id order (their number fixes the number of classes).
    normalize: None (counts), "true" (each row sums to 1: the diagonal is each class's
        recall), "pred" (each column sums to 1: precision) or "all" (the whole sums to 1).
    The title gives the accuracy; each cell its count (and fraction when normalized);
    the colour bar the scale. ax: draw into this Axes (the colour bar takes room beside it).
    """
    if normalize not in _NORMALIZE:
        raise ValueError(f"plot_confusion: normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    true = _true_ids(y_true)
    n_true_classes = int(true.max()) + 1
    pred, n_scores = _pred_ids(y_pred, len(true), max(n_true_classes, len(labels or ())), threshold)
    n = len(labels) if labels is not None else max(n_true_classes, int(pred.max()) + 1, n_scores)
    if max(n_true_classes, int(pred.max()) + 1, n_scores) > n:
        raise ValueError(f"plot_confusion: {len(labels)} labels, but the data has class ids up to "
                         f"{max(n_true_classes, int(pred.max()) + 1, n_scores) - 1}; expected one label per class")
    counts = confusion_counts(true, pred, n)
    values = _normalized(counts, normalize)
    names = [str(c) for c in labels] if labels is not None else [str(i) for i in range(n)]

    side = max(4.4, 0.5 * n + 2.2)
    own = ax is None
    fig, ax = figure(ax, figsize=figsize or (side + 0.8, side), dpi=dpi)
    vmax = 1.0 if normalize else max(1.0, float(values.max()))
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).set_label(_NORMALIZE[normalize], fontsize=8)
    if n <= 20:  # beyond that the numbers would not fit in their cells
        for i in range(n):
            for j in range(n):
                text = f"{counts[i, j]}" if normalize is None else f"{values[i, j]:.2f}\n({counts[i, j]})"
                ax.text(j, i, text, ha="center", va="center", fontsize=9 if n <= 8 else 7,
                        color="white" if values[i, j] > 0.5 * vmax else "black")
    ax.set_xticks(range(n), names, rotation=45 if n > 4 and max(map(len, names)) > 3 else 0,
                  ha="right" if n > 4 and max(map(len, names)) > 3 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    correct = int(np.trace(counts))
    accuracy = f"accuracy {correct / len(true):.1%} ({correct} of {len(true)})"
    ax.set_title(f"{title}\n{accuracy}" if title else accuracy, fontsize=10)
    return finish(fig, path, own=own)
