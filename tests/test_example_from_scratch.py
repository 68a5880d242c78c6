"""examples/from_scratch.py: the tutorial's NumPy RNN with BPTT by hand, the same model in
minigrad (gradchecked, equal gradients, equal SGD steps), and its timing on the backends."""
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_examples import run_example  # runs examples/<name>.py --quick, returns metrics.json

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def from_scratch():
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import from_scratch
    finally:
        sys.path.remove(str(REPO / "examples"))
    return from_scratch


def test_from_scratch_gradients_agree_and_backends_are_timed(tmp_path):
    m, out = run_example("from_scratch", tmp_path)
    assert "RESULT from_scratch:" in out
    t = m["training"]
    assert abs(t["baseline_loss"] - 0.3) < 1e-12 and len(t["val_loss_per_epoch"]) == 1
    assert 0 < t["final_loss"] < 1.0
    g = m["gradients"]
    for model in ("CellModel", "FusedModel"):
        assert g[model]["gradcheck"] is True
        assert g[model]["max_grad_diff"] < 1e-12 and g[model]["loss_diff"] < 1e-12  # float64: the same numbers
    assert g["sgd_weight_diff"] < 1e-12
    rows = m["timing"]["steady"]
    assert [r["case"] for r in rows] == ["H=16, T=20", "H=32, T=40"]
    for r in rows:
        assert all(r[k] > 0 for k in ("numpy", "python", "NumPy class"))
    if "numba" in rows[-1]:  # compiled loops against the same loops interpreted
        assert rows[-1]["python"] > 5 * rows[-1]["numba"]
    assert m["timing"]["first_call"] == {}  # --quick skips the fresh processes
    assert (tmp_path / "training.png").stat().st_size > 0 and (tmp_path / "timings.png").stat().st_size > 0


def test_hand_written_bptt_matches_finite_differences(from_scratch):
    np.random.seed(3)
    model = from_scratch.SimpleRNN(2, 5, 3)
    for name in ("Wxh", "Whh", "Why", "bh", "by"):  # larger weights than 0.01, so every path matters
        setattr(model, name, np.random.randn(*getattr(model, name).shape) * 0.7)
    rng = np.random.default_rng(0)
    x, d = list(rng.normal(size=(6, 2, 1))), list(rng.normal(size=(6, 3, 1)))
    y, _ = model.forward(x)
    grads = model.backward(from_scratch.mse_and_grads(y, d)[1])

    def loss():
        return from_scratch.mse_and_grads(model.forward(x)[0], d)[0]

    eps = 1e-6
    for name, g in grads.items():
        w = getattr(model, name)
        numeric = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            orig = w[i]
            w[i] = orig + eps
            plus = loss()
            w[i] = orig - eps
            minus = loss()
            w[i] = orig
            numeric[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def test_echo_task_targets_are_the_delayed_inputs(from_scratch):
    x, d = from_scratch.echo_task(np.random.default_rng(0), 7, 2)
    x, d = np.ravel(x), np.ravel(d)
    assert np.all(d[:2] == 0) and np.array_equal(d[2:], x[:-2]) and np.all(np.abs(x) <= 1)


def test_first_call_in_a_fresh_process(from_scratch, tmp_path):
    t = from_scratch.fresh_process_first_call("numpy", 8, 5, str(tmp_path))
    assert t["first"] > 0 and t["then"] > 0
