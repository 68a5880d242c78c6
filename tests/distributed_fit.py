"""Data-parallel ``rnn.train.fit`` and ``rnn.TBPTT.fit`` under MPI, for tests/test_distributed.py.

    mpiexec -n 2 python tests/distributed_fit.py LOOP MODE OUT_DIR

LOOP: ``fit`` (rnn.train.fit), ``tbptt`` (rnn.TBPTT.fit) or ``keras`` (rnn.keras's
Sequential.fit, float32, train only). MODE:
  train  train ``EPOCHS`` epochs with checkpoints in OUT_DIR/ckpt.npz and write the final
         parameters and the History to OUT_DIR/result-rank{r}.npz (every rank).
  resume the same, continuing from OUT_DIR/ckpt.npz (``resume=True``).
  kill   as train, but rank 1 kills itself (SIGKILL) in epoch ``FAIL_EPOCH`` (0-based).
  hang   as train, but rank 1 stops responding (sleeps) in epoch ``FAIL_EPOCH``; the time
         limit is 3 s.

fit: N = 45 examples in global batches of B = 8, so the last batch has 5 and the two
ranks get 3 and 2 of it. tbptt: a stream of 45 steps with 5 streams side by side (3 on
rank 0, 2 on rank 1), k1 = 5, k2 = 8, a checkpoint every 3 updates too, so a rank that
dies in the middle of an epoch leaves a checkpoint from the middle of it, with both
ranks' carried states. Each rank builds the model from another seed (the broadcast makes
them equal). ``train_one_process`` is the same run in one process.
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
STEPS, STREAMS = 45, 5


def make_data():
    """fit: x (N, T, I), y (N, 1) and validation (12, T, I), (12, 1), float64 tensors."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N + 12, T, I))
    y = np.sin(x.sum(axis=(1, 2)))[:, None]
    x, y = mg.tensor(x, dtype=mg.float64), mg.tensor(y, dtype=mg.float64)
    return x[:N], y[:N], x[N:], y[N:]


def make_stream():
    """tbptt: x (STEPS, STREAMS, I), y (STEPS, STREAMS, 1) float64 tensors, time first."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((STEPS, STREAMS, I))
    return mg.tensor(x, dtype=mg.float64), mg.tensor(np.cumsum(x[..., :1], axis=0) * 0.1, dtype=mg.float64)


class StreamModel(nn.Module):
    """x (t, B, I), state -> (y (t, B, 1), state): what TBPTT drives."""

    def __init__(self):
        super().__init__()
        self.lstm, self.out = rnn.LSTM(I, H), nn.Linear(H, 1)

    def forward(self, x, state=None):
        h, state = self.lstm(x, state)
        return self.out(h), state


def make_model(loop, seed):
    mg.manual_seed(seed)
    if loop == "keras":
        from rnn import keras
        model = keras.Sequential([keras.layers.LSTM(H, input_shape=(T, I)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", metrics=["mae"])
        return model
    if loop == "tbptt":
        return StreamModel().double()
    return nn.Sequential(rnn.LSTM(I, H, batch_first=True, return_sequences=False), nn.Linear(H, 1)).double()


def run_loop(loop, model, distributed, out=None, callbacks=(), resume=None):
    checkpoint = None if out is None else os.path.join(out, "ckpt.npz")
    if loop == "keras":
        x, y, vx, vy = (t.numpy().astype(np.float32) for t in make_data())
        return model.fit(x, y, batch_size=B, epochs=EPOCHS, validation_data=(vx, vy), verbose=2,
                         callbacks=list(callbacks), distributed=distributed)
    opt = mg.optim.Adam(model.parameters(), lr=0.02)
    if loop == "tbptt":
        x, y = make_stream()
        trainer = rnn.TBPTT(model, nn.functional.mse_loss, opt, k1=5, k2=8, clip_norm=1.0)
        return trainer.fit(x, y, epochs=EPOCHS, scheduler=mg.optim.StepLR(opt, step_size=3, gamma=0.7),
                           scheduler_interval="update", checkpoint=checkpoint, checkpoint_every=3, resume=resume,
                           validation_data=(x[:20], y[:20]), callbacks=callbacks, verbose=2, distributed=distributed)
    x, y, vx, vy = make_data()
    return rnn.train.fit(model, x, y, loss="mse", optimizer=opt, epochs=EPOCHS, batch_size=B, metrics=["mae"],
                         validation_data=(vx, vy), clip_norm=1.0, callbacks=callbacks, verbose=2,
                         checkpoint=checkpoint, resume=resume, distributed=distributed)


def train_one_process(loop, seed=1):
    """The reference: one process, the whole batch, the same seed as rank 0."""
    model = make_model(loop, seed)
    history = run_loop(loop, model, distributed=False)
    return [p.numpy().copy() for p in model.parameters()], history


def fail(mode, rank):
    """A callback that makes rank 1 die or hang at update 5 of epoch FAIL_EPOCH (0-based)."""
    epoch_now = [0]

    def on_batch_end(batch, logs):
        if rank == 1 and epoch_now[0] == FAIL_EPOCH and batch == 4:
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)
    return rnn.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epoch_now.__setitem__(0, epoch),
                                        on_train_batch_end=on_batch_end)


def main(loop, mode, out):
    import minigrad.distributed as dist
    rank, size = dist.init(timeout=3 if mode == "hang" else None)
    model = make_model(loop, 1 + rank)
    callbacks = [fail(mode, rank)] if mode in ("kill", "hang") else []
    history = run_loop(loop, model, True, out, callbacks, resume=True if mode == "resume" else None)
    np.savez(os.path.join(out, f"result-rank{rank}.npz"), *[p.numpy() for p in model.parameters()],
             loss=np.array(history.history["loss"]), val_loss=np.array(history.history["val_loss"]),
             batch_loss=np.array(history.batch_history["loss"]))


if __name__ == "__main__":
    mg.set_backend("numpy")
    main(*sys.argv[1:4])
