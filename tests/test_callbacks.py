"""rnn.callbacks: one set of callbacks for rnn.train.fit, rnn.TBPTT.fit and rnn.keras's fit."""
import io
import os
import sys
import types

import numpy as np
import pytest
from PIL import Image

from conftest import mse_failing_at

import rnn
from minigrad import nn, optim
from rnn.callbacks import (Callback, GradNormLogger, LearningRateScheduler, LivePlot, ProgressBar, TerminateOnNaN)


class Recorder(Callback):
    """Every hook call, in order, with its epoch or batch."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_batch_end(self, batch, logs=None):  # the older name: called by on_train_batch_end
        self.calls.append(("batch_end", batch, sorted(logs)))


def _expected(epochs, batches, epoch_keys, batch_keys=("loss",)):
    calls = [("train_begin",)]
    for e in range(epochs):
        calls.append(("epoch_begin", e))
        for b in range(batches):
            calls += [("batch_begin", b), ("batch_end", b, sorted(batch_keys))]
        calls.append(("epoch_end", e, sorted(epoch_keys)))
    return calls + [("train_end",)]


def _xy(n=12):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-1.0], [0.5]], np.float32))


def test_the_same_callback_sees_the_same_hooks_in_all_three_loops():
    x, y = _xy()
    cb = Recorder()
    rnn.train.fit(nn.Linear(3, 1), x, y, epochs=2, batch_size=5, callbacks=[cb], verbose=0)
    assert cb.calls == _expected(2, 3, ["loss", "lr", "time"])
    assert cb.model is not None and cb.params["epochs"] == 2 and cb.params["steps"] == 3

    class Stream(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = rnn.RNN(3, 4)
            self.out = nn.Linear(4, 1)

        def forward(self, xb, state):
            h, state = self.cell(xb, state)
            return self.out(h), state

    cb = Recorder()
    model = Stream()
    trainer = rnn.TBPTT(model, nn.functional.mse_loss, optim.SGD(model.parameters(), lr=0.01), k1=4)
    trainer.fit(x[:, None], y[:, None], epochs=2, callbacks=[cb], verbose=0)
    assert cb.calls == _expected(2, 3, ["loss", "lr"])

    from rnn import keras
    cb = Recorder()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=2, batch_size=5, callbacks=[cb], verbose=0)
    assert cb.calls == _expected(2, 3, ["loss", "mae"], ["loss", "mae"])


def test_batch_logs_are_running_means_and_the_history_keeps_each_batch():
    x, y = _xy()
    seen = []
    cb = rnn.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs["loss"]))
    hist = rnn.train.fit(nn.Linear(3, 1), x, y, epochs=1, batch_size=4, shuffle=False, callbacks=[cb], verbose=0,
                         optimizer="sgd", lr=0.0)
    own = hist.batch_history["loss"]  # lr = 0: the same model every batch
    np.testing.assert_allclose(seen, np.cumsum(own) / np.arange(1, 4), rtol=1e-12)
    np.testing.assert_allclose(hist.history["loss"][0], np.mean(own), rtol=1e-12)
    assert hist.batch_history["epoch"] == [1 / 3, 2 / 3, 1.0]


def test_progress_bar_draws_a_bar_on_a_terminal_and_a_line_per_epoch(monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    x, y = _xy()
    rnn.train.fit(nn.Linear(3, 1), x, y, epochs=2, batch_size=4, verbose=1, callbacks=[ProgressBar(mininterval=0)])
    bar = term.getvalue()
    assert "Epoch 1/2" in bar and "3/3" in bar and "loss=" in bar
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(" - ")[0] for ln in lines] == ["Epoch 1/2", "Epoch 2/2"] and all("loss: " in ln for ln in lines)
    with pytest.raises(ValueError, match="verbose must be 1"):
        ProgressBar(0)


def test_not_on_a_terminal_verbose_1_prints_only_the_epoch_lines(capsys):
    x, y = _xy()
    rnn.train.fit(nn.Linear(3, 1), x, y, epochs=3, batch_size=4, verbose=1)
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 3 and "batch" not in err


def test_live_plot_rewrites_a_valid_png_every_epoch_and_shows_it_inline(tmp_path, monkeypatch):
    shown = []
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    display.clear_output = lambda wait=False: shown.append("clear")
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    ipython = types.ModuleType("IPython")
    ipython.version_info, ipython.get_ipython = (8, 0), lambda: None
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    x, y = _xy()
    path = tmp_path / "live" / "curves.png"
    live = LivePlot(path, inline=True, figsize=(5, 3), dpi=60)
    rnn.train.fit(nn.Linear(3, 1), x, y, epochs=3, batch_size=4, callbacks=[live], verbose=0)
    assert live.draws == 4  # three epochs, then the end of the run
    assert shown.count("clear") == 4 and len(shown) == 8
    with Image.open(path) as im:
        assert im.size == (300, 180) and np.asarray(im.convert("L")).std() > 5
    assert os.listdir(path.parent) == ["curves.png"]  # no temporary file left
    with pytest.raises(ValueError, match="every must be a positive int"):
        LivePlot(path, every=0)


def test_grad_norm_logger_records_the_gradient_each_update_used():
    x, y = _xy()
    model = nn.Linear(3, 1)
    w, b = model.weight.numpy().astype(np.float64), model.bias.numpy().astype(np.float64)
    logger = GradNormLogger(per="parameter")
    rnn.train.fit(model, x, y, epochs=1, batch_size=len(x), shuffle=False, optimizer="sgd", lr=0.1,
                  callbacks=[logger], verbose=0)
    err = x.astype(np.float64) @ w.T + b - y  # d mean((xW^T + b - y)^2) = 2/N err
    gw, gb = 2 / len(x) * err.T @ x, 2 / len(x) * err.sum(axis=0)
    np.testing.assert_allclose(logger.norms["weight"], [np.linalg.norm(gw)], rtol=1e-5)
    np.testing.assert_allclose(logger.norms["bias"], [np.linalg.norm(gb)], rtol=1e-5)
    fig = logger.plot()
    assert len(fig.axes) >= 1


def test_terminate_on_nan_stops_quietly_before_the_bad_step():
    x, y = _xy()
    model = nn.Linear(3, 1)
    kept = {}
    keep = rnn.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: kept.update(w=model.weight.numpy().copy()))
    with np.errstate(all="ignore"):
        hist = rnn.train.fit(model, x, y, loss=mse_failing_at(2, np.nan), epochs=3, batch_size=4, shuffle=False, verbose=0,
                             callbacks=[keep, TerminateOnNaN()])
    assert hist.epoch == [] and len(hist.batch_history["loss"]) == 1
    np.testing.assert_array_equal(model.weight.numpy(), kept["w"])  # the NaN batch changed nothing


def test_learning_rate_scheduler_callback_drives_the_optimizer_of_rnn_train_fit():
    x, y = _xy()
    hist = rnn.train.fit(nn.Linear(3, 1), x, y, epochs=3, batch_size=4, optimizer="sgd", lr=0.5, verbose=0,
                         callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    np.testing.assert_allclose(hist.history["learning_rate"], [0.1, 0.05, 0.1 / 3])
    np.testing.assert_allclose(hist.history["lr"], [0.1, 0.05, 0.1 / 3])
