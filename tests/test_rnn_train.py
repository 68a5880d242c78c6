"""rnn.train.fit: the Keras-style loop."""
import warnings

import numpy as np
import pytest

import minigrad as mg
import rnn
from conftest import mse_failing_at
from minigrad import nn
from rnn.train import EarlyStopping, fit


def _regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))


def test_fit_reduces_loss_and_records_history(tmp_path):
    mg.manual_seed(0)
    x, y = _regression()
    model = nn.Linear(3, 1)
    hist = fit(model, x, y, loss="mse", optimizer="adam", lr=0.05, epochs=15, batch_size=16,
               validation_split=0.25, metrics=["mae"], checkpoint=str(tmp_path / "best.npz"), verbose=0)
    h = hist.history
    assert set(h) == {"loss", "mae", "val_loss", "val_mae", "lr", "time"} and len(h["loss"]) == 15
    assert h["loss"][-1] < 0.1 * h["loss"][0] and h["val_loss"][-1] < 0.1 * h["val_loss"][0]
    saved = mg.load(tmp_path / "best.npz")  # the training state after the last epoch
    assert saved["epoch"] == 15 and saved["step"] == 15 * 3
    fresh = nn.Linear(3, 1)
    fresh.load_state_dict(saved["model"])
    np.testing.assert_array_equal(fresh.weight.numpy(), model.weight.numpy())
    assert len(hist.batch_history["loss"]) == 15 * 3 and hist.batch_history["epoch"][:3] == [1 / 3, 2 / 3, 1.0]
    fig = hist.plot(str(tmp_path / "curve.png"))
    assert fig is not None and (tmp_path / "curve.png").stat().st_size > 1000


def test_validation_split_takes_the_end_of_the_data():
    x, y = _regression(40)
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 1)

        def forward(self, xb):
            if not self.training:
                seen.append(xb.numpy().copy())
            return self.lin(xb)

    fit(Spy(), x, y, epochs=1, validation_split=0.25, shuffle=False, verbose=0)
    np.testing.assert_array_equal(np.concatenate(seen), x[30:])


def test_early_stopping_waits_patience_epochs_then_restores_the_best_weights():
    from rnn.loop import TrainingLoop
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    loop = TrainingLoop(model, mg.optim.SGD(model.parameters(), lr=0.1), [stopper])
    weights = []
    with loop.running():
        for epoch, val_loss in enumerate([3.0, 1.0, 2.0, 5.0, 0.5]):  # best at the 2nd; 2 epochs without after it
            with mg.no_grad():
                model.weight += 1.0  # a different model every epoch
            weights.append(model.weight.numpy().copy())
            loop.epoch_end(epoch, {"val_loss": val_loss})
            if loop.stop:
                break
    assert loop.stop and len(weights) == 4 and stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    np.testing.assert_array_equal(model.weight.numpy(), weights[1])
    with pytest.raises(KeyError, match="'val_loss' is not in the logs"):
        x, y = _regression()
        fit(nn.Linear(3, 1), x, y, epochs=1, callbacks=[EarlyStopping()], verbose=0)


def test_a_plain_function_is_a_callback_that_stops_by_returning_true():
    x, y = _regression()
    seen = []
    hist = fit(nn.Linear(3, 1), x, y, epochs=10, verbose=0,
               callbacks=[lambda model, logs: seen.append(logs["loss"]) or len(seen) == 3])
    assert len(hist.history["loss"]) == 3 and seen == hist.history["loss"]
    with pytest.raises(TypeError, match="a callback must be"):
        fit(nn.Linear(3, 1), x, y, epochs=1, verbose=0, callbacks=[42])


def test_fit_stops_early_through_a_callback():
    x, y = _regression()
    stopper = EarlyStopping(monitor="loss", patience=1, min_delta=1e9)  # never "improves" after epoch 1
    hist = fit(nn.Linear(3, 1), x, y, epochs=10, callbacks=[stopper], verbose=0)
    assert len(hist.history["loss"]) == 2


