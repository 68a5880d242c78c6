"""Exact resume: a run stopped at any epoch (or by Ctrl-C) and continued from its checkpoint
gives the uninterrupted run's losses and weights bit for bit; checkpoints load all or nothing."""
import os
import signal

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import nn, optim
from rnn.callbacks import (Callback, CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint,
                           ReduceLROnPlateau)

EPOCHS = 5


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6, 2)).astype(np.float32)
    return x, x.sum(axis=(1, 2))[:, None].astype(np.float32) * 0.3


def _model(seed):
    mg.manual_seed(seed)  # a resumed run builds its model afresh: different initial weights, overwritten by resume
    return nn.Sequential(rnn.GRU(2, 8, batch_first=True, return_sequences=False), nn.Dropout(0.3), nn.Linear(8, 1))


def _run(seed, epochs, checkpoint, resume=None, callbacks=()):
    """A fit with every source of state a resume must restore: shuffling and dropout (random
    state), Adam's moments, a scheduler, and callbacks that count epochs."""
    x, y = _data()
    model = _model(seed)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    cbs = [EarlyStopping(monitor="val_loss", patience=50), ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5,
                                                                            min_delta=0.05), *callbacks]
    hist = rnn.train.fit(model, x, y, optimizer=opt, epochs=epochs, batch_size=8, validation_split=0.2,
                         scheduler=sched, callbacks=cbs, checkpoint=checkpoint, resume=resume, verbose=0)
    return hist, model


