"""The examples in examples/ run end to end and do what they claim.

Each example runs as a reader would run it, ``python examples/<name>.py --quick``
(a small configuration that takes seconds), into a temporary folder; the test then
reads the ``metrics.json`` it wrote and checks the numbers, not just the exit status.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent

# One BLAS thread per example: pytest -n 2 already runs two processes on two cores, and
# OpenBLAS threads that find their core taken spin-wait, which made these small-matrix
# runs about 4x slower when each process had two.
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")


def run_example(name, out, *args):
    """Run examples/<name>.py --quick --out <out> [args]; return (metrics.json as a dict, stdout)."""
    done = subprocess.run([sys.executable, str(REPO / "examples" / f"{name}.py"), "--quick", "--out", str(out),
                           *args], capture_output=True, text=True, timeout=300, env=ENV, cwd=REPO)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads((out / "metrics.json").read_text()), done.stdout


def test_text_generation_learns_and_samples(tmp_path):
    m, out = run_example("text_generation", tmp_path)
    assert "RESULT text_generation: validation" in out and "--- sample, temperature 0.5 ---" in out
    first = np.mean(m["first_losses"][:3])  # ~ln(vocabulary size) at the start
    assert m["train_loss_per_epoch"][-1] < first - 0.5
    assert m["val_bpc"] < m["unigram_bpc"]  # already better than character frequencies
    assert (tmp_path / "training_curve.png").stat().st_size > 0


def test_text_generation_on_two_ranks_trains_as_one_process(tmp_path):
    """``mpiexec -n 2 ... --distributed``: the 16 streams of --quick are shared 8 and 8; the
    losses are the one-process run's to float32 rounding, and rank 0 alone printed."""
    mpiexec = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        mpiexec = None
    if mpiexec is None:
        pytest.skip("needs mpi4py and mpiexec (pip install -e '.[distributed]')")
    one, _ = run_example("text_generation", tmp_path / "one")
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, str(REPO / "examples" / "text_generation.py"), "--quick",
                           "--distributed", "--out", str(tmp_path / "two")],
                          capture_output=True, text=True, timeout=300, env=dict(ENV, NUMBA_NUM_THREADS="1"), cwd=REPO)
    assert done.returncode == 0, f"failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert done.stdout.count("RESULT text_generation") == 1 and "data-parallel over 2 ranks" in done.stdout
    np.testing.assert_allclose(two["train_loss_per_epoch"], one["train_loss_per_epoch"], rtol=1e-5)
    np.testing.assert_allclose(two["val_loss"], one["val_loss"], rtol=1e-5)


def test_sentiment_reports_accuracy_and_baselines(tmp_path):
    m, out = run_example("sentiment", tmp_path)
    assert "RESULT sentiment: test accuracy" in out and "majority-class baseline" in out
    assert len(m["train_loss"]) == 3 and m["train_loss"][-1] < m["train_loss"][0]
    assert 0.0 <= m["test_accuracy"] <= 1.0 and 0.3 < m["majority_accuracy"] < 0.7
    assert m["bag_of_words_accuracy"] > m["majority_accuracy"]  # word counts alone carry sentiment
    assert (tmp_path / "training_curve.png").stat().st_size > 0
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0


def test_forecast_fits_both_series(tmp_path):
    m, out = run_example("forecast", tmp_path)
    assert "RESULT forecast stock: test MAE" in out and "RESULT forecast co2: test MAE" in out
    for name in ("stock", "co2"):
        assert m[name]["val_loss"] and np.isfinite(m[name]["model_mae"])
    assert m["stock"]["horizon"] == 1 and m["co2"]["horizon"] == 26  # CO2: half a year, all steps at once
    assert m["co2"]["seasonal_mae"] < 0.5 * m["co2"]["naive_mae"]  # the seasonal cycle dominates 26 weeks ahead
    for png in ("stock_training_curve.png", "co2_training_curve.png", "co2_forecast.png"):
        assert (tmp_path / png).stat().st_size > 0


def test_vanishing_gradients_rnn_loses_the_gradient_lstm_keeps_it(tmp_path):
    m, out = run_example("vanishing_gradients", tmp_path)
    assert "RESULT vanishing_gradients:" in out
    k, r = m["k"], m["ratio"]
    for stage in r.values():
        for ratios in stage.values():
            assert ratios[0] == 1.0 and all(np.isfinite(ratios))
    # k steps back the vanilla RNN keeps orders of magnitude less gradient than an LSTM
    # whose forget gates start open, and than an LSTM after a little training
    init, trained = r["at initialisation"], r["after training"]
    assert init["RNN (tanh)"][k] < 1e-6 * init["LSTM, forget_bias=1"][k]
    assert trained["RNN (tanh)"][k] < 1e-2 * trained["LSTM"][k]
    assert (tmp_path / "gradient_norms.png").stat().st_size > 0
    assert (tmp_path / "training_curve.png").stat().st_size > 0


def test_demo_forecasts_sunspots_and_writes_its_own_quick_folder(tmp_path):
    m, out = run_example("demo", tmp_path, "--seed", "3")
    assert "validation MAE" in out and m["val_mae"] > 0 and m["naive_mae"] > 0
    assert len(m["train_loss"]) == 2 and m["train_loss"][-1] < m["train_loss"][0]
    for png in ("training_curve.png", "forecast.png"):
        assert (tmp_path / png).stat().st_size > 0


def test_every_example_shows_its_defaults_and_quick_runs_keep_their_own_folder():
    examples = sorted(p.stem for p in (REPO / "examples").glob("*.py") if not p.stem.startswith("_"))
    assert "demo" in examples
    for name in examples:
        done = subprocess.run([sys.executable, str(REPO / "examples" / f"{name}.py"), "--help"], capture_output=True,
                              text=True, timeout=120, env=ENV, cwd=REPO)
        assert done.returncode == 0, done.stderr[-2000:]
        text = re.sub(r"-\s+", "-", " ".join(done.stdout.split()))  # argparse may wrap after a hyphen
        for option in ("--quick", "--seed", "--out", "--device", "--epochs"):
            assert option in text, f"{name} --help lacks {option}"
        assert f"results/{name}-quick with --quick" in text and "(default: 0)" in text