def test_classification_with_lengths_and_accuracy():
    mg.manual_seed(2)
    rng = np.random.default_rng(2)
    seqs = [rng.standard_normal((rng.integers(2, 7), 2)).astype(np.float32) for _ in range(48)]
    labels = np.array([int(s[:, 0].sum() > 0) for s in seqs])
    padded, lengths = rnn.data.pad_sequences(seqs)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = rnn.GRU(2, 8, batch_first=True)
            self.out = nn.Linear(8, 2)

        def forward(self, x, lengths=None):
            _, h = self.gru(x, lengths=lengths)
            return self.out(h[-1])

    hist = fit(Classifier(), padded, labels, loss="cross_entropy", lr=0.03, epochs=25, batch_size=16,
               lengths=lengths, metrics=["accuracy"], verbose=0)
    assert hist.history["accuracy"][-1] > 0.85


def test_fit_rejects_mismatched_data_and_reports_divergence():
    with pytest.raises(ValueError, match="x has 4 examples but y has 3"):
        fit(nn.Linear(3, 1), np.zeros((4, 3)), np.zeros((3, 1)), verbose=0)
    x, y = _regression()
    with pytest.raises(FloatingPointError, match="is not finite at epoch"), np.errstate(all="ignore"):
        fit(nn.Linear(3, 1), x * 1e20, y, optimizer="sgd", lr=1e10, epochs=3, verbose=0)


def test_a_non_finite_loss_or_gradient_stops_fit_before_the_step(tmp_path):
    """The model keeps its last good weights; the message names epoch, batch and checkpoint."""
    x, y = _regression()
    model = nn.Linear(3, 1)
    blows_up_at_batch_3 = mse_failing_at(3, np.inf)
    good = {}  # the weights after each step: at the end, those of batch 2
    with pytest.raises(FloatingPointError, match=r"loss is not finite at epoch 1, batch 3; no weight was changed"), \
            np.errstate(all="ignore"):
        fit(model, x, y, loss=blows_up_at_batch_3, epochs=1, verbose=0, shuffle=False, batch_size=16,
            optimizer=_Recording(model, good))
    for p, g in zip(model.parameters(), good["after"]):
        np.testing.assert_array_equal(p.numpy(), g)  # unchanged since the last good step
    blows_up_at_batch_3.calls.clear()  # one batch per epoch: epochs 1 and 2 save checkpoints, epoch 3 blows up
    with pytest.raises(FloatingPointError, match=r"epoch 3, batch 1; .*last good checkpoint is .*ck.npz"), \
            np.errstate(all="ignore"):
        fit(model, x, y, loss=blows_up_at_batch_3, epochs=3, verbose=0, batch_size=len(x),
            checkpoint=str(tmp_path / "ck.npz"))


class _Recording(mg.optim.SGD):
    """SGD that records the weights after each step."""

    def __init__(self, model, store):
        super().__init__(model.parameters(), lr=0.01)
        self.model, self.store = model, store

    def step(self, closure=None):
        super().step(closure)
        self.store["after"] = [p.numpy().copy() for p in self.model.parameters()]


def test_fit_refuses_bad_input_before_the_first_step():
    x, y = _regression()
    model = nn.Linear(3, 1)
    before = [p.numpy().copy() for p in model.parameters()]
    x_nan = x.copy()
    x_nan[7, 2] = np.nan
    cases = [
        (dict(x=x_nan, y=y), r"x holds nan at index \(7, 2\)"),
        (dict(x=x[:0], y=y[:0]), "no training examples"),
        (dict(x=x, y=y, batch_size=0), "batch_size must be an int >= 1"),
        (dict(x=x, y=y, validation_split=1.5), r"validation_split must be in \(0, 1\)"),
        (dict(x=x, y=y, validation_split=-0.1), r"validation_split must be in \(0, 1\)"),
        (dict(x=x[:2], y=y[:2], validation_split=0.1), "leaves 0 for validation"),
        (dict(x=x, y=y, optimizer=mg.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1)),
         "holds none of the model's 2 parameters"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            fit(model, verbose=0, **kwargs)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)


def test_verbose_2_prints_one_line_per_epoch_and_no_bar(capsys):
    import numpy as np
    from minigrad import nn
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    rnn.train.fit(nn.Linear(3, 1), x, x[:, :1], epochs=2, verbose=2)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [["Epoch", "1/2"], ["Epoch", "2/2"]]
    assert all(" - loss: " in line and " - lr: 0.001" in line and "time" not in line for line in lines)
    assert "batch" not in err


