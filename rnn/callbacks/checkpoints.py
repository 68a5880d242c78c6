"""Writing checkpoints from a run: the model's weights (``ModelCheckpoint``) or the whole
training state to resume from (``ModelCheckpoint(save_weights_only=False)``,
``BackupAndRestore``). Every file is written atomically (``mg.save``): a crash leaves the
previous file or the new one, never half of one."""
import os

import minigrad as mg

from .base import Callback
from .monitor import Best, mode_sign, monitored


class ModelCheckpoint(Callback):
    """Save after an epoch: every epoch, or only when ``monitor`` improved (``save_best_only``).

    ``filepath`` may hold Keras's fields, ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"`` (epoch
    counted from 1). ``save_weights_only=True`` writes the weights (``model.save_weights``
    where the model has it, else ``mg.save(model.state_dict())``); ``False`` writes the
    whole training state (``mg.save_checkpoint``: weights, optimizer, scheduler, epoch,
    random and callback states), which ``fit(resume=path)`` continues from. ``keep`` (an
    addition to Keras's arguments): keep only the newest ``keep`` files this callback wrote."""

    order = 20  # after the History and the others: the training state it saves includes this epoch

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=True,
                 mode="auto", save_freq="epoch", initial_value_threshold=None, keep=None):
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint: save_freq must be 'epoch'")
        if keep is not None and (not isinstance(keep, int) or keep < 1):
            raise ValueError(f"ModelCheckpoint: keep must be a positive int or None, got {keep!r}")
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        if not self.filepath:
            raise ValueError("ModelCheckpoint: filepath is empty")
        self.save_best_only, self.save_weights_only, self.keep = save_best_only, save_weights_only, keep
        self.best = Best(mode_sign(monitor, mode, "ModelCheckpoint"), initial_value_threshold)
        self.written = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = monitored(logs, self.monitor, "ModelCheckpoint")
            if not self.best.improves(value):
                return
            self.best.update(value)
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.is_main:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if path in self.written:
            self.written.remove(path)
        self.written.append(path)  # before saving: the training state saved holds the list as it will be
        drop = self.written[:-self.keep] if self.keep is not None else []
        self.written = self.written[len(drop):]
        if not self.save_weights_only:
            self.loop.save_checkpoint(path)  # on every rank: it gathers the ranks' random states, rank 0 writes
        elif not self.is_main:
            return
        elif hasattr(self.model, "save_weights"):
            self.model.save_weights(path)
        else:
            mg.save(self.model.state_dict(), path)
        if self.verbose:
            self.say(f"Epoch {epoch + 1}: saved the {'weights' if self.save_weights_only else 'training state'} to "
                     f"{path}")
        for old in drop:  # only once the new file is safely written
            if self.is_main and os.path.exists(old):
                os.remove(old)

    def state_dict(self):
        return {"best": self.best.value, "written": self.written}

    def load_state_dict(self, state):
        self.best.value, self.written = float(state["best"]), list(state["written"])


class BackupAndRestore(Callback):
    """Resume a run that was cut off, by running the same script again (Keras's callback).

    At the end of every epoch the whole training state is written to
    ``backup_dir/training_state.npz``. When ``fit`` starts and that file exists, the run
    continues from it, bit for bit as if it had not stopped. When the run finishes (all
    its epochs, or stopped by a callback), the file is deleted (``delete_checkpoint``);
    an exception or Ctrl-C leaves it for the next start."""

    order = 20

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError("BackupAndRestore: save_freq must be 'epoch'")
        self.backup_dir, self.delete_checkpoint = os.fspath(backup_dir), delete_checkpoint
        if not self.backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is empty")
        self.path = os.path.join(self.backup_dir, "training_state.npz")

    def on_train_begin(self, logs=None):
        if os.path.exists(self.path):
            self.loop.restore(self.path)  # every rank reads it
            self.say(f"BackupAndRestore: resuming from {self.path} after epoch {self.loop.epoch}")

    def on_epoch_end(self, epoch, logs=None):
        if self.is_main:
            os.makedirs(self.backup_dir, exist_ok=True)
        self.loop.save_checkpoint(self.path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and self.loop.finished and self.is_main and os.path.exists(self.path):
            os.remove(self.path)
