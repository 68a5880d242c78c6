"""Smoke tests of the benchmark harness: a tiny run writes well-formed JSON and a PNG.

The real benchmark takes minutes; these use one or two kernels at one small size
with few, short rounds, on numpy and numba only (the python backend and the jit
suite's fresh processes are too slow for a unit test).
"""
import json
import os

import pytest

from benchmarks import harness
from benchmarks.run import main, parse_args, run_suites
from benchmarks.suites import SUITES, get_suite, kernel_cases

RECORD_KEYS = {"suite", "case", "backend", "shape", "dtype", "seconds"}
MEASURED_KEYS = {"seconds_min", "seconds_q1", "seconds_q3", "seconds_iqr", "number", "repeats",
                 "throughput", "throughput_unit", "speedup_vs_python", "time_vs_numpy", "check"}


def tiny_config(tmp_path, **kw):
    fields = dict(out_dir=str(tmp_path), backends=("numpy", "numba"), sizes=((8, 16),), dtypes=("float32",),
                  repeats=3, min_round_s=0.001, max_seconds=0.5, kernels=("tanh_backward", "sum(axis=-1)"),
                  verbose=False)
    fields.update(kw)
    return harness.Config(**fields)


def test_kernel_suite_writes_json_records_and_png(tmp_path):
    printed = []
    results = run_suites(tiny_config(tmp_path), ["kernels"], echo=printed.append)

    with open(tmp_path / "kernels.json") as f:
        doc = json.load(f)
    assert doc["suite"] == "kernels"
    for key in ("platform", "cpu_count", "python", "numpy", "numba", "date"):
        assert key in doc["machine"]
    assert doc["config"]["sizes"] == [[8, 16]]
    records = doc["records"]
    assert records and len(records) == len(results["kernels"]["records"])
    assert {r["case"] for r in records} == {"tanh_backward", "sum(axis=-1)"}
    assert {r["backend"] for r in records} == {"numpy", "numba"}
    for r in records:
        assert RECORD_KEYS <= set(r), r
        assert r["shape"] == [8, 16] and r["dtype"] == "float32"
        assert r["status"] in {"measured", "reused", "skipped", "n/a", "error"}
        if r["status"] == "measured":
            assert MEASURED_KEYS <= set(r), r
            assert 0 < r["seconds_min"] <= r["seconds"] and r["repeats"] >= 3 and r["throughput"] > 0
            assert r["speedup_vs_python"] is None  # python was not selected
            assert r["check"] in ("ok", "n/a"), r
        else:
            assert r["seconds"] is None  # reused kernels are listed, never timed twice
    numpy_rows = [r for r in records if r["backend"] == "numpy"]
    assert all(r["status"] == "measured" and r["time_vs_numpy"] == pytest.approx(1.0) for r in numpy_rows)

    pngs = [p for p in os.listdir(tmp_path) if p.endswith(".png")]
    assert pngs and pngs == [os.path.basename(p) for p in results["kernels"]["plots"] if p.endswith(".png")]
    with open(tmp_path / pngs[0], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "tanh_backward" in printed[0] and "sum(axis=-1)" in printed[0]


def test_reused_kernels_show_as_numpys(tmp_path):
    """Whatever numba reuses from numpy at this moment is listed as "(numpy's)", not timed."""
    import minigrad as mg
    reused = mg.available_backends()["numba"]["reuses"]
    case = next((c for c in kernel_cases.CASES if c.kernel in reused and c.resolve is None), None)
    if case is None:
        pytest.skip("numba implements every kernel case itself")
    records = get_suite("kernels").run(tiny_config(tmp_path, kernels=(case.name,)))
    numba = [r for r in records if r["backend"] == "numba" and r["case"] == case.name]
    assert numba and all(r["status"] == "reused" and r["seconds"] is None for r in numba)
    assert "(numpy's)" in get_suite("kernels").report(records)


def test_measure_interleaves_and_reports_quartiles():
    calls = []
    t = harness.measure({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                        repeats=3, min_round_s=0.0005)
    assert set(t) == {"a", "b"}
    for timing in t.values():
        assert timing.repeats == 3 and timing.number >= 1
        assert timing.min <= timing.q1 <= timing.median <= timing.q3
    assert calls[-1] == "b" and "a" in calls[-(t["b"].number + 1):]  # last round of b came right after a's


def test_table_columns_align():
    text = harness.format_table(["case", "time"], [["tanh", "1.2 us"], ["softmax_backward", "31 ms"]])
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1  # right-aligned last column: every line equally long


def test_cli_parses_and_lists(capsys):
    args = parse_args(["--full", "--suite", "kernels,jit", "--backends", "numpy,numba", "--out", "/tmp/x"])
    assert args.mode == "full" and args.suite == ("kernels", "jit") and args.backends == ("numpy", "numba")
    assert parse_args([]).mode == "quick"
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUITES) and "adam_step" in out


def test_every_suite_has_the_interface():
    for name in SUITES:
        suite = get_suite(name)
        assert suite.NAME == name and suite.DESCRIPTION
        for attr in ("run", "report", "plot"):
            assert callable(getattr(suite, attr)), (name, attr)


def test_hand_matmul_is_found_in_a_backends_loops():
    """The hand-written matmul loop is not in the kernel set: it is discovered by name and arity."""
    import types

    import numpy as np

    def matmul_loop(a, b, out):  # the shape of a loop kernel: writes into out
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                for k in range(a.shape[1]):
                    out[i, j] += a[i, k] * b[k, j]

    class Fake:
        loops = types.SimpleNamespace(matmul_loop=matmul_loop, other_loop=lambda x: x)

    f = kernel_cases.hand_matmul("fake", Fake)
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(f(a, b), a @ b)
    assert kernel_cases.hand_matmul("fake", type("NoLoops", (), {})) is None


def test_rnn_suite_times_every_implementation_and_checks_outputs(tmp_path):
    """A tiny RNN-suite run: records per cell/phase/impl, outputs agree, FLOP counts, goals, PNGs."""
    from benchmarks.suites import rnn as suite
    config = tiny_config(tmp_path, backends=("numpy", "numba", "python"), rnn_cells=("LSTM", "GRU"),
                         rnn_sizes=((1, 4, 3, 5), (3, 5, 4, 6)), rnn_impls=("composed",), rnn_memory=())
    printed = []
    results = run_suites(config, ["rnn"], echo=printed.append)
    records = results["rnn"]["records"]
    layer = [r for r in records if r["phase"] in ("train", "infer")]
    assert {(r["cell"], r["phase"]) for r in layer} == {(c, p) for c in ("LSTM", "GRU") for p in ("train", "infer")}
    for r in layer:
        assert r["check"] == "ok", r
        assert r["seconds"] > 0 and r["ms_per_step"] == pytest.approx(r["seconds"] * 1e3)
        assert r["gflops"] == pytest.approx(suite.flops(r["cell"], tuple(r["shape"]), r["phase"]) / r["seconds"] / 1e9)
    impls = {(tuple(r["shape"]), r["backend"]) for r in layer}
    assert ((1, 4, 3, 5), "fused[python]") in impls and ((3, 5, 4, 6), "fused[python]") not in impls  # smallest only
    assert ((3, 5, 4, 6), "composed[numba]") in impls
    paths = {r["recurrent_path"] for r in layer if r["backend"] == "fused[numba]"}
    assert paths and all(p.startswith("one thread per step's product") for p in paths)
    assert all(r["recurrent_path"] is None for r in layer if r["backend"] != "fused[numba]")
    kernels = [r for r in records if r["phase"] == "kernel"]
    assert {r["backend"] for r in kernels} == {"kernel[numba]", "kernel[python]", "kernel[numpy]"}
    assert all(r["speedup_vs_python"] > 0 for r in kernels)
    # an LSTM step's matmul FLOPs: forward 2*4H*(I+H)*B*T, training 3x
    assert suite.flops("LSTM", (32, 100, 64, 128), "infer") == 2 * 512 * 192 * 3200
    assert suite.flops("LSTM", (32, 100, 64, 128), "train") == 3 * 2 * 512 * 192 * 3200
    text = printed[0]
    assert "[LSTM train]" in text and "Goals:" in text and "fused >= 10x composed" in text
    assert sorted(os.path.basename(p) for p in results["rnn"]["plots"]) == ["rnn_infer.png", "rnn_train.png"]


def test_measure_takes_remote_rounds_in_turn():
    """A callable timed elsewhere (calibrate + timed_round) joins the round-robin with local ones."""
    order = []

    class Remote:
        def __call__(self):
            order.append("remote call")

        def calibrate(self, min_round_s):
            return 7, 0.001

        def timed_round(self, number):
            order.append(("remote round", number))
            return 0.002 * number

    t = harness.measure({"local": lambda: order.append("local"), "remote": Remote()}, repeats=3, min_round_s=0.0,
                        before_round={"remote": lambda: order.append("switch")})
    assert t["remote"].median == pytest.approx(0.002) and t["remote"].number == 7 and t["remote"].repeats == 3
    rounds = [o for o in order if o != "local"]
    assert rounds == ["switch", "remote call"] + ["switch", ("remote round", 7)] * 3


def test_torch_server_checks_its_output_and_times_rounds(tmp_path):
    pytest.importorskip("torch")
    from benchmarks.suites import rnn as suite
    config = tiny_config(tmp_path, rnn_impls=("torch",))
    model, x = suite._minigrad_model("GRU", (2, 5, 3, 4), True)
    ref = model(x)[0].numpy()
    server = suite.start_torch("GRU", (2, 5, 3, 4), model.state_dict(), x, ref, config, str(tmp_path), print)
    try:
        assert server.info["check"] == "ok"
        number, seconds = server.runner("train").calibrate(0.001)
        assert number >= 1 and seconds > 0
        assert server.runner("infer").timed_round(3) > 0
    finally:
        server.close()
    os.makedirs(tmp_path / "bad")  # a wrong reference must be reported, not timed as if fine
    bad = suite.start_torch("GRU", (2, 5, 3, 4), model.state_dict(), x, ref + 1.0, config, str(tmp_path / "bad"), print)
    try:
        assert bad.info["check"].startswith("MISMATCH")
    finally:
        bad.close()


def test_cuda_suite_runs_every_case_at_toy_sizes(tmp_path, monkeypatch):
    """The GPU suite end to end at toy sizes: in numba's simulator here (no cuDNN column: PyTorch
    sees no GPU), on the device where there is one."""
    import minigrad as mg
    from benchmarks.suites import charlm
    from benchmarks.suites import cuda as suite
    if not mg.available_backends()["cuda"]["available"]:
        pytest.skip("no cuda backend")
    monkeypatch.setattr(suite, "SIZES", ((2, 2, 3, 4),))
    monkeypatch.setattr(suite, "GEMM_SIZES", (8,))
    monkeypatch.setattr(charlm, "MODEL", dict(charlm.MODEL, vocab=5, embed=3, hidden=4, batch=2, steps=2))
    config = tiny_config(tmp_path, rnn_cells=("LSTM",), repeats=3, max_seconds=0.1)
    printed = []
    records = run_suites(config, ["cuda"], echo=printed.append)["cuda"]["records"]
    lstm = {(r["case"], tuple(r["shape"]), r["backend"]) for r in records if r["case"].startswith("LSTM")}
    assert {(c, s, b) for c in ("LSTM train", "LSTM infer") for s in suite.SIZES for b in ("sequence", "step")} <= lstm
    assert all(r["peak_mib"] > 0 for r in records if r["case"] == "LSTM train")
    gemm = [r for r in records if r["case"] == "sgemm"]
    assert [r["backend"] for r in gemm][:1] == ["minigrad"] and gemm[0]["tflops"] > 0
    char = {r["backend"]: r for r in records if r["case"] == "char_lstm"}
    assert char["gpu"]["seconds"] > 0 and char["cpu[numba]"]["speedup_vs_cpu"] == pytest.approx(1.0)
    assert "Recurrent layers on the GPU" in printed[0] and "char-LSTM" in printed[0]
    assert (tmp_path / "cuda.json").exists() and (tmp_path / "cuda_rnn.png").exists()


def test_charlm_suite_times_minigrad_and_torch_steps(tmp_path, monkeypatch):
    """The char-LSTM step suite at toy size: every CPU backend asked for, PyTorch in its own
    process where it is installed, ratios against it, the OpenBLAS kernel recorded."""
    import json

    from benchmarks.suites import charlm
    monkeypatch.setattr(charlm, "MODEL", dict(charlm.MODEL, vocab=7, embed=3, hidden=5, batch=2, steps=4))
    printed = []
    results = run_suites(tiny_config(tmp_path, backends=("numpy", "numba")), ["charlm"], echo=printed.append)
    by = {r["backend"]: r for r in results["charlm"]["records"]}
    assert {"minigrad[numpy]", "minigrad[numba]"} <= set(by)
    for r in by.values():
        assert r["seconds"] > 0 and r["steps_per_s"] == pytest.approx(1 / r["seconds"])
    if "torch" in by:
        assert by["minigrad[numba]"]["speed_vs_torch"] == pytest.approx(by["torch"]["seconds"] / by["minigrad[numba]"]["seconds"])
        assert "x PyTorch's steps/s" in printed[0]
    machine = json.load(open(results["charlm"]["json"]))["machine"]
    assert "blas" in machine and "blas_env" in machine
    # which path numba's recurrence took is recorded (toy size: below the split threshold)
    assert by["minigrad[numba]"]["recurrent_path"].startswith("one thread per step's product")
    assert by["minigrad[numpy]"]["recurrent_path"] is None


def test_time_to_quality_runs_both_frameworks_on_one_protocol(tmp_path):
    """A toy time-to-quality run: each framework in its own process, curves with paused-clock
    evaluations, the same validation windows, JSON and PNG written."""
    import json
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "time_to_quality.py"), "--quick",
                          "--minutes", "0.02", "--eval-every", "0.3", "--target", "4.0", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.load(open(tmp_path / "time_to_quality.json"))
    runs = {r["framework"].split()[0].split("[")[0]: r for r in doc["results"]}
    assert "minigrad" in runs
    for r in runs.values():
        times = [t for t, _, _ in r["curve"]]
        assert times[0] == 0 and times == sorted(times) and times[-1] >= 0.02 * 60
        assert r["steps"] > 0 and all(0 < v < 10 for _, _, v in r["curve"])
        # when the target was reached is read off the curve (how far a 1.2 s run gets depends on the machine's load)
        first = next((t for t, _, v in r["curve"] if v <= 4.0), None)
        assert r["reached_s"] == first and r["curve"][0][2] > 4.0  # untrained: about ln(vocab) = 4.2
    if "torch" in runs:  # the same validation windows: the untrained losses are close (different weights)
        assert abs(runs["torch"]["curve"][0][2] - runs["minigrad"]["curve"][0][2]) < 0.5
    assert (tmp_path / "time_to_quality.png").exists()
