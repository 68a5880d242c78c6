"""A first run's compilation says so, once; ``python -m minigrad.warmup`` fills the cache ahead of time."""
import os
import subprocess
import sys

import pytest

import minigrad as mg
from minigrad.backends.loops import _first_compile

pytestmark = pytest.mark.skipif(not mg.available_backends()["numba"]["available"], reason="numba is not installed")

TANH = "import minigrad as mg, numpy as np; mg.set_backend('numba'); print((mg.tensor(np.ones((3, 3))).tanh() * 2).sum())"


def _run(args, cache, **env):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, NUMBA_CACHE_DIR=str(cache), OMP_NUM_THREADS="1", **env))
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_first_compilation_announces_itself_once_and_a_cached_run_is_silent(tmp_path):
    first = _run(["-c", TANH], tmp_path)
    assert first.stderr.count(_first_compile.MESSAGE) == 1
    assert "13.70" in first.stdout  # 9 * 2 tanh(1)
    again = _run(["-c", TANH], tmp_path)
    assert _first_compile.MESSAGE not in again.stderr
    quiet = _run(["-c", TANH], tmp_path / "other", MINIGRAD_QUIET_COMPILE="1")
    assert _first_compile.MESSAGE not in quiet.stderr


def test_warmup_compiles_into_the_cache_and_a_second_run_compiles_nothing(tmp_path):
    first = _run(["-m", "minigrad.warmup", "--parts", "optim", "--dtypes", "float64"], tmp_path)
    count = int(first.stdout.split("compiled ")[1].split()[0])
    assert count >= 5 and _first_compile.MESSAGE not in first.stderr  # it reports the compilation itself
    second = _run(["-m", "minigrad.warmup", "--parts", "optim", "--dtypes", "float64"], tmp_path)
    assert "nothing to compile" in second.stdout


def test_warmup_refuses_unknown_parts():
    with pytest.raises(ValueError, match="unknown part"):
        from minigrad.warmup import warmup
        warmup(parts=("bogus",))
