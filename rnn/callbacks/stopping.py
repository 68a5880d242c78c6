"""Ending a run early: when the monitored value stops improving, or the loss is not a number."""
import copy
import math

from .base import Callback
from .monitor import Best, mode_sign, monitored


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` "min", "max" or "auto" (max for accuracies, else min); ``baseline``: stop unless
    the monitored value beats it; ``restore_best_weights``: put back the weights of the best
    epoch when stopping; ``start_from_epoch``: epochs to wait before counting.
    (Keras's arguments and defaults.)"""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.min_delta, self.patience, self.verbose = monitor, abs(min_delta), patience, verbose
        self.sign = mode_sign(monitor, mode, "EarlyStopping")
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._reset()

    def _reset(self):
        self.best = Best(self.sign, self.baseline)
        self.wait, self.best_epoch, self.stopped_epoch, self.best_weights = 0, 0, 0, None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = monitored(logs, self.monitor, "EarlyStopping")
        if epoch < self.start_from_epoch:
            return
        if self.best.improves(value, self.min_delta):
            self.best.update(value)
            self.wait, self.best_epoch = 0, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.load_state_dict(self.best_weights)
            if self.verbose:
                self.say(f"Epoch {epoch + 1}: early stopping (best {self.monitor} at epoch {self.best_epoch + 1})")

    def state_dict(self):
        return {"best": self.best.value, "wait": self.wait, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self.best.value, self.wait = float(state["best"]), int(state["wait"])
        self.best_epoch, self.stopped_epoch = int(state["best_epoch"]), int(state["stopped_epoch"])
        self.best_weights = copy.copy(state["best_weights"])


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite. (The loops already refuse to
    apply such a step and raise; with this callback they stop quietly instead.)"""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.say(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True
