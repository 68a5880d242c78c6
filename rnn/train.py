"""A training loop for people coming from Keras: ``history = fit(model, x, y, ...)``.

    history = rnn.train.fit(model, x_train, y_train, loss="mse", optimizer="adam",
                            epochs=20, batch_size=64, validation_data=(x_val, y_val))
    history.history["val_loss"]      # one number per epoch
    history.plot("curve.png")

``model`` is any minigrad Module mapping a batch of inputs to predictions. Inputs and
targets are numpy arrays or tensors whose first axis indexes examples; ``lengths=``
(one per example) is passed on to the model for padded sequences.

The losses follow PyTorch: the classification losses take **logits**, so the model ends
with a plain ``nn.Linear`` (apply ``mg.softmax`` / ``mg.sigmoid`` to ``predict``'s output
for probabilities). A model that ends with ``nn.Softmax`` or ``nn.Sigmoid`` under such a
loss is refused, since it would train towards nothing. For Keras's conventions
(probabilities, ``Dense(activation='softmax')``), use ``rnn.keras``.
"""
import math
import time
import warnings

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.random import generator

from .callbacks import EarlyStopping, History  # noqa: F401  (rnn.train.EarlyStopping, as before)
from .loop import TrainingLoop, distributed_run, resume_path

__all__ = ["fit", "evaluate", "predict", "accuracy", "History", "EarlyStopping"]

_LOSSES = {"mse": nn.functional.mse_loss, "mean_squared_error": nn.functional.mse_loss,
           "mae": nn.functional.l1_loss, "mean_absolute_error": nn.functional.l1_loss, "l1": nn.functional.l1_loss,
           "cross_entropy": nn.functional.cross_entropy, "sparse_categorical_crossentropy": nn.functional.cross_entropy,
           "bce_with_logits": nn.functional.binary_cross_entropy_with_logits,
           "binary_crossentropy": nn.functional.binary_cross_entropy_with_logits}
# the losses above that take logits: a model ending in a probability layer cannot learn under them
_LOGIT_LOSSES = {nn.functional.cross_entropy, nn.functional.binary_cross_entropy_with_logits}
_OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
               "adagrad": optim.Adagrad}


def accuracy(pred, y):
    """Fraction of correct predictions: argmax over classes, or logit > 0 for one output."""
    p = pred.numpy()
    t = y.numpy()
    if p.ndim == t.ndim + 1:
        return float((p.argmax(axis=-1) == t).mean())
    return float(((p > 0) == (t > 0.5)).mean())


_METRICS = {"accuracy": accuracy, "acc": accuracy,
            "mae": lambda p, y: float(np.abs(p.numpy() - y.numpy()).mean())}


def _as_tensor(a):
    return a if isinstance(a, mg.Tensor) else mg.tensor(np.asarray(a))


def _named(kind, name, table):
    """table[name], or an error listing the accepted names."""
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; accepted: {', '.join(sorted(table))}"
                         + (" or a function (pred, y) -> scalar tensor" if kind == "loss" else ""))
    return table[name]


def _loss_fn(loss):
    return _named("loss", loss, _LOSSES) if isinstance(loss, str) else loss


def _metric_names(metrics):
    """A tuple of known metric names (one name alone is one metric, not its letters)."""
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics or ())
    for m in metrics:
        _named("metric", m, _METRICS)
    return metrics


def _layers(model):
    """(first, last) leaf layer of an nn.Sequential model (nested ones too); (None, None) otherwise."""
    first = last = model
    while isinstance(first, nn.Sequential) and len(first):
        first = first[0]
    while isinstance(last, nn.Sequential) and len(last):
        last = last[len(last) - 1]
    return (None, None) if first is model else (first, last)