def _curves(hist):
    return {k: v for k, v in hist.history.items() if k != "time"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    hist, model = _run(1, EPOCHS, str(tmp_path_factory.mktemp("full") / "ck.npz"))
    return _curves(hist), hist.batch_history, model.state_dict()


@pytest.mark.parametrize("stop_after", range(1, EPOCHS))
def test_fit_resumed_after_any_epoch_matches_the_uninterrupted_run_bit_for_bit(tmp_path, uninterrupted, stop_after):
    curves, batches, weights = uninterrupted
    ck = str(tmp_path / "ck.npz")
    _run(1, stop_after, ck)
    np.random.default_rng(99).random(7)  # the new process draws from its generators before resuming
    mg.manual_seed(123)
    hist, model = _run(2, EPOCHS, ck, resume=ck)
    assert _curves(hist) == curves  # exact equality of every float: same shuffles, dropout masks, steps
    assert hist.batch_history == batches and hist.epoch == list(range(EPOCHS))
    for name, w in model.state_dict().items():
        np.testing.assert_array_equal(w, weights[name])


def test_the_uninterrupted_run_is_not_trivially_repeatable(uninterrupted):
    """The check above has teeth: another seed, or a resume that forgets the random state, differs."""
    curves, _, _ = uninterrupted
    hist, _ = _run(5, EPOCHS, None)
    assert _curves(hist)["loss"] != curves["loss"]


def test_resume_without_the_random_state_would_differ(tmp_path, uninterrupted):
    curves, _, _ = uninterrupted
    ck = str(tmp_path / "ck.npz")
    _run(1, 2, ck)
    x, y = _data()
    model = _model(2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    cbs = [EarlyStopping(monitor="val_loss", patience=50), ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5,
                                                                            min_delta=0.05)]
    loop = rnn.loop.TrainingLoop(model, opt, cbs, scheduler=sched)
    mg.load_checkpoint(ck, model, opt, sched, stateful=loop._stateful(), restore_random=False)
    mg.manual_seed(7)
    hist = rnn.train.fit(model, x, y, optimizer=opt, epochs=EPOCHS, initial_epoch=2, batch_size=8,
                         validation_split=0.2, scheduler=sched, verbose=0)
    assert hist.history["loss"] != curves["loss"][2:]


def test_ctrl_c_stops_after_the_batch_writes_nothing_half_done_and_the_run_resumes_exactly(tmp_path, uninterrupted,
                                                                                        capsys):
    curves, _, weights = uninterrupted
    ck, log = str(tmp_path / "ck.npz"), str(tmp_path / "log.csv")

    class CtrlC(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.loop.epoch == 2 and batch == 1:  # in the middle of the third epoch
                os.kill(os.getpid(), signal.SIGINT)

    hist, _ = _run(1, EPOCHS, ck, callbacks=[CSVLogger(log), CtrlC()])
    assert hist.interrupted and hist.epoch == [0, 1] and len(hist.history["loss"]) == 2
    assert "interrupted during epoch 3, after batch 2" in capsys.readouterr().err
    assert mg.load(ck)["epoch"] == 2  # the checkpoint of epoch 2; nothing of the interrupted epoch
    with open(log) as f:
        assert [line.split(",")[0] for line in f.read().splitlines()] == ["epoch", "0", "1"]  # closed, complete
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    hist, model = _run(2, EPOCHS, ck, resume=ck, callbacks=[CSVLogger(log, append=True)])
    assert _curves(hist) == curves and not hist.interrupted
    for name, w in model.state_dict().items():
        np.testing.assert_array_equal(w, weights[name])
    with open(log) as f:
        assert [line.split(",")[0] for line in f.read().splitlines()] == ["epoch", "0", "1", "2", "3", "4"]


def test_a_second_ctrl_c_stops_at_once():
    x, y = _data()

    def press(batch, logs):  # two presses before the batch is over
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        rnn.train.fit(_model(0), x, y, epochs=2, batch_size=8, verbose=0,
                      callbacks=[LambdaCallback(on_train_batch_end=press)])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_true_starts_afresh_without_a_checkpoint_and_resume_refuses_a_missing_file(tmp_path):
    ck = str(tmp_path / "ck.npz")
    hist, _ = _run(1, 2, ck, resume=True)
    assert hist.epoch == [0, 1] and os.path.exists(ck)
    hist, _ = _run(1, 3, ck, resume=True)  # continues: only epoch 3 runs
    assert hist.epoch == [0, 1, 2] and len(hist.batch_history["loss"]) == 3 * 4
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _run(1, 2, None, resume=str(tmp_path / "nope.npz"))


def test_load_checkpoint_is_all_or_nothing(tmp_path):
    x, y = _data()
    model = _model(0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    rnn.train.fit(model, x, y, optimizer=opt, epochs=1, batch_size=8, verbose=0)
    ck = str(tmp_path / "ck.npz")
    mg.save_checkpoint(ck, model, opt, epoch=1, step=5)
    other = _model(5)
    other_opt = optim.Adam(other.parameters(), lr=0.01)
    # the model fits but the optimizer does not: the model is loaded first, then must be put back
    wrong_opt = optim.Adam(list(other.parameters())[:2], lr=0.01)
    before = other.state_dict()
    state_before = mg.random.get_state()
    with pytest.raises(mg.CheckpointError, match="(?s)does not fit what was given to restore.*; nothing was changed$"):
        mg.load_checkpoint(ck, other, wrong_opt)
    for name, w in other.state_dict().items():
        np.testing.assert_array_equal(w, before[name])
    assert mg.random.generator().bit_generator.state == state_before["minigrad"]
    info = mg.load_checkpoint(ck, other, other_opt)
    assert (info["epoch"], info["step"]) == (1, 5)
    mg.save(model.state_dict(), tmp_path / "weights.npz")
    with pytest.raises(mg.CheckpointError, match="not a training checkpoint"):
        mg.load_checkpoint(tmp_path / "weights.npz", other)
    with pytest.raises(mg.CheckpointError, match="holds no scheduler state"):
        mg.load_checkpoint(ck, other, other_opt, optim.StepLR(other_opt, 1))
    with pytest.raises(mg.CheckpointError,
                       match=r"holds the state of no callbacks, but \[.EarlyStopping.\] were given"):
        mg.load_checkpoint(ck, other, other_opt, stateful=[EarlyStopping()])


def test_model_checkpoint_can_write_the_whole_training_state(tmp_path):
    x, y = _data()
    path = str(tmp_path / "state-{epoch}.npz")
    rnn.train.fit(_model(0), x, y, epochs=3, batch_size=8, verbose=0,
                  callbacks=[ModelCheckpoint(path, save_weights_only=False, keep=2)])
    assert sorted(os.listdir(tmp_path)) == ["state-2.npz", "state-3.npz"]
    state = mg.load(tmp_path / "state-3.npz")
    assert state["epoch"] == 3 and state["stateful_types"] == ["History", "ModelCheckpoint"]
    assert state["stateful"][1]["written"] == [str(tmp_path / "state-2.npz"), str(tmp_path / "state-3.npz")]


def test_keras_backup_and_restore_continues_a_crashed_run_exactly(tmp_path):
    from rnn import keras

    def run(crash_at=None):
        mg.manual_seed(0)
        model = keras.Sequential([keras.Input((6, 2)), keras.layers.GRU(6), keras.layers.Dropout(0.2),
                                  keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        x, y = _data()

        def crash(epoch, logs):
            if epoch == crash_at:
                raise RuntimeError("the machine went down")

        return model.fit(x, y, epochs=4, batch_size=8, verbose=0,
                         callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=crash),
                                    keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])

    full = run().history["loss"]
    assert not os.path.exists(tmp_path / "backup" / "training_state.npz")  # deleted once the run finished
    with pytest.raises(RuntimeError, match="went down"):
        run(crash_at=1)  # epoch 0's state was backed up; epoch 1 crashed after its epoch-end
    assert mg.load(tmp_path / "backup" / "training_state.npz")["epoch"] == 1
    mg.manual_seed(42)
    assert run().history["loss"] == full


def test_tbptt_fit_resumes_in_the_middle_of_an_epoch_with_its_carried_state(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((45, 3, 2)).astype(np.float32)  # a stream: 45 steps, 3 side by side
    y = np.cumsum(x[..., :1], axis=0).astype(np.float32) * 0.1

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.out = rnn.LSTM(2, 6), nn.Linear(6, 1)

        def forward(self, xb, state):
            h, state = self.lstm(xb, state)
            return self.out(h), state

    def run(epochs, ck, resume=None, checkpoint_every=None):
        mg.manual_seed(0 if resume is None else 5)
        model = Model()
        opt = optim.Adam(model.parameters(), lr=0.01)
        sched = optim.StepLR(opt, step_size=3, gamma=0.7)
        trainer = rnn.TBPTT(model, nn.functional.mse_loss, opt, k1=5, k2=8, clip_norm=1.0)
        hist = trainer.fit(x, y, epochs=epochs, scheduler=sched, scheduler_interval="update", checkpoint=ck,
                           checkpoint_every=checkpoint_every, resume=resume, verbose=0,
                           validation_data=(x[:20], y[:20]))
        return hist, model

    full, model = run(3, None)
    assert len(full.batch_history["loss"]) == 3 * 9 and "grad_norm" in full.batch_history
    ck = str(tmp_path / "ck.npz")

    class StopAt(Callback):  # the run is cut off after update 7 of epoch 2
        def on_train_batch_end(self, batch, logs=None):
            if self.loop.epoch == 1 and batch == 6:
                self.model.stop_training = True

    full2, _ = run(3, ck, checkpoint_every=3)  # checkpoints after updates 3, 6 of each epoch and at epoch ends
    assert full2.batch_history == full.batch_history
    state = mg.load(ck)
    assert state["epoch"] == 3
    # stop mid-epoch: the last checkpoint is after update 6 of epoch 2
    part_ck = str(tmp_path / "part.npz")
    mg.manual_seed(0)
    m = Model()
    opt = optim.Adam(m.parameters(), lr=0.01)
    trainer = rnn.TBPTT(m, nn.functional.mse_loss, opt, k1=5, k2=8, clip_norm=1.0)
    trainer.fit(x, y, epochs=3, scheduler=optim.StepLR(opt, step_size=3, gamma=0.7), scheduler_interval="update",
                checkpoint=part_ck, checkpoint_every=3, verbose=0, validation_data=(x[:20], y[:20]),
                callbacks=[StopAt()])
    saved = mg.load(part_ck)
    assert (saved["epoch"], saved["extra"]["batch"]) == (1, 6) and saved["stateful"][-1]["state"] is not None
    # the resumed run needs the same callbacks' state types: StopAt has none, so any list of stateless ones fits
    resumed, model2 = run(3, part_ck, resume=part_ck)
    assert resumed.batch_history == full.batch_history
    assert {k: v for k, v in resumed.history.items()} == {k: v for k, v in full.history.items()}
    for (name, w), w2 in zip(model.state_dict().items(), model2.state_dict().values()):
        np.testing.assert_array_equal(w, w2, err_msg=name)
