"""Smoke tests of benchmarks/distributed.py: the ring model's arithmetic, the alpha-beta fit,
and a --quick run of the whole benchmark (one and two ranks under mpiexec, seconds)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import distributed as bench

ROOT = Path(__file__).resolve().parent.parent


def test_ring_model_gives_the_textbook_numbers():
    # one node talks to nobody
    assert bench.ring_allreduce_seconds(1, 10**6, alpha=1e-6, beta=1e-9) == 0.0
    # N = 2: 2 messages of n/2 bytes each: 2*alpha + n*beta
    assert bench.ring_allreduce_seconds(2, 1000, alpha=1e-6, beta=1e-9) == pytest.approx(3e-6)
    # N = 8 over 10 GbE (alpha 10 us, 1.25 GB/s), 8 MB: 14 * 10 us + 2 * 7/8 * 8e6 B / 1.25e9 B/s = 11.34 ms
    assert bench.ring_allreduce_seconds(8, 8e6, alpha=10e-6, beta=1 / 1.25e9) == pytest.approx(11.34e-3)
    # the bandwidth term tends to 2 n beta as N grows
    t = bench.ring_allreduce_seconds(10**6, 1e6, alpha=0.0, beta=1e-9)
    assert t == pytest.approx(2e-3, rel=1e-5)


def test_fit_recovers_a_line_and_converts_it_to_the_ring_model():
    sizes = [1024 * 4 ** k for k in range(9)]
    a, b = 3e-6, 1 / 6e9
    fitted_a, fitted_b = bench.fit_alpha_beta(sizes, [a + n * b for n in sizes])
    assert fitted_a == pytest.approx(a, rel=1e-9) and fitted_b == pytest.approx(b, rel=1e-9)
    assert bench.two_end_alpha_beta(sizes, [a + n * b for n in sizes]) == pytest.approx((a, b), rel=1e-9)
    alpha, beta = bench.link_alpha_beta(a, b)
    # at N = 2 the ring model reproduces the fitted line
    assert bench.ring_allreduce_seconds(2, 12345, alpha, beta) == pytest.approx(a + 12345 * b)


def test_quick_benchmark_runs_one_and_two_ranks(tmp_path):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install mpi4py mpich)")
    if bench.find_mpiexec() is None:
        pytest.skip("no mpiexec (pip install mpich)")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "distributed.py"), "--all", "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    doc = json.loads((tmp_path / "distributed.json").read_text())
    summary = doc["summary"]
    assert summary["one"]["global_batch"] == summary["two"]["global_batch"] == bench.QUICK_MODEL["batch"]
    assert summary["two"]["per_rank_batch"] == bench.QUICK_MODEL["batch"] // 2
    assert [r["bytes"] for r in summary["allreduce"]] == bench.QUICK_ALLREDUCE_SIZES
    calls = {(r["model"], r["bucket_mb"]): r["calls"] for r in summary["sync"]}
    assert calls[("LSTM h16", 25)] == 1 and calls[("LSTM h16", 0)] == 7  # embedding, 4 LSTM, 2 Linear tensors
    text = (tmp_path / "distributed.md").read_text()
    assert "Speedup at 2 ranks" in text and "100 Gb InfiniBand" in text
    # every run's own JSON is kept next to the summary
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["round0-r1.json", "round0-r2.json", "warmup.json"]
