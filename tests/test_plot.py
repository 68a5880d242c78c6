"""minigrad.plot: training curves, forecasts, confusion matrices and benchmark speed-ups.

Each plot is rendered to a small PNG and read back (a real PNG, of the size asked for,
not blank); the numbers drawn are read off the matplotlib artists and checked against
values computed here by hand or with numpy.
"""
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import minigrad as mg
from benchmarks import harness

plot = mg.plot


def assert_png(path, size):
    """A readable PNG of ``size`` (width, height) pixels with something drawn on it."""
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == size
        pixels = np.asarray(im.convert("RGB"), dtype=float)
    assert pixels.std() > 20  # a blank or near-blank image has a tiny spread
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10


def labelled(ax):
    """The lines that have a legend entry, by label (the faint raw curves and markers have none)."""
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


class FakeHistory:
    """What rnn's and Keras's History objects have: .history, .epoch (from 0), .batch_history."""

    def __init__(self, history, epoch, batch_history=None):
        self.history, self.epoch = history, epoch
        if batch_history is not None:
            self.batch_history = batch_history


def keras_like(epochs=3, batches=4):
    h = {"loss": [1.0, 0.6, 0.5][:epochs], "accuracy": [0.5, 0.7, 0.8][:epochs],
         "val_loss": [1.1, 0.7, 0.75][:epochs], "val_accuracy": [0.45, 0.75, 0.7][:epochs],
         "lr": [1e-3, 1e-3, 5e-4][:epochs], "time": [2.0, 2.1, 2.0][:epochs]}
    steps = {"epoch": [e + (b + 1) / batches for e in range(epochs) for b in range(batches)]}
    steps["loss"] = list(np.linspace(1.3, 0.45, len(steps["epoch"])))
    return FakeHistory(h, list(range(epochs)), steps)


# ---------------------------------------------------------------- plot_history
def test_history_png_has_a_panel_per_kind_and_is_the_size_asked(tmp_path):
    fig = plot.plot_history(keras_like(), tmp_path / "h.png", figsize=(5, 4), dpi=40, title="run")
    assert_png(tmp_path / "h.png", (200, 160))
    loss, metric, lr = fig.axes
    assert set(labelled(loss)) == {"loss per step", "val_loss"}
    assert set(labelled(metric)) == {"accuracy", "val_accuracy"}
    assert set(labelled(lr)) == {"lr"}
    assert loss.get_title() == "run" and lr.get_ylabel() == "learning rate"
    assert not any("time" in label for ax in fig.axes for label in labelled(ax))


