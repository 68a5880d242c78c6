"""examples/seq_regression.py: the tutorial's stacked SimpleRNN on random targets (nothing to
learn beyond the mean) and on the monthly sunspots (against last value and AR(10))."""
import sys
from pathlib import Path

import numpy as np

from tests.test_examples import run_example  # runs examples/<name>.py --quick, returns metrics.json

REPO = Path(__file__).resolve().parent.parent


def test_seq_regression_random_targets_and_sunspots(tmp_path):
    m, out = run_example("seq_regression", tmp_path)
    assert "RESULT seq_regression: sunspots test MAE" in out
    r = m["random"]
    assert len(r["train_loss_per_epoch"]) == 20 and len(r["heldout_loss_per_epoch"]) == 20
    assert abs(r["y_variance"] - 1 / 12) < 0.01  # uniform [0, 1): variance 1/12
    assert r["train_loss_per_epoch"][-1] < r["train_loss_per_epoch"][0]
    # nothing to learn: on data it never saw, the model is no better than predicting the mean
    assert r["heldout_loss"] > 0.95 * r["heldout_y_variance"]
    s = m["sunspots"]
    # the data and the windows are fixed: "next month = this month" over 1937-1983 is off by 14.84 on average
    assert s["test_windows"] == 564 and abs(s["naive_mae"] - 14.837) < 0.01
    assert s["ar_mae"] < s["naive_mae"]  # a linear AR(10) beats the last value on this noisy series
    assert np.isfinite(s["model_mae"]) and s["model_mae"] < 3 * s["naive_mae"] and len(s["val_loss"]) == 3
    for png in ("random_targets.png", "sunspots_training.png", "sunspots_test.png"):
        assert (tmp_path / png).stat().st_size > 0


def test_autoregression_recovers_a_linear_rule():
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from seq_regression import autoregression
    finally:
        sys.path.remove(str(REPO / "examples"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 10, 1))
    y = (x[:, :, 0] @ np.arange(10.0) + 3.0)[:, None]
    x_new = rng.normal(size=(5, 10, 1))
    np.testing.assert_allclose(autoregression(x, y, x_new), x_new[:, :, 0] @ np.arange(10.0) + 3.0, rtol=1e-9)
