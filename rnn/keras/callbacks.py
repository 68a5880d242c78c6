"""Keras-style callbacks for ``Sequential.fit``: objects whose hooks run at fixed points.

    on_train_begin(logs)        on_train_end(logs)
    on_epoch_begin(epoch)       on_epoch_end(epoch, logs)     logs: loss, metrics, val_*
    on_train_batch_begin(batch) on_train_batch_end(batch, logs)

``self.model`` is the model being trained; setting ``self.model.stop_training = True``
ends training after the current epoch. ``History`` is added to every ``fit`` and
returned by it.
"""
import math

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
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be auto, min or max, got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.min_delta, self.patience, self.verbose = monitor, abs(min_delta), patience, verbose
        self.sign = 1 if mode == "min" else -1
        self.baseline, self.restore_best_weights, self.start_from_epoch = baseline, restore_best_weights, \
            start_from_epoch
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait, self.best_weights, self.best_epoch = 0, None, 0
        self.best = math.inf if self.baseline is None else self.sign * self.baseline

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: {self.monitor!r} is not in the logs (available: {', '.join(logs)}); "
                           "val_* values need validation_data or validation_split")
        if epoch < self.start_from_epoch:
            return
        value = self.sign * logs[self.monitor]
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