def test_history_aligns_epoch_and_step_values_on_one_x_axis():
    fig = plot.plot_history(keras_like(epochs=3, batches=4), smooth=0)
    lines = labelled(fig.axes[0])
    # Keras's epochs 0, 1, 2 end at x = 1, 2, 3; batch b of 4 in epoch e ends at e + b/4
    np.testing.assert_allclose(lines["val_loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(lines["loss per step"].get_xdata(), np.arange(1, 13) / 4)
    # epochs counted from 1 are taken as they are
    fig = plot.plot_history(FakeHistory({"loss": [3.0, 2.0]}, [1, 2]))
    np.testing.assert_allclose(labelled(fig.axes[0])["loss"].get_xdata(), [1, 2])


def test_per_step_curves_are_an_ema_with_bias_correction_over_the_faint_raw_values():
    h = FakeHistory({"val_loss": [2.0]}, [0], {"epoch": [1 / 3, 2 / 3, 1.0], "loss": [1.0, 2.0, 3.0]})
    ax = plot.plot_history(h, smooth=0.5).axes[0]
    # s_t = 0.5 s_{t-1} + 0.5 v_t from s_0 = 0, divided by 1 - 0.5**t:
    # 0.5/0.5 = 1;  1.25/0.75 = 5/3;  2.125/0.875 = 17/7
    np.testing.assert_allclose(labelled(ax)["loss per step"].get_ydata(), [1.0, 5 / 3, 17 / 7])
    raw = [line for line in ax.get_lines() if line.get_label() == "_loss per step raw"]
    assert len(raw) == 1 and raw[0].get_alpha() < 0.5
    np.testing.assert_allclose(raw[0].get_ydata(), [1.0, 2.0, 3.0])
    ax = plot.plot_history(h, smooth=0).axes[0]  # off: the raw values, drawn once
    np.testing.assert_allclose(labelled(ax)["loss per step"].get_ydata(), [1.0, 2.0, 3.0])
    assert not any(line.get_label().endswith(" raw") for line in ax.get_lines())


def test_ema_skips_non_finite_values():
    out = plot.history.ema(np.array([1.0, np.nan, 3.0]), 0.5)
    # the NaN is a gap; the third value is the second one averaged: (0.25 + 1.5) / 0.75
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [1.0, 1.75 / 0.75])


def test_two_epochs_get_whole_number_ticks_and_one_epoch_still_shows_a_point():
    ax = plot.plot_history({"loss": [1.0, 0.5], "val_loss": [1.2, 0.8]}).axes[0]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks == [1.0, 2.0]
    ax = plot.plot_history({"loss": [0.7]}).axes[0]
    line = labelled(ax)["loss"]
    assert line.get_marker() == "o" and line.get_markersize() > 0  # a single point, visible
    lo, hi = ax.get_xlim()
    assert lo < 1 < hi and [t for t in ax.get_xticks() if lo <= t <= hi] == [0.0, 1.0, 2.0]


def best_star(fig):
    stars = [line for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1
    return stars[0]


def test_best_epoch_is_marked_where_the_validation_loss_is_lowest():
    fig = plot.plot_history({"loss": [1.0, 0.5, 0.3, 0.2], "val_loss": [1.1, 0.6, 0.7, 0.65]})
    star = best_star(fig)
    assert list(star.get_xdata()) == [2.0] and list(star.get_ydata()) == [0.6]
    note = fig.axes[0].texts[0].get_text()
    assert "val_loss 0.6" in note and "epoch 2" in note
    # without a validation loss: the training loss; an accuracy is best at its highest
    assert list(best_star(plot.plot_history({"loss": [1.0, 0.5, 0.7]})).get_xdata()) == [2.0]
    fig = plot.plot_history({"loss": [1.0, 0.5, 0.4], "val_acc": [0.5, 0.9, 0.8]}, best="val_acc")
    assert list(best_star(fig).get_xdata()) == [2.0] and list(best_star(fig).get_ydata()) == [0.9]
    assert not [line for line in plot.plot_history({"loss": [1.0, 0.5]}, best=None).axes[0].get_lines()
                if line.get_marker() == "*"]


def test_a_dict_of_xy_pairs_gives_one_line_per_name():
    steps = [(i * 50, 3.0 / (1 + i)) for i in range(1, 41)]
    ax = plot.plot_history({"train loss": steps, "val loss": [(500, 2.0), (1000, 1.0)]}).axes[0]
    lines = labelled(ax)
    assert set(lines) == {"train loss", "val loss"}
    np.testing.assert_allclose(lines["val loss"].get_xdata(), [500, 1000])
    np.testing.assert_allclose(lines["val loss"].get_ydata(), [2.0, 1.0])
    assert ax.get_xlabel() == "step"
    # 40 steps next to 2 validation points: the steps are smoothed (a faint raw line behind)
    assert any(line.get_label() == "_train loss raw" for line in ax.get_lines())


def test_history_draws_into_the_callers_axes():
    fig = Figure()
    ax = fig.add_subplot()
    out = plot.plot_history(keras_like(), ax=ax, logy=True)
    assert out is fig and fig.axes == [ax]  # one Axes: the loss panel only, no new axes
    assert set(labelled(ax)) == {"loss per step", "val_loss"} and ax.get_yscale() == "log"
    ax.clear()
    plot.plot_history(keras_like(), ax=ax, best="val_accuracy")  # its panel is not drawn: no star on the losses
    assert not [line for line in ax.get_lines() if line.get_marker() == "*"] and len(labelled(ax)) == 2
    fig = Figure()
    axes = fig.subplots(3)
    plot.plot_history(keras_like(), ax=axes)
    assert [len(labelled(a)) for a in axes] == [2, 2, 1]
    with pytest.raises(ValueError, match="2 axes given for 3 panels"):
        plot.plot_history(keras_like(), ax=axes[:2])


def test_history_errors_are_clear():
    with pytest.raises(ValueError, match="the history is empty"):
        plot.plot_history({})
    with pytest.raises(ValueError, match="the history is empty"):
        plot.plot_history(FakeHistory({}, []))
    with pytest.raises(ValueError, match="the history is empty"):
        plot.plot_history({"time": [1.0, 2.0]})
    with pytest.raises(TypeError, match=r"'loss' holds a non-numeric value 'abc' at index 1"):
        plot.plot_history({"loss": [1.0, "abc"]})
    with pytest.raises(TypeError, match="non-numeric value None"):
        plot.plot_history({"loss": [None]})
    with pytest.raises(ValueError, match=r"'val_loss' has 2 values but the history has 3 epochs"):
        plot.plot_history(FakeHistory({"loss": [1, 2, 3], "val_loss": [1, 2]}, [0, 1, 2]))
    with pytest.raises(ValueError, match=r"batch_history\['loss'\] has 1 values but batch_history\['epoch'\] has 2"):
        plot.plot_history(FakeHistory({"val_loss": [1.0]}, [0], {"epoch": [0.5, 1.0], "loss": [1.0]}))
    with pytest.raises(ValueError, match="no 'epoch' entry"):
        plot.plot_history(FakeHistory({"val_loss": [1.0]}, [0], {"loss": [1.0]}))
    with pytest.raises(ValueError, match="mixes numbers and"):
        plot.plot_history({"loss": [1.0, (2, 0.5)]})
    with pytest.raises(ValueError, match="'loss' has no values"):
        plot.plot_history({"loss": []})
    with pytest.raises(ValueError, match=r"smooth must be in \[0, 1\)"):
        plot.plot_history({"loss": [1.0]}, smooth=1.0)
    with pytest.raises(TypeError, match="expected a History"):
        plot.plot_history([1.0, 2.0])
    with pytest.raises(ValueError, match="best='val_acc' is not a curve"):
        plot.plot_history({"loss": [1.0]}, best="val_acc")


def test_plot_curves_keeps_its_signature_and_returns_the_path(tmp_path):
    path = str(tmp_path / "sub" / "c.png")
    assert mg.plot_curves({"train loss": [1.0, 0.5, 0.4], "accuracy": [0.5, 0.7, 0.8]}, path, "t", "epoch",
                          "MSE", True) == path
    assert_png(path, (770, 638))  # 7 x 5.8 inches at 110 dpi: two panels, losses and the accuracy
    with pytest.raises(ValueError, match="plot_curves: no curves given"):
        mg.plot_curves({}, path)


# ------------------------------------------------------------ plot_predictions
def test_predictions_png_and_one_step_predictions_aligned_to_the_end(tmp_path):
    y = np.sin(np.arange(30) / 3.0)
    pred = y[-10:] + 0.1
    fig = plot.plot_predictions(y, pred, tmp_path / "p.png", figsize=(4, 3), dpi=50, title="sine")
    assert_png(tmp_path / "p.png", (200, 150))
    lines = labelled(fig.axes[0])
    np.testing.assert_allclose(lines["observed"].get_xdata(), np.arange(30))
    line = lines["predicted (MAE 0.1)"]
    np.testing.assert_allclose(line.get_xdata(), np.arange(20, 30))
    np.testing.assert_allclose(line.get_ydata(), pred)


def test_multi_step_forecasts_are_drawn_at_the_time_each_horizon_forecasts():
    T, N, H = 30, 20, 5
    y = np.arange(T, dtype=float)
    start = T - (N + H - 1)  # 6: the last row's last step is the series' last value
    pred = np.array([[start + i + h + 0.5 for h in range(H)] for i in range(N)])  # off by 0.5 everywhere
    lines = labelled(plot.plot_predictions(y, pred).axes[0])
    first, last = lines["predicted, 1 step ahead (MAE 0.5)"], lines["predicted, 5 steps ahead (MAE 0.5)"]
    np.testing.assert_allclose(first.get_xdata(), np.arange(start, start + N))
    np.testing.assert_allclose(first.get_ydata(), pred[:, 0])
    np.testing.assert_allclose(last.get_xdata(), np.arange(start + 4, start + 4 + N))
    np.testing.assert_allclose(last.get_ydata(), pred[:, 4])
    lines = labelled(plot.plot_predictions(y, pred, horizons=[3]).axes[0])
    assert set(lines) == {"observed", "predicted, 3 steps ahead (MAE 0.5)"}
    lines = labelled(plot.plot_predictions(y[:27], pred, start=2, horizons=[1]).axes[0])
    np.testing.assert_allclose(lines["predicted, 1 step ahead (MAE 4.5)"].get_xdata(), np.arange(2, 22))


def test_several_models_and_a_split_score_the_test_part_only():
    y = np.zeros(40)
    model = np.r_[np.full(10, 5.0), np.full(10, 1.0)]  # last 20 steps; wrong by 5 before the split, by 1 after
    fig = plot.plot_predictions(y, {"LSTM": model, "naive": np.full(20, 2.0)}, split=30)
    ax = fig.axes[0]
    assert set(labelled(ax)) == {"observed", "LSTM (MAE on test 1)", "naive (MAE on test 2)"}
    split = [line for line in ax.get_lines() if line.get_label() == "_split"]
    assert len(split) == 1 and list(split[0].get_xdata()) == [30, 30]
    assert [t.get_text().strip() for t in ax.texts] == ["train", "test"]
    shade = ax.patches[0].get_extents()  # the shaded test part spans x = 30 .. 39
    assert shade.width > 0


def test_predictions_against_dates_and_into_the_callers_axes():
    dates = np.datetime64("2000-01-03") + 7 * np.arange(52)
    fig = Figure()
    ax = fig.add_subplot()
    out = plot.plot_predictions(np.arange(52.0), np.arange(12.0) + 40, x=dates, split=dates[40], ax=ax)
    assert out is fig and fig.axes == [ax] and len(labelled(ax)) == 2
    assert "MAE on test 0" in " ".join(labelled(ax))


def test_predictions_errors_are_clear():
    y = np.arange(10.0)
    with pytest.raises(ValueError, match=r"y_true must be the observed series.*y\[:, 0\] followed by"):
        plot.plot_predictions(np.ones((5, 3)), np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"shape \(8, 4\) forecasts 11 time steps .* y_true's 10"):
        plot.plot_predictions(y, np.ones((8, 4)))
    with pytest.raises(ValueError, match="from start=5"):
        plot.plot_predictions(y, np.ones(6), start=5)
    with pytest.raises(ValueError, match=r"horizon 7 is outside 1..4"):
        plot.plot_predictions(y, np.ones((5, 4)), horizons=[7])
    with pytest.raises(ValueError, match="every y_pred has one value per time step"):
        plot.plot_predictions(y, np.ones(5), horizons=[1])
    with pytest.raises(ValueError, match=r"x has shape \(9,\); expected \(10,\)"):
        plot.plot_predictions(y, np.ones(5), x=np.arange(9))
    with pytest.raises(ValueError, match="split=12 is outside"):
        plot.plot_predictions(y, np.ones(5), split=12)
    with pytest.raises(ValueError, match=r"has shape \(2, 2, 2\)"):
        plot.plot_predictions(y, np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="y_true must hold numbers"):
        plot.plot_predictions(["a", "b"], np.ones(2))
    with pytest.raises(ValueError, match="empty dict"):
        plot.plot_predictions(y, {})


# -------------------------------------------------------------- plot_confusion
def test_confusion_counts_match_numpy_and_the_title_gives_the_accuracy(tmp_path):
    rng = np.random.default_rng(1)
    true = rng.integers(0, 4, 300)
    pred = np.where(rng.random(300) < 0.6, true, rng.integers(0, 4, 300))
    fig = plot.plot_confusion(true, pred, tmp_path / "c.png", labels=list("abcd"), figsize=(4, 4), dpi=50)
    assert_png(tmp_path / "c.png", (200, 200))
    ax = fig.axes[0]
    expected = np.bincount(true * 4 + pred, minlength=16).reshape(4, 4)
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    assert [int(t.get_text()) for t in ax.texts] == list(expected.ravel())
    assert f"accuracy {(true == pred).mean():.1%} ({(true == pred).sum()} of 300)" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    assert len(fig.axes) == 2  # and a colour bar


def test_confusion_reads_scores_probabilities_and_logits():
    true = np.array([0, 1, 2, 2, 1])
    logits = np.eye(3)[[0, 2, 2, 1, 1]] * 3.0 - 1.0  # argmax: 0, 2, 2, 1, 1
    counts = plot.plot_confusion(true, logits).axes[0].images[0].get_array()
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [0, 1, 1]])
    binary = np.array([0, 1, 1, 0])

    def counts_of(scores, **kw):
        return plot.plot_confusion(binary, scores, **kw).axes[0].images[0].get_array().tolist()
    assert counts_of(np.array([0.2, 0.7, 0.4, 0.6])) == [[1, 1], [1, 1]]     # probabilities: > 0.5
    assert counts_of(np.array([-2.0, 0.3, 1.5, -0.1])) == [[2, 0], [0, 2]]   # logits: > 0
    assert counts_of(np.array([0.2, 0.7, 0.4, 0.6]), threshold=0.3) == [[1, 1], [0, 2]]
    assert counts_of(np.array([[0.1], [0.9], [0.8], [0.3]])) == [[2, 0], [0, 2]]  # (N, 1) is (N,)
    one_hot = np.eye(2)[binary]
    assert plot.plot_confusion(one_hot, binary).axes[0].images[0].get_array().tolist() == [[2, 0], [0, 2]]