def _check_model(model, x, loss_fn, lengths, what):
    """Refuse the silent traps of a PyTorch-style model: a probability output under a logits
    loss, a 2-D input to a recurrent first layer; warn when padding looks unannounced."""
    from .layers import _RNNBase
    first, last = _layers(model)
    if loss_fn in _LOGIT_LOSSES and isinstance(last, (nn.Softmax, nn.Sigmoid, nn.LogSoftmax)):
        raise ValueError(f"{what}: the loss takes logits (rnn.train follows PyTorch) but the model ends with "
                         f"{type(last).__name__}: remove that last layer (apply mg.softmax / mg.sigmoid to "
                         "predictions for probabilities), or build the model with rnn.keras, whose losses take "
                         "probabilities")
    recurrent = isinstance(first, _RNNBase) or (first is None and isinstance(model, _RNNBase))
    if recurrent and x.ndim == 2:
        raise ValueError(f"{what}: x has shape {tuple(x.shape)}, one row per example, but a recurrent layer "
                         "takes each example as (steps, features): add a feature axis (x[..., None] for one "
                         "feature per step); for one unbatched sequence, call the model on it directly")
    if recurrent and lengths is None and x.ndim == 3 and len(x) > 1:
        blank = (x.numpy() == 0).all(axis=-1)  # (N, T): all-zero steps
        ends_blank = blank[:, -1]
        # Padding is all-zero steps at the end only; where zero steps also come before real ones
        # (0/1 data, a signal that crosses zero), the zeros are data and nothing is said.
        inside = (blank[:, :-1] & ~blank[:, 1:]).sum()
        if ends_blank.mean() >= 0.1 and not ends_blank.all() and inside <= 0.01 * blank.sum():
            warnings.warn(f"{what}: {ends_blank.mean():.0%} of the sequences end with an all-zero step, as "
                          "post-padded batches do; without lengths= the recurrent layer reads the padding as "
                          "data and its last output is taken after it. Pass lengths= (one per example).",
                          stacklevel=3)


def _check_finite(name, t):
    """Refuse NaN or inf in a float array, naming the first place."""
    arr = t.numpy()
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"fit: {name} holds {arr[first]} at index {first}; clean or drop those examples first")


def _check_optimizer(optimizer, model):
    """The optimizer must update this model's parameters (not another model's)."""
    mine = {id(p) for p in model.parameters()}
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if mine and not mine & held:
        raise ValueError(f"fit: the optimizer holds none of the model's {len(mine)} parameters (it was built for "
                         "another model?); create it with model.parameters(), or pass its name")
    missing = len(mine - held)
    if missing:
        warnings.warn(f"fit: the optimizer does not hold {missing} of the model's {len(mine)} parameters; they will "
                      "not be trained", stacklevel=3)


def _check_lengths(lengths, n, what):
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.shape != (n,):
        raise ValueError(f"{what}: lengths must have one entry per example, shape ({n},), got {lengths.shape}")
    return lengths


def _batches(n, batch_size, shuffle, run=None):
    """The epoch's batches of indices; in data-parallel training (``run``) rank 0's order on every rank."""
    order = generator().permutation(n) if shuffle else np.arange(n)
    if run is not None and shuffle:
        order = run.same_order(order)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _device_of(model):
    """Where the model's parameters live ("cpu" for a model without any): each batch goes there."""
    return next((p.device for p in model.parameters()), "cpu")


def _forward(model, x, lengths, idx, device):
    """The model's output for the examples ``idx``, moved to ``device`` (the model's): the data
    set stays where it is, one batch at a time moves."""
    xb = x[idx].to(device)
    if lengths is None:
        return model(xb)
    return model(xb, lengths=lengths[idx])


def evaluate(model, x, y, loss="mse", batch_size=256, metrics=(), lengths=None):
    """Mean loss (and metrics) over a data set, in eval mode and without a graph."""
    loss_fn = _loss_fn(loss)
    metrics = _metric_names(metrics)
    x, y = _as_tensor(x), _as_tensor(y)
    lengths = _check_lengths(lengths, len(x), "evaluate")
    _check_model(model, x, loss_fn, lengths, "evaluate")
    was_training = model.training
    model.eval()
    totals, n = {"loss": 0.0, **{m: 0.0 for m in metrics}}, len(x)
    device = _device_of(model)
    with mg.no_grad():
        for idx in _batches(n, batch_size, shuffle=False):
            pred, target = _forward(model, x, lengths, idx, device), y[idx].to(device)
            totals["loss"] += loss_fn(pred, target).item() * len(idx)
            for m in metrics:
                totals[m] += _METRICS[m](pred, target) * len(idx)
    model.train(was_training)
    return {k: v / n for k, v in totals.items()}


