"""Changing the learning rate from a callback: on a schedule, or when progress stalls.

Both write every parameter group's ``lr`` of the optimizer the loop trains with, and log
the rate as ``learning_rate`` at the end of each epoch (Keras's name)."""
import math

from .base import Callback
from .monitor import Best, mode_sign, monitored


def get_lr(optimizer):
    return optimizer.param_groups[0]["lr"]


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr`` (epoch from 0), applied before each epoch."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.schedule(epoch, get_lr(self.optimizer)))
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"LearningRateScheduler: the schedule gave learning rate {lr} at epoch {epoch}")
        set_lr(self.optimizer, lr)
        if self.verbose:
            self.say(f"Epoch {epoch + 1}: learning rate {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_lr(self.optimizer)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by ``min_delta``
    for ``patience`` epochs; then wait ``cooldown`` epochs; never below ``min_lr``."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.sign = mode_sign(monitor, mode, "ReduceLROnPlateau")
        self.min_delta, self.cooldown, self.min_lr = abs(min_delta), cooldown, min_lr
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooling = Best(self.sign), 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = monitored(logs, self.monitor, "ReduceLROnPlateau")
        logs["learning_rate"] = get_lr(self.optimizer)
        if self.cooling:
            self.cooling -= 1
            self.wait = 0
        if self.best.improves(value, self.min_delta):
            self.best.update(value)
            self.wait = 0
            return
        if self.cooling:
            return
        self.wait += 1
        if self.wait >= self.patience:
            new = max(get_lr(self.optimizer) * self.factor, self.min_lr)
            if new < get_lr(self.optimizer):
                set_lr(self.optimizer, new)
                if self.verbose:
                    self.say(f"Epoch {epoch + 1}: ReduceLROnPlateau set the learning rate to {new:.6g}")
            self.cooling, self.wait = self.cooldown, 0

    def state_dict(self):
        return {"best": self.best.value, "wait": self.wait, "cooling": self.cooling}

    def load_state_dict(self, state):
        self.best.value, self.wait, self.cooling = float(state["best"]), int(state["wait"]), int(state["cooling"])