def test_confusion_normalizes_by_row_column_or_total():
    true = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    counts = np.array([[2, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=float)

    def shown(normalize):
        return plot.plot_confusion(true, pred, normalize=normalize).axes[0].images[0].get_array()
    np.testing.assert_allclose(shown("true"), counts / counts.sum(1, keepdims=True))
    np.testing.assert_allclose(shown("pred"), counts / counts.sum(0, keepdims=True))
    np.testing.assert_allclose(shown("all"), counts / 6)
    ax = plot.plot_confusion(true, pred, normalize="true").axes[0]
    assert ax.texts[0].get_text() == "0.67\n(2)"


def test_confusion_into_the_callers_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.plot_confusion([0, 1, 1], [0, 1, 0], ax=ax, title="val") is fig
    assert ax.images and ax.get_title() == "val\naccuracy 66.7% (2 of 3)"


def test_confusion_errors_are_clear():
    with pytest.raises(ValueError, match=r"y_pred has shape \(2,\) and y_true 3 examples"):
        plot.plot_confusion([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="read as binary scores, but y_true has 3 classes"):
        plot.plot_confusion([0, 1, 2], [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="2 labels, but the data has class ids up to 2"):
        plot.plot_confusion([0, 1, 2], [0, 1, 2], labels=["a", "b"])
    with pytest.raises(ValueError, match="normalize must be"):
        plot.plot_confusion([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match=r"y_true\[1\] = 0.5 is not a class id"):
        plot.plot_confusion([0.0, 0.5], [0, 1])
    with pytest.raises(ValueError, match="threshold= applies to binary scores"):
        plot.plot_confusion([0, 1], [0, 1], threshold=0.5)
    with pytest.raises(ValueError, match=r"y_pred\[1\] is not finite"):
        plot.plot_confusion([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError, match="y_true is empty"):
        plot.plot_confusion([], [])


# -------------------------------------------------------------- plot_benchmark
def benchmark_json(tmp_path):
    """A file in the format python -m benchmarks writes, with known times."""
    times = {("tanh", (32, 128)): {"numpy": 2e-6, "numba": 1e-6, "python": 3e-2, "cython": None},
             ("tanh", (64, 512)): {"numpy": 8e-5, "numba": 1e-5, "python": None, "cython": 4e-5},
             ("sum", (32, 128)): {"numpy": 3e-6, "numba": 6e-6, "python": 6e-4, "cython": 1.5e-6}}
    records = [harness.record("kernels", case, backend, shape, "float32", seconds=s,
                              status="measured" if s else "skipped")
               for (case, shape), row in times.items() for backend, s in row.items()]
    path = str(tmp_path / "kernels.json")
    harness.write_json(path, "kernels", harness.Config(), records)
    return path, times


def test_benchmark_bars_are_the_speed_ups_in_the_json(tmp_path):
    path, times = benchmark_json(tmp_path)
    fig = plot.plot_benchmark(path, tmp_path / "b.png", figsize=(6, 3), dpi=40)
    assert_png(tmp_path / "b.png", (240, 120))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["tanh 32x128", "tanh 64x512", "sum 32x128"]
    assert ax.get_yscale() == "log"
    drawn = {}
    for container in ax.containers:
        backend = container.get_label()
        drawn[backend] = [bar.get_y() + bar.get_height() for bar in container]  # bars grow from 1x
    expected = {b: [row["numpy"] / row[b] for row in times.values() if row[b]] for b in ("numba", "python", "cython")}
    assert set(drawn) == set(expected)
    for b in expected:
        np.testing.assert_allclose(drawn[b], expected[b])
    labels = [t.get_text() for t in ax.texts]
    assert "2x" in labels and "0.5x" in labels and "1/15000x" in labels  # numba 2x faster; python 15000x slower
    assert any(line.get_label() == "_numpy (1x)" and list(line.get_ydata()) == [1, 1] for line in ax.get_lines())


def test_benchmark_takes_the_loaded_dict_or_records_and_another_baseline(tmp_path):
    import json
    path, times = benchmark_json(tmp_path)
    with open(path) as f:
        doc = json.load(f)
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.plot_benchmark(doc["records"], baseline="python", backends=["numba"], ax=ax) is fig
    (container,) = ax.containers
    tops = [bar.get_y() + bar.get_height() for bar in container]
    np.testing.assert_allclose(tops, [3e-2 / 1e-6, 6e-4 / 6e-6])  # the cases python ran
    assert plot.benchmark.speedups(doc)["sum 32x128"]["cython"] == pytest.approx(2.0)


def test_benchmark_errors_are_clear(tmp_path):
    path, _ = benchmark_json(tmp_path)
    with pytest.raises(ValueError, match="baseline 'torch' has no timed record; the backends timed are 'numpy'"):
        plot.plot_benchmark(path, baseline="torch")
    with pytest.raises(ValueError, match="is a folder"):
        plot.plot_benchmark(str(tmp_path))
    with pytest.raises(ValueError, match="has no 'records'"):
        plot.plot_benchmark({"suite": "kernels"})
    with pytest.raises(ValueError, match="no record has a positive number under 'gflops'"):
        plot.plot_benchmark(path, metric="gflops")
    with pytest.raises(ValueError, match=r"no speed-up for backend\(s\) \['cuda'\]"):
        plot.plot_benchmark(path, backends=["cuda"])
    with pytest.raises(TypeError, match="expected a JSON path"):
        plot.plot_benchmark(42)
