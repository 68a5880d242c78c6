"""One CSV row per epoch, flushed as it is written: a crashed run keeps the epochs it finished."""
import csv
import os

from .base import Callback


class CSVLogger(Callback):
    """Append a row per epoch to ``filename``: the epoch (from 0, as Keras) and every logged value.

    ``append=True`` continues an existing file (a resumed run). Rows for epochs the run is
    about to redo (written after the checkpoint it resumed from) are dropped first, so the
    file holds each epoch once."""

    main_rank_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        if not self.filename:
            raise ValueError("CSVLogger: filename is empty")
        self.file = self.keys = None

    def on_train_begin(self, logs=None):
        self.keys, self.file = None, None

    def _open(self, epoch):
        if self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0:
            with open(self.filename, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f, delimiter=self.separator))
            self.keys = rows[0][1:]
            kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) < epoch]
            if len(kept) < len(rows):  # rewrite beside it, then rename: the old rows are never at risk
                tmp = self.filename + ".tmp"
                with open(tmp, "w", newline="", encoding="utf-8") as f:
                    f.writelines(self.separator.join(r) + "\n" for r in kept)
                os.replace(tmp, self.filename)
            self.file = open(self.filename, "a", newline="", encoding="utf-8")
        else:
            self.file = open(self.filename, "w", newline="", encoding="utf-8")

    def _write(self, row):
        self.file.write(self.separator.join(row) + "\n")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.file is None:
            self._open(epoch)
        if self.keys is None:
            self.keys = sorted(logs)
            self._write(["epoch"] + self.keys)
        self._write([str(epoch)] + [repr(float(logs[k])) if k in logs else "" for k in self.keys])
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None