def test_predict_batches_in_eval_mode_and_restores_training():
    import numpy as np
    from minigrad import nn
    mg.manual_seed(0)
    model = nn.Sequential(rnn.GRU(2, 5, batch_first=True, return_sequences=False), nn.Dropout(0.5), nn.Linear(5, 1))
    x = np.random.default_rng(0).standard_normal((10, 4, 2)).astype(np.float32)
    model.train()
    got = rnn.train.predict(model, x, batch_size=3)  # batches of 3, 3, 3, 1
    assert model.training and isinstance(got, np.ndarray) and got.shape == (10, 1)
    model.eval()
    np.testing.assert_allclose(got, model(mg.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)  # dropout was off
    lengths = [4, 2, 3, 1, 4, 4, 2, 3, 1, 4]
    np.testing.assert_allclose(rnn.train.predict(model, x, batch_size=4, lengths=lengths),
                               model(mg.tensor(x), lengths=lengths).numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------- the silent traps, refused
def test_fit_refuses_a_probability_layer_under_a_logits_loss():
    x = np.random.default_rng(0).standard_normal((8, 5, 2)).astype(np.float32)
    for last, loss, y in ((nn.Softmax(axis=-1), "sparse_categorical_crossentropy", np.arange(8) % 3),
                          (nn.Sigmoid(), "binary_crossentropy", np.ones((8, 3), np.float32))):
        model = nn.Sequential(rnn.LSTM(2, 4, batch_first=True, return_sequences=False), nn.Linear(4, 3), last)
        before = [p.numpy().copy() for p in model.parameters()]
        with pytest.raises(ValueError, match=f"ends with {type(last).__name__}: remove that last layer"):
            rnn.train.fit(model, x, y, loss=loss, epochs=1, verbose=0)
        for p, b in zip(model.parameters(), before):
            np.testing.assert_array_equal(p.numpy(), b)


def test_fit_names_metric_strings_and_unknown_names():
    model = nn.Sequential(nn.Linear(3, 1))
    x, y = np.random.rand(16, 3).astype(np.float32), np.random.rand(16, 1).astype(np.float32)
    h = rnn.train.fit(model, x, y, loss="mean_squared_error", metrics="mae", epochs=1, verbose=0)
    assert "mae" in h.history  # one metric, not its letters
    with pytest.raises(ValueError, match="unknown loss 'mean_sqared_error'; accepted: .*mean_squared_error"):
        rnn.train.fit(model, x, y, loss="mean_sqared_error", verbose=0)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'; accepted: acc, accuracy, mae"):
        rnn.train.fit(model, x, y, metrics=["acuracy"], verbose=0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        rnn.train.fit(model, x, y, optimizer="adamm", verbose=0)
    with pytest.raises(ValueError, match=r"lengths must have one entry per example, shape \(16,\)"):
        rnn.train.fit(model, x, y, lengths=np.ones(17, int), verbose=0)


def test_a_2d_input_to_a_recurrent_model_is_refused_with_the_fix():
    model = nn.Sequential(rnn.RNN(1, 4, batch_first=True, return_sequences=False), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"add a feature axis \(x\[\.\.\., None\]"):
        rnn.train.predict(model, np.zeros((7, 5), np.float32))
    with pytest.raises(ValueError, match="add a feature axis"):
        rnn.train.fit(model, np.zeros((7, 5), np.float32), np.zeros((7, 1), np.float32), verbose=0)
    assert rnn.train.predict(model, np.zeros((7, 5, 1), np.float32)).shape == (7, 1)


def test_post_padded_batches_without_lengths_are_flagged():
    x = np.random.default_rng(1).standard_normal((10, 6, 2)).astype(np.float32)
    x[:4, 4:] = 0  # four sequences padded after their end
    model = nn.Sequential(rnn.GRU(2, 3, batch_first=True, return_sequences=False), nn.Linear(3, 1))
    with pytest.warns(UserWarning, match="Pass lengths="):
        rnn.train.fit(model, x, np.zeros((10, 1), np.float32), epochs=1, verbose=0)
    lengths = np.array([4] * 4 + [6] * 6)
    bits = np.random.default_rng(2).integers(0, 2, (40, 6, 1)).astype(np.float32)  # zeros that are data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn.train.fit(model, x, np.zeros((10, 1), np.float32), epochs=1, verbose=0, lengths=lengths)
        model = nn.Sequential(rnn.GRU(1, 3, batch_first=True, return_sequences=False), nn.Linear(3, 1))
        assert 0.3 < (bits[:, -1, 0] == 0).mean() < 0.7  # half end with a zero step, as padding would
        rnn.train.fit(model, bits, np.zeros((40, 1), np.float32), epochs=1, verbose=0)
