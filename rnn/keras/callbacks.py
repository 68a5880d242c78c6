"""Keras-style callbacks for ``Sequential.fit``: objects whose hooks run at fixed points.

    on_train_begin(logs)        on_train_end(logs)
    on_epoch_begin(epoch)       on_epoch_end(epoch, logs)     logs: loss, metrics, val_*
    on_train_batch_begin(batch) on_train_batch_end(batch, logs)

``self.model`` is the model being trained; setting ``self.model.stop_training = True``
ends training after the current epoch. ``History`` is added to every ``fit`` and
returned by it. Also here: ``EarlyStopping``, ``ModelCheckpoint`` (atomic files, best
only or every epoch, the last k kept), ``CSVLogger``, ``LearningRateScheduler``,
``ReduceLROnPlateau``, ``TerminateOnNaN`` and ``LambdaCallback``.
"""
import csv
import math
import os

import minigrad as mg


class Callback:
    """Base class: override the hooks you need (all do nothing here)."""

    def __init__(self):
        self.model, self.params = None, {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """``history.history["loss"]`` (one value per epoch), ``history.epoch``; ``history.plot(path)``."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def plot(self, path, title=None):
        """Losses and metrics per epoch, to a PNG (minigrad.plot_curves)."""
        return mg.plot_curves(dict(self.history), path, title=title)

    def __repr__(self):
        last = {k: round(v[-1], 5) for k, v in self.history.items()}
        return f"History({len(self.epoch)} epochs, last: {last})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` "min", "max" or "auto" (max for accuracies, else min); ``baseline``: stop unless
    the monitored value beats it; ``restore_best_weights``: put back the weights of the best
    epoch when stopping; ``start_from_epoch``: epochs to wait before counting."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.min_delta, self.patience, self.verbose = monitor, abs(min_delta), patience, verbose
        self.sign = _mode_sign(monitor, mode, "EarlyStopping")
        self.baseline, self.restore_best_weights, self.start_from_epoch = baseline, restore_best_weights, \
            start_from_epoch
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait, self.best_weights, self.best_epoch = 0, None, 0
        self.best = math.inf if self.baseline is None else self.sign * self.baseline

    def on_epoch_end(self, epoch, logs=None):
        value = self.sign * _monitored(logs, self.monitor, "EarlyStopping")
        if epoch < self.start_from_epoch:
            return
        if value < self.best - self.min_delta:
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping (best {self.monitor} at epoch {self.best_epoch + 1})")


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None):
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin), ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (fit also refuses to apply such a step)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


def _mode_sign(monitor, mode, who):
    """+1 when lower is better, -1 when higher is ("auto": higher for accuracies)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be auto, min or max, got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return 1 if mode == "min" else -1


def _monitored(logs, monitor, who):
    if monitor not in (logs or {}):
        raise KeyError(f"{who}: {monitor!r} is not in the logs (available: {', '.join(logs or {})}); val_* values "
                       "need validation_data or validation_split")
    return logs[monitor]


class ModelCheckpoint(Callback):
    """Save the weights after an epoch: every epoch, or only when ``monitor`` improved.

    ``filepath`` may hold Keras's fields, ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``
    (epoch counted from 1). Each file is written atomically (``save_weights``). ``keep``
    (an addition to Keras's arguments): keep only the newest ``keep`` files this callback
    wrote. Saving the whole model (``save_weights_only=False``) saves its weights too: a
    Sequential model is rebuilt from code, then ``load_weights``."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=True,
                 mode="auto", save_freq="epoch", initial_value_threshold=None, keep=None):
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint: save_freq must be 'epoch'")
        if keep is not None and (not isinstance(keep, int) or keep < 1):
            raise ValueError(f"ModelCheckpoint: keep must be a positive int or None, got {keep!r}")
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.keep = save_best_only, keep
        self.sign = _mode_sign(monitor, mode, "ModelCheckpoint")
        self.best = math.inf if initial_value_threshold is None else self.sign * initial_value_threshold
        self.written = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self.sign * _monitored(logs, self.monitor, "ModelCheckpoint")
            if not value < self.best:
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self.model.save_weights(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the weights to {path}")
        if path in self.written:
            self.written.remove(path)
        self.written.append(path)
        while self.keep is not None and len(self.written) > self.keep:
            old = self.written.pop(0)
            if os.path.exists(old):
                os.remove(old)


class CSVLogger(Callback):
    """One CSV row per epoch: the epoch (from 0, as Keras) and every logged value.

    The file is flushed after each row, so a crashed run keeps the epochs it finished;
    ``append=True`` continues an existing file (a resumed run)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.file = self.writer = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.keys = None
        if exists:
            with open(self.filename, encoding="utf-8") as f:
                self.keys = next(csv.reader(f, delimiter=self.separator))[1:]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.file.write(self.separator.join(["epoch"] + self.keys) + "\n")
        row = [str(epoch)] + [repr(float(logs[k])) if k in logs else "" for k in self.keys]
        self.file.write(self.separator.join(row) + "\n")
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None


def _get_lr(model):
    return model.optimizer.bound.param_groups[0]["lr"]


def _set_lr(model, lr):
    for group in model.optimizer.bound.param_groups:
        group["lr"] = float(lr)


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr`` (epoch from 0), applied before each epoch."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.schedule(epoch, _get_lr(self.model)))
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"LearningRateScheduler: the schedule gave learning rate {lr} at epoch {epoch}")
        _set_lr(self.model, lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by ``min_delta``
    for ``patience`` epochs; then wait ``cooldown`` epochs; never below ``min_lr``."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.sign = _mode_sign(monitor, mode, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = abs(min_delta), cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooling = math.inf, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = self.sign * _monitored(logs, self.monitor, "ReduceLROnPlateau")
        logs["learning_rate"] = _get_lr(self.model)
        if self.cooling:
            self.cooling -= 1
            self.wait = 0
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            return
        if self.cooling:
            return
        self.wait += 1
        if self.wait >= self.patience:
            new = max(_get_lr(self.model) * self.factor, self.min_lr)
            if new < _get_lr(self.model):
                _set_lr(self.model, new)
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau set the learning rate to {new:.6g}")
            self.cooling, self.wait = self.cooldown, 0
