"""Sequential (rnn.keras.models): building, compile/fit/evaluate/predict, what fit refuses
before the first step, weights on disk, callbacks, and the softmax/sigmoid + cross-entropy
fusion."""
import numpy as np
import pytest

import minigrad as mg
from rnn import keras
from rnn.keras import layers as L


def _regression(n=64, t=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, 2)).astype(np.float32)
    return x, x[:, :, :1].sum(axis=1) * 0.3


def _model(**compile_kw):
    model = keras.Sequential([L.LSTM(8, input_shape=(6, 2)), L.Dense(1)])
    model.compile(**{"optimizer": "adam", "loss": "mse", **compile_kw})
    return model


def test_build_summary_and_shapes(capsys):
    model = keras.Sequential()
    model.add(L.Embedding(50, 4, mask_zero=True, input_shape=(7,)))
    model.add(L.Bidirectional(L.GRU(5, return_sequences=True)))
    model.add(L.TimeDistributed(L.Dense(3, activation="softmax")))
    assert model.output_shape == (None, 7, 3)
    model.summary()
    text = capsys.readouterr().out
    bidirectional = f"{model.layers[1].name} (Bidirectional)  "  # names count per process: embedding_3, ...
    for line in ("(Embedding)", "(None, 7, 4)", "(None, 7, 10)", "(None, 7, 3)", "Total params: 563", bidirectional):
        assert line in text, text
    assert model.count_params() == 50 * 4 + 2 * 3 * (5 * (4 + 5) + 2 * 5) + 10 * 3 + 3


def test_a_model_without_input_shape_builds_on_its_first_batch():
    model = keras.Sequential([L.SimpleRNN(4), L.Dense(1)])
    with pytest.raises(ValueError, match="not built yet"):
        model.summary()
    model.compile(optimizer="sgd", loss="mse")
    x, y = _regression()
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.input_shape == (None, 6, 2)


def test_fit_learns_and_history_has_keras_keys():
    mg.manual_seed(0)
    model = _model(optimizer=keras.optimizers.Adam(learning_rate=0.01), metrics=["mae"])
    x, y = _regression(256)
    history = model.fit(x, y, epochs=20, batch_size=32, validation_split=0.25, verbose=0)
    h = history.history
    assert set(h) == {"loss", "mae", "val_loss", "val_mae"} and len(h["loss"]) == 20
    assert h["loss"][-1] < 0.25 * h["loss"][0] and h["val_loss"][-1] < 0.3 * h["val_loss"][0]
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] < 0.25 * h["loss"][0]
    loss, mae = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(float(np.mean((model.predict(x) - y) ** 2)), rel=1e-4)


def test_fit_refuses_bad_input_before_the_first_step():
    model = _model()
    x, y = _regression()
    before = model.get_weights()
    cases = [
        (dict(x=x, y=None), ValueError, "y .the targets. is missing"),
        (dict(x=x, y=y[:10]), ValueError, "x has 64 examples but y has 10"),
        (dict(x=x[:, :, :1], y=y), ValueError, r"the model takes inputs \(None, 6, 2\)"),
        (dict(x=x, y=np.zeros((64, 3))), ValueError, r"targets \(64, 3\) do not fit the model's output \(64, 1\)"),
        (dict(x=x, y=y, validation_split=1.0), ValueError, r"validation_split must be in \[0, 1\)"),
        (dict(x=x[:1], y=y[:1], validation_split=0.5), ValueError, "leaves 0 for validation"),
        (dict(x=x, y=y, batch_size=0), ValueError, "batch_size must be a positive int"),
        (dict(x=x, y=y, epochs=2, initial_epoch=3), ValueError, "initial_epoch"),
        (dict(x=x, y=y, callbacks=[lambda *a: None]), TypeError, "callbacks must be"),
        (dict(x=x, y=y, bogus=1), TypeError, "unexpected argument"),
    ]
    for kwargs, err, match in cases:
        with pytest.raises(err, match=match):
            model.fit(verbose=0, **kwargs)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_names_are_checked_with_the_accepted_ones_listed():
    model = keras.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="unknown loss 'mean_sqared_error'; accepted: .*mean_squared_error"):
        model.compile(loss="mean_sqared_error")
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; accepted: adagrad, adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        model.compile(loss="mse", metrics=["acuracy"])
    with pytest.raises(RuntimeError, match="compile the model first"):
        model.fit(np.zeros((2, 3)), np.zeros((2, 2)))
    model.compile(loss="mean_squared_error", metrics="accuracy")  # a single metric string is one metric
    assert model._metric_specs == ["accuracy"]


