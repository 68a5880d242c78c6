"""examples/long_range.py: the adding problem and the copy task, RNN vs LSTM vs GRU.

The quick run is too short to solve either task; what must hold even there is checked:
the data and baselines are right, every loss is finite and falls, the gradient probe and
the pictures are written. The generators are checked on large samples directly.
"""
import math
from pathlib import Path

import numpy as np

from tests.test_examples import run_example  # runs examples/<name>.py --quick, returns metrics.json

REPO = Path(__file__).resolve().parent.parent


def test_adding_problem_data_and_baseline(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    from long_range import adding_problem
    x, y = adding_problem(20_000, 30, np.random.default_rng(0))
    assert x.shape == (20_000, 30, 2) and y.shape == (20_000, 1)
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0} and (markers.sum(axis=1) == 2).all()
    assert (markers[:, :15].sum(axis=1) == 1).all() and (markers[:, 15:].sum(axis=1) == 1).all()  # one per half
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert 0 <= x[:, :, 0].min() and x[:, :, 0].max() < 1
    # always answering 1.0 scores Var(u1 + u2) = 1/6; the standard error here is 0.0014
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.005


def test_copy_task_data(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    from long_range import copy_task
    x, y = copy_task(5_000, 12, np.random.default_rng(0), symbols=8, length=5)
    assert x.shape == (5_000, 5 + 12 + 5, 10) and y.shape == (5_000, 5)
    assert (x.sum(axis=2) == 1).all()  # one-hot at every step
    np.testing.assert_array_equal(x[:, :5, :8].argmax(axis=2), y)  # the symbols come first
    assert (x[:, 5:17, 8] == 1).all() and (x[:, 17:, 9] == 1).all()  # blanks, then "recall"
    assert abs(np.bincount(y.ravel(), minlength=8) / y.size - 1 / 8).max() < 0.01  # uniform: ln 8 is the baseline


def test_long_range_quick_run(tmp_path):
    m, out = run_example("long_range", tmp_path)
    assert "RESULT long_range: adding T=10 test MSE" in out and "no-memory baseline 0.167" in out
    assert m["adding_baseline"] == 1 / 6 and abs(m["adding_baseline_measured"] - 1 / 6) < 0.03  # 2000 test sums
    assert m["copy_baseline_ce"] == math.log(8) and m["copy_baseline_accuracy"] == 1 / 8
    for task in ("adding", "copy"):
        assert set(m[task]) == {"rnn", "lstm", "gru"}
        for cell, by_length in m[task].items():
            for run in by_length.values():
                losses = run["train_loss"] + run["val_loss"] + [run["test_loss"]]
                assert len(run["train_loss"]) == 4 and all(np.isfinite(losses))
                assert run["train_loss"][-1] < run["train_loss"][0], (task, cell)
                assert run["updates"] == 4 * 10  # 4 epochs of 640 sequences in batches of 64
    # even 40 updates take the copy task below guessing: the first symbols are only 10 steps back
    assert min(r["5"]["test_loss"] for r in m["copy"].values()) < m["copy_baseline_ce"]
    probe = m["gradient_probe"]
    assert probe["steps"] == 10
    for cell, (at_init, trained) in probe["profiles"].items():
        assert len(at_init) == len(trained) == 10 and all(v > 0 and np.isfinite(v) for v in at_init + trained)
    for png in ("adding_curves.png", "copy_curves.png", "gradients.png"):
        assert (tmp_path / png).stat().st_size > 0