def predict(model, x, batch_size=256, lengths=None):
    """Keras's ``model.predict``: the model's outputs for every example, as one numpy array.

    Runs in eval mode (dropout off) without recording a graph, ``batch_size`` examples
    at a time (so a large data set never needs one huge activation), and restores the
    model's training mode afterwards. ``lengths``: per-example lengths of a padded batch.
    """
    x = _as_tensor(x)
    lengths = _check_lengths(lengths, len(x), "predict")
    _check_model(model, x, None, lengths, "predict")
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            device = _device_of(model)
            parts = [_forward(model, x, lengths, idx, device).numpy() for idx in _batches(len(x), batch_size, False)]
    finally:
        model.train(was_training)
    return np.concatenate(parts, axis=0) if parts else np.empty((0,))


def _validate(model, validation_data, loss_fn, batch_size, metrics, run):
    """The validation logs: this process's whole set, or in data-parallel training each rank's
    share, combined into the means over the whole set."""
    vx, vy, *vl = validation_data
    vl = vl[0] if vl else None
    if run is None:
        val = evaluate(model, vx, vy, loss_fn, batch_size, metrics, vl)
    else:
        vx, vy = _as_tensor(vx), _as_tensor(vy)
        val = run.evaluate_share(len(vx), ["loss", *metrics], lambda mine: evaluate(
            model, vx[mine], vy[mine], loss_fn, batch_size, metrics, None if vl is None else np.asarray(vl)[mine]))
    return {f"val_{k}": v for k, v in val.items()}


