"""examples/bptt_compare.py: full BPTT against truncated BPTT on the adding problem as a stream.

The quick run (a 4-step dependency, a 240-step stream) is long enough to show the whole
trade-off: the updates each setting makes, the memory it keeps, and that a truncation
shorter than the dependency cannot learn it while a longer one can.
"""
import math
from pathlib import Path

import numpy as np

from tests.test_examples import run_example  # runs examples/<name>.py --quick, returns metrics.json

REPO = Path(__file__).resolve().parent.parent


def test_adding_stream_data(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    from bptt_compare import adding_stream
    x, y = adding_stream(3000, 4, 7, np.random.default_rng(0))
    assert x.shape == (3000, 4, 3) and y.shape == (3000, 4, 2)
    for b in range(4):
        first, second = np.flatnonzero(x[:, b, 1]), np.flatnonzero(x[:, b, 2])
        assert len(first) == len(second) > 100
        np.testing.assert_array_equal(second - first, 7)  # every answer exactly 7 steps after its first marker
        assert (first[1:] > second[:-1]).all() and (first[1:] - second[:-1] <= 7).all()  # gaps of 1 .. 7
        np.testing.assert_array_equal(np.flatnonzero(y[:, b, 1]), second)
        np.testing.assert_allclose(y[second, b, 0], x[first, b, 0] + x[second, b, 0], rtol=1e-6)


def test_bptt_compare_quick_run(tmp_path):
    m, out = run_example("bptt_compare", tmp_path)
    assert "RESULT bptt_compare: best test MSE" in out
    steps, delay, epochs = m["config"]["steps"], m["config"]["delay"], m["config"]["epochs"]
    s = m["settings"]
    assert list(s) == ["full BPTT", "k1=12, k2=12", "k1=3, k2=12", "k1=2, k2=2"]
    assert s["full BPTT"]["k1"] == s["full BPTT"]["k2"] == steps
    for name, r in s.items():
        # counted from the run: full BPTT one update per pass over the stream, TBPTT ceil(T / k1)
        assert r["updates_per_epoch"] == (1 if name == "full BPTT" else math.ceil(steps / r["k1"]))
        assert len(r["train_loss"]) == epochs and len(r["curve"]) == epochs + 1
        assert all(np.isfinite(r["train_loss"])) and np.isfinite(r["test_mse"]) and r["peak_bytes"] > 0
        times = [t for t, _ in r["curve"]]
        assert times == sorted(times) and r["seconds_per_epoch"] > 0
    # memory grows with the steps a backward keeps: all T for full BPTT, k2 otherwise
    assert s["full BPTT"]["peak_bytes"] > 4 * s["k1=2, k2=2"]["peak_bytes"]
    assert s["k1=12, k2=12"]["peak_bytes"] > s["k1=2, k2=2"]["peak_bytes"]
    # the baseline measured on the test stream is Var(u) = 1/12 within sampling error
    assert abs(m["measured_baseline"] - 1 / 12) < 0.02 and m["baseline"] == 1 / 12
    # a truncation longer than the dependency learns it; one shorter than it cannot
    assert s["k1=12, k2=12"]["test_mse"] < 0.2 * m["baseline"] and s["k1=3, k2=12"]["test_mse"] < 0.2 * m["baseline"]
    assert s["k1=2, k2=2"]["test_mse"] > 0.5 * m["baseline"] and delay > 2
    assert (tmp_path / "loss_vs_time.png").stat().st_size > 0