def test_sparse_targets_are_checked_and_the_fix_named():
    model = keras.Sequential([L.SimpleRNN(4, input_shape=(5, 1)), L.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    x = np.zeros((4, 5, 1), np.float32)
    with pytest.raises(ValueError, match=r"give one class id per example: targets \(4,\)"):
        model.fit(x, np.eye(3)[[0, 1, 2, 0]], verbose=0)
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 3\)"):
        model.fit(x, np.array([0, 1, 3, 0]), verbose=0)


def test_a_layer_after_a_final_state_rnn_names_the_fix():
    with pytest.raises(ValueError, match="set return_sequences=True on it"):
        keras.Sequential([L.LSTM(4, input_shape=(5, 2)), L.LSTM(3)])
    with pytest.raises(ValueError, match="return_state=True and returns a list"):
        keras.Sequential([L.LSTM(4, return_state=True, input_shape=(5, 2))])
    with pytest.raises(TypeError, match="PyTorch-style module"):
        keras.Sequential([mg.nn.Linear(2, 3)])


def test_predict_wants_the_model_input_shape():
    model = keras.Sequential([L.SimpleRNN(3, input_shape=(None, 1)), L.Dense(1)])
    with pytest.raises(ValueError, match=r"add the feature axis: x.reshape\(7, 4, 1\)"):
        model.predict(np.zeros((7, 4)))  # sequences without their feature axis
    with pytest.raises(ValueError, match=r"takes inputs \(None, None, 1\).*got \(7,\); x needs 3 axes"):
        model.predict(np.zeros((7,)))  # seed 004's model.predict(test) on a bare series
    assert model.predict(np.zeros((7, 4, 1))).shape == (7, 1)
    assert model.predict(np.zeros((0, 4, 1))).shape == (0, 1)


def test_a_non_finite_loss_stops_fit_before_any_weight_changes():
    model = _model()
    x, y = _regression()
    y = y.copy()
    y[5] = np.nan
    before = model.get_weights()
    with pytest.raises(FloatingPointError, match="no weight was changed by this batch"):
        model.fit(x, y, batch_size=64, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("loss,activation,targets", [
    ("sparse_categorical_crossentropy", "softmax", lambda r: r.integers(0, 4, 32)),
    ("categorical_crossentropy", "softmax", lambda r: np.eye(4)[r.integers(0, 4, 32)]),
    ("binary_crossentropy", "sigmoid", lambda r: (r.random((32, 4)) > 0.5).astype(np.float32))])
def test_softmax_and_sigmoid_outputs_train_from_their_logits(loss, activation, targets):
    """The fused form gives the probability form's loss and gradient (to float32 rounding)."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((32, 5, 3)).astype(np.float32), targets(rng)
    model = keras.Sequential([L.GRU(6, input_shape=(5, 3)), L.Dense(4, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    assert model._fused_loss()
    fused, _, _ = model._batch_loss(x, y, None, training=False)
    fused.backward()
    g_fused = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    out = model(x)
    plain = keras.losses.get(loss)(y, out)
    plain.backward()
    assert fused.item() == pytest.approx(plain.item(), rel=1e-5)
    for a, p in zip(g_fused, model.parameters()):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-3, atol=1e-6)
    assert not model.__class__(model.layers)._stack[-1].activation_name is None


def test_a_probability_loss_on_logit_outputs_is_not_fused():
    model = keras.Sequential([L.Dense(3, input_shape=(2,))])  # linear outputs
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert not model._fused_loss()
    model.fit(np.random.rand(8, 2), np.arange(8) % 3, verbose=0)


def test_masked_sequence_outputs_skip_padding_in_the_loss():
    """TimeDistributed outputs after mask_zero: padded steps add nothing to loss or gradient."""
    model = keras.Sequential([L.Embedding(10, 4, mask_zero=True, input_shape=(5,)), L.LSTM(3, return_sequences=True),
                              L.TimeDistributed(L.Dense(1))])
    model.compile(loss="mse")
    x = np.array([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    y = np.ones((2, 5, 1))
    loss_a, _, _ = model._batch_loss(x, y, None, training=False)
    y2 = y.copy()
    y2[0, :2] = 100.0  # targets at padded steps: ignored
    loss_b, _, _ = model._batch_loss(x, y2, None, training=False)
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-6)


def test_weights_save_and_load_atomically_and_a_wrong_file_changes_nothing(tmp_path):
    model = _model()
    path = tmp_path / "w.npz"
    model.save_weights(path)
    other = _model()
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = keras.Sequential([L.GRU(8, input_shape=(6, 2)), L.Dense(1)])
    keep = wrong.get_weights()
    with pytest.raises(ValueError):
        wrong.load_weights(path)
    for a, b in zip(wrong.get_weights(), keep):
        np.testing.assert_array_equal(a, b)
    mg.save({"hello": 1}, tmp_path / "foreign.npz")
    with pytest.raises(ValueError, match="not written by Sequential.save_weights"):
        model.load_weights(tmp_path / "foreign.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.npz", "w.npz"]  # no temporary files left


def test_callbacks_early_stopping_and_initial_epoch():
    events = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: events.append((epoch, round(logs["loss"], 6))))
    model = _model()
    x, y = _regression()
    h = model.fit(x, y, epochs=5, initial_epoch=2, callbacks=[cb], verbose=0)
    assert [e for e, _ in events] == [2, 3, 4] and h.epoch == [2, 3, 4]
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)  # nothing improves by 10
    h = model.fit(x, y, epochs=50, callbacks=[stop], verbose=0)
    assert len(h.history["loss"]) == 2 and model.stop_training


def test_class_weight_and_sample_weight_weigh_examples():
    model = keras.Sequential([L.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(2).standard_normal((6, 3)), np.array([0, 0, 0, 0, 1, 1])
    plain, _, _ = model._batch_loss(x, y, None, training=False)
    weighted, _, _ = model._batch_loss(x, y, np.ones(6) * 2.0, training=False)
    assert weighted.item() == pytest.approx(2 * plain.item(), rel=1e-6)
    with pytest.raises(ValueError, match=r"class_weight has no weight for class\(es\) \[1\]"):
        model.fit(x, y, class_weight={0: 1.0}, verbose=0)
    model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_stateful_model_carries_state_across_batches_until_reset():
    mg.manual_seed(3)
    model = keras.Sequential([L.GRU(4, stateful=True, input_shape=(3, 1)), L.Dense(1)])
    x = np.random.default_rng(4).standard_normal((2, 3, 1)).astype(np.float32)
    first = model.predict(x)
    second = model.predict(x)
    assert not np.allclose(first, second)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x), first, rtol=1e-6)


def test_optimizer_objects_and_clipping():
    model = _model(optimizer=keras.optimizers.RMSprop(learning_rate=0.01, global_clipnorm=1.0))
    x, y = _regression()
    h = model.fit(x, y, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    with pytest.raises(TypeError, match="Keras-style optimizer"):
        model.compile(optimizer=mg.optim.SGD(model.parameters(), lr=0.1), loss="mse")
    assert keras.optimizers.get("rmsprop").learning_rate == 0.001  # Keras's default, not PyTorch's 0.01


def test_a_frozen_layer_keeps_its_weights():
    model = keras.Sequential([L.Dense(4, input_shape=(3,), trainable=False), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    frozen = model.layers[0].get_weights()
    model.fit(np.random.rand(16, 3), np.random.rand(16, 1), epochs=2, verbose=0)
    for a, b in zip(model.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert model.count_params() == 4 * 3 + 4 + 5


def test_model_checkpoint_best_only_every_epoch_and_keep(tmp_path):
    x, y = _regression()
    model = _model(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    every = keras.callbacks.ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{loss:.3f}.npz"), keep=2)
    best = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.npz"), monitor="val_loss", save_best_only=True)
    h = model.fit(x, y, epochs=4, validation_split=0.25, callbacks=[every, best], verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best.npz", f"e03-{h.history['loss'][2]:.3f}.npz", f"e04-{h.history['loss'][3]:.3f}.npz"]
    other = _model()
    other.load_weights(tmp_path / "best.npz")
    best_epoch = int(np.argmin(h.history["val_loss"]))
    assert other.evaluate(x[-16:], y[-16:], verbose=0) == pytest.approx(h.history["val_loss"][best_epoch], rel=1e-5)


def test_csv_logger_writes_a_row_per_epoch_and_appends_on_resume(tmp_path):
    path = tmp_path / "log.csv"
    model = _model()
    x, y = _regression()
    model.fit(x, y, epochs=2, callbacks=[keras.callbacks.CSVLogger(path)], verbose=0)
    model.fit(x, y, epochs=3, initial_epoch=2, callbacks=[keras.callbacks.CSVLogger(path, append=True)], verbose=0)
    rows = path.read_text().strip().splitlines()
    assert rows[0] == "epoch,loss" and [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    assert all(float(r.split(",")[1]) > 0 for r in rows[1:])


def test_learning_rate_callbacks():
    model = _model(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    x, y = _regression()
    seen = []
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    probe = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        model.optimizer.bound.param_groups[0]["lr"]))
    h = model.fit(x, y, epochs=3, callbacks=[sched, probe], verbose=0)
    assert seen == pytest.approx([0.1, 0.05, 0.1 / 3]) and h.history["learning_rate"] == pytest.approx(seen)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=100.0)
    h = model.fit(x, y, epochs=3, callbacks=[plateau], verbose=0)  # after the first, nothing improves by 100
    assert h.history["learning_rate"] == pytest.approx([0.1 / 3, 0.1 / 3, 0.1 / 6])  # the rate each epoch used
    assert model.optimizer.bound.param_groups[0]["lr"] == pytest.approx(0.1 / 12)
    with pytest.raises(KeyError, match="'val_loss' is not in the logs"):
        model.fit(x, y, epochs=1, callbacks=[keras.callbacks.ReduceLROnPlateau()], verbose=0)