def fit(model, x, y, loss="mse", optimizer="adam", lr=None, epochs=10, batch_size=32, validation_data=None,
        validation_split=0.0, metrics=(), lengths=None, clip_norm=None, scheduler=None, callbacks=(),
        checkpoint=None, resume=None, initial_epoch=0, shuffle=True, verbose=1, distributed=False):
    """Train ``model`` and return a ``History``.

    loss: a name ("mse", "mae", "cross_entropy", "bce_with_logits", or Keras's names, which
      here take logits too) or a function (pred, y) -> scalar tensor. optimizer: a name or
      an Optimizer. metrics: a name or names from {"accuracy", "acc", "mae"}.
      validation_data: (x, y) or (x, y, lengths);
      validation_split takes that fraction from the END of the data (no shuffling
      first, so time series stay honest). clip_norm: global gradient-norm clipping.
      scheduler: an LR scheduler (stepped per epoch; ReduceLROnPlateau gets val_loss).
      callbacks: ``rnn.callbacks`` objects (EarlyStopping, ModelCheckpoint, CSVLogger,
      LivePlot, ...) or functions (model, logs) -> True to stop.
      checkpoint: a path; the whole training state (weights, optimizer, scheduler,
      random and callback states, the History) is written there atomically after every
      epoch. resume: a checkpoint to continue from (``True``: ``checkpoint``'s file if it
      exists, else start afresh): the run then gives the losses an uninterrupted run
      would have, bit for bit. initial_epoch: the epoch to start counting from (Keras's).
      verbose: 0 silent, 1 a progress bar per epoch (tqdm, shown only on a terminal) and a
      line per epoch, 2 the line only (as Keras's verbose=2; for logs and notebooks).
      distributed: data-parallel training over MPI (run the script under ``mpiexec -n R``;
      a model wrapped in ``minigrad.distributed.DataParallel`` implies it). Every rank
      holds the data; ``batch_size`` is the global batch, of which each rank computes
      every R-th example, and the gradients are averaged so that R ranks train exactly
      like one process. Rank 0 alone prints and writes checkpoints; every rank resumes.

    Ctrl-C stops after the current batch and returns the History so far
    (``history.interrupted`` is then True); the interrupted epoch is not checkpointed.
    """
    loss_fn = _loss_fn(loss)
    metrics = _metric_names(metrics)
    run = distributed_run(model, distributed, "fit")
    if run is not None:
        model = run.model.module  # the bare model: the checks below look into its layers
    x, y = _as_tensor(x), _as_tensor(y)
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} examples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError("fit: no training examples (x is empty)")
    for label, v, least in (("batch_size", batch_size, 1), ("epochs", epochs, 0), ("initial_epoch", initial_epoch, 0)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < least:
            raise ValueError(f"fit: {label} must be an int >= {least}, got {v!r}")
    resume = resume_path(resume, checkpoint, initial_epoch)
    _check_finite("x", x)
    _check_finite("y", y)
    lengths = _check_lengths(lengths, len(x), "fit")
    _check_model(model, x, loss_fn, lengths, "fit")
    if validation_data is None and validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"fit: validation_split must be in (0, 1), the fraction held out, got "
                             f"{validation_split!r}")
        n_val = int(round(len(x) * validation_split))
        if n_val < 1 or n_val >= len(x):
            raise ValueError(f"fit: validation_split={validation_split} of {len(x)} examples leaves {n_val} for "
                             f"validation and {len(x) - n_val} for training; both need at least one")
        cut = len(x) - n_val
        validation_data = (x[cut:], y[cut:]) + (() if lengths is None else (lengths[cut:],))
        x, y = x[:cut], y[:cut]
        lengths = None if lengths is None else lengths[:cut]
    if isinstance(optimizer, str):
        kwargs = {} if lr is None else {"lr": lr}
        optimizer = _named("optimizer", optimizer, _OPTIMIZERS)(model.parameters(), **kwargs)
    _check_optimizer(optimizer, model)
    params = list(model.parameters())
    device = _device_of(model)
    loop = TrainingLoop(model, optimizer, callbacks, scheduler=scheduler, verbose=verbose, distributed=run,
                        params={"epochs": epochs, "steps": math.ceil(len(x) / batch_size), "batch_size": batch_size})
    if checkpoint is not None:
        loop.checkpoint_paths.append(checkpoint)
    if run is not None and verbose and run.is_main:
        print(f"fit: {run.describe()}", flush=True)
    with loop.running(initial_epoch, resume):
        for epoch in range(loop.epoch, epochs):
            model.train()
            start = time.perf_counter()
            loop.epoch_begin(epoch)
            for batch_no, idx in enumerate(_batches(len(x), batch_size, shuffle, run)):
                loop.batch_begin(batch_no)
                mine = idx if run is None else run.share(idx)  # data-parallel: this rank's part of the batch
                optimizer.zero_grad()
                values = {"loss": 0.0, **{m: 0.0 for m in metrics}}  # (a rank with no part adds nothing)
                if len(mine):
                    pred, target = _forward(model, x, lengths, mine, device), y[mine].to(device)
                    batch_loss = loss_fn(pred, target)
                    values = {"loss": batch_loss.item(), **{m: _METRICS[m](pred, target) for m in metrics}}
                    loop.backward(batch_loss, values["loss"], len(mine), len(idx))
                values, size = loop.combine_batch(values, len(mine))  # data-parallel: over all ranks
                if not loop.step_is_finite(values["loss"], params, epoch, batch_no):  # before the step
                    break
                if clip_norm is not None:
                    optim.clip_grad_norm_(params, clip_norm)
                optimizer.step()
                if loop.batch_end(batch_no, values, size):
                    break
            if loop.stop and loop.batch:  # Ctrl-C or a callback in the middle of the epoch
                break
            logs = loop.means()
            if validation_data is not None:
                logs.update(_validate(model, validation_data, loss_fn, max(batch_size, 256), metrics, run))
            logs["lr"] = optimizer.param_groups[0]["lr"]
            logs["time"] = time.perf_counter() - start
            if scheduler is not None:
                scheduler.step(logs.get("val_loss", logs["loss"])) if isinstance(scheduler, optim.ReduceLROnPlateau) \
                    else scheduler.step()
            loop.epoch_end(epoch, logs)
            if loop.stop:
                break
    return loop.history
