"""Progress while training: a bar per epoch on a terminal, a line per epoch always."""
import sys
import time

from .base import Callback


def format_logs(logs):
    """``loss: 0.1234 - val_loss: 0.2345``: every logged number except the epoch's time."""
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items() if k != "time")


class ProgressBar(Callback):
    """``verbose=1``: a tqdm bar per epoch (batches done, the running loss and metrics) when
    stderr is a terminal, then one line per epoch; ``verbose=2``: the line only (for log
    files and notebooks, where a redrawn bar would fill the output).

        Epoch 3/10 - 1.2s - loss: 0.1234 - val_loss: 0.2345 - lr: 0.001

    file: where the lines go (stdout by default); mininterval: seconds between redraws.
    """

    order = 10  # after the callbacks that add to the logs (learning_rate)
    main_rank_only = True

    def __init__(self, verbose=1, file=None, mininterval=0.1):
        super().__init__()
        if verbose not in (1, 2):
            raise ValueError(f"ProgressBar: verbose must be 1 (bar and line) or 2 (line only), got {verbose!r}")
        self.verbose, self.file, self.bar, self.mininterval = verbose, file, None, mininterval

    def _out(self):
        return self.file or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        self.close()
        if self.verbose == 1:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            # disable=None: no bar when stderr is not a terminal (a log file would fill with redraws)
            self.bar = tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}",
                            unit="batch", leave=False, disable=None, file=sys.stderr,
                            mininterval=self.mininterval)

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items()}, refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.close()
        took = time.perf_counter() - self.start
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - {took:.1f}s - {format_logs(logs or {})}",
              file=self._out(), flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_end(self, logs=None):
        self.close()
