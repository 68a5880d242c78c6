"""``rnn.train.fit(distributed=True)`` under MPI, for tests/test_distributed.py.

    mpiexec -n 2 python tests/distributed_fit.py MODE OUT_DIR

MODE:
  train  train ``EPOCHS`` epochs with checkpoints in OUT_DIR/ckpt.npz and write the final
         parameters and the History to OUT_DIR/result-rank{r}.npz (every rank).
  resume the same, continuing from OUT_DIR/ckpt.npz (``resume=True``).
  kill   as train, but rank 1 kills itself (SIGKILL) in epoch ``FAIL_EPOCH``.
  hang   as train, but rank 1 stops responding (sleeps) in epoch ``FAIL_EPOCH``; the time
         limit is 3 s.

The data set has N = 45 examples in global batches of B = 8: the last batch has 5, so
the two ranks get 3 and 2 of it. Each rank builds the model from another seed (the
broadcast makes them equal). ``train_one_process`` is the same run in one process.
"""
import os
import signal
import sys
import time

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn

N, B, T, I, H, EPOCHS, FAIL_EPOCH = 45, 8, 6, 2, 5, 4, 2


def make_data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N + 12, T, I))
    y = np.sin(x.sum(axis=(1, 2)))[:, None]
    x, y = mg.tensor(x, dtype=mg.float64), mg.tensor(y, dtype=mg.float64)
    return x[:N], y[:N], x[N:], y[N:]


def make_model(seed):
    mg.manual_seed(seed)
    return nn.Sequential(rnn.LSTM(I, H, batch_first=True, return_sequences=False), nn.Linear(H, 1)).double()


def run_fit(model, distributed, out=None, callbacks=(), resume=None):
    x, y, vx, vy = make_data()
    opt = mg.optim.Adam(model.parameters(), lr=0.02)
    return rnn.train.fit(model, x, y, loss="mse", optimizer=opt, epochs=EPOCHS, batch_size=B, metrics=["mae"],
                         validation_data=(vx, vy), clip_norm=1.0, callbacks=callbacks, verbose=2,
                         checkpoint=None if out is None else os.path.join(out, "ckpt.npz"), resume=resume,
                         distributed=distributed)


def train_one_process(seed=1):
    """The reference: one process, the whole batch, the same seed as rank 0."""
    model = make_model(seed)
    history = run_fit(model, distributed=False)
    return [p.numpy().copy() for p in model.parameters()], history


def fail(mode, rank):
    """A callback that makes rank 1 die or hang in the middle of epoch FAIL_EPOCH (0-based)."""
    def on_batch_end(batch, logs):
        if rank == 1 and loop_epoch[0] == FAIL_EPOCH and batch == 2:
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)
    loop_epoch = [0]
    return rnn.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: loop_epoch.__setitem__(0, epoch),
                                        on_train_batch_end=on_batch_end)


def main(mode, out):
    import minigrad.distributed as dist
    rank, size = dist.init(timeout=3 if mode == "hang" else None)
    model = make_model(1 + rank)
    callbacks = [fail(mode, rank)] if mode in ("kill", "hang") else []
    history = run_fit(model, True, out, callbacks, resume=True if mode == "resume" else None)
    np.savez(os.path.join(out, f"result-rank{rank}.npz"), *[p.numpy() for p in model.parameters()],
             loss=np.array(history.history["loss"]), val_loss=np.array(history.history["val_loss"]),
             epochs=np.array(history.epoch))


if __name__ == "__main__":
    mg.set_backend("numpy")
    main(sys.argv[1], sys.argv[2])
