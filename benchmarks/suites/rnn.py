"""RNN suite: RNN, LSTM and GRU layers, training step and inference, minigrad vs PyTorch CPU.

For each cell (RNN, LSTM, GRU) and size (B, T, I, H) it times, round-robin in one
process (``harness.measure``), one layer of hidden size H over T steps of a batch of B:

* ``train``: forward over the whole sequence, ``output.sum().backward()`` (every
  parameter's gradient, the input needs none), gradients cleared before each step;
* ``infer``: forward only, under ``no_grad`` (PyTorch: ``torch.no_grad``);

with these implementations, all on the same weights and the same float32 input:

  fused[numba] fused[cython] fused[numpy]   the whole-sequence Function (minigrad/ops/recurrent.py) on
                                            that backend
  composed[numba]                           ``fused=False``: the cells op by op, a graph
                                            node per op per step (numba backend)
  fused[python]                             the numba loop source, interpreted (the
                                            smallest size only)
  torch                                     ``torch.nn.RNN/LSTM/GRU``, CPU, with
                                            ``torch.set_num_threads`` = this machine's cores
                                            (what OpenBLAS uses for numpy), timed in a
                                            child process of its own (see below)

and reports ms per step, sequences per second, GFLOP/s and their share of this
machine's float32 GEMM roof (a large sgemm through numpy, timed in the same run).
FLOPs count the matrix products only, as the issue defines them: a forward pass is
2 * G*H * (I + H) * B * T (G = 1, 4, 3 gates), a training step 3x that (forward,
plus the two gradient products of each matmul).

``kernel`` rows (smallest size): the fused sequence kernels alone, forward + backward
(``k.lstm_forward`` + ``k.lstm_backward``), numba vs the same source interpreted: what
compiling the recurrence buys, without the matmuls around it.

Peak memory (for the cells in ``config.rnn_memory``): each training step runs once more in a fresh
process, after a warm-up step on a tiny batch (so that kernels are loaded and
allocator pools exist). The kernel's peak-RSS counter is reset (``/proc/self/clear_refs``)
just before the step, and peak minus resident-before is what the step needed on top
of the model and its input: arrays for minigrad, PyTorch's CPU allocator for torch,
measured the same way for both (Linux only; elsewhere the column is empty).

Before timing, every implementation's inference output is checked against fused[numpy].

Why PyTorch runs in its own process: both PyTorch's OpenMP threads and OpenBLAS's
threads wait for work by spinning. In one process, after a PyTorch round its idle
threads keep spinning on the two cores while minigrad's BLAS threads need them, and
the other way round: measured there, PyTorch's LSTM step at (32,100,64,128) took 39 ms
instead of 18 ms, and minigrad's slowed too. Users run one framework per process, so
PyTorch runs in a child process (``TorchServer``) with the same weights and input, and
the parent asks it for one timed round at a time: its rounds still take their turn in
the round-robin with minigrad's, so a machine that slows down mid-run slows both. When
the round-robin switches framework it first waits ``SETTLE_S`` for the other one's idle
threads to stop spinning.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .. import harness

NAME = "rnn"
DESCRIPTION = "RNN/LSTM/GRU train step + inference: fused numba/cython/numpy, composed, python, PyTorch CPU"

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
SIZES = ((1, 100, 32, 32), (32, 100, 64, 128), (64, 50, 128, 256), (32, 200, 256, 512))
FUSED = ("numba", "cython", "numpy")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def flops(cell, size, phase):
    """Matrix-product FLOPs of one forward (infer) or training step of one layer."""
    b, t, i, h = size
    fwd = 2 * GATES[cell] * h * (i + h) * b * t
    return 3 * fwd if phase == "train" else fwd


def gemm_roof(log):
    """This machine's float32 GEMM throughput (GFLOP/s): the best of a few 2048^3 sgemms via numpy."""
    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    t = harness.measure({"sgemm": lambda: a @ a}, repeats=5, min_round_s=0.05)["sgemm"]
    roof = 2 * n ** 3 / t.min / 1e9
    log(f"[rnn] float32 GEMM roof: {roof:.0f} GFLOP/s (numpy sgemm {n}^3, best of {t.repeats} rounds)")
    return roof


# ----------------------------------------------------------- implementations
def _minigrad_model(cell, size, fused, seed=0):
    import minigrad as mg
    import rnn
    b, t, i, h = size
    mg.manual_seed(seed)
    model = getattr(rnn, cell)(i, h, fused=fused)
    x = mg.tensor(np.random.default_rng(seed).standard_normal((t, b, i)).astype(np.float32))
    return model, x


def _torch_model(cell, size, state_dict, x):
    """torch.nn.<cell> with the given weights (arrays by PyTorch's names) and x (T, B, I) as a tensor."""
    import torch
    b, t, i, h = size
    model = getattr(torch.nn, cell)(i, h)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(state_dict[name])))
    return model, torch.from_numpy(np.asarray(x))


def step(model, x, phase, no_grad):
    """A zero-argument callable: one training step (grads cleared, forward, sum().backward())
    or one inference forward under ``no_grad`` (minigrad's or torch's: the code is the same)."""
    params = list(model.parameters())

    def train():
        for p in params:
            p.grad = None
        out, _ = model(x)
        out.sum().backward()

    def infer():
        with no_grad():
            return model(x)[0]
    return train if phase == "train" else infer


def recurrent_path(backend, cell, batch, hidden):
    """How ``backend`` runs this size's sequence ("split: 2 threads x 128 units", "blas: ..."),
    or None for a backend with one way only (``recurrent_plan`` of the numba backend)."""
    from minigrad.backends import get_backend
    try:
        plan = getattr(get_backend(backend), "recurrent_plan", None)
    except (ImportError, KeyError, ValueError):
        return None
    if plan is None:
        return None
    p = plan(cell.lower(), batch, hidden)
    if p["path"] == "split":
        return f"split: {p['threads']} threads x {p['unit']} units"
    return f"one thread per step's product ({p['why']})"


def minigrad_step(model, x, phase):
    import minigrad as mg
    return step(model, x, phase, mg.no_grad)


def torch_step(model, x, phase):
    import torch
    return step(model, x, phase, torch.no_grad)


def implementations(cell, size, config, log):
    """{label: (make_step(phase), switch-backend callable or None)} for one cell and size."""
    import minigrad as mg
    available = mg.available_backends()
    impls = {}
    reference, x = _minigrad_model(cell, size, True)
    state = reference.state_dict()

    def minigrad_impl(backend, fused):
        model, _ = _minigrad_model(cell, size, fused)
        model.load_state_dict(state)
        return (lambda phase: minigrad_step(model, x, phase)), (lambda: mg.set_backend(backend))

    for backend in FUSED:
        if backend in config.backends and available[backend]["available"]:
            impls[f"fused[{backend}]"] = minigrad_impl(backend, True)
    if available["numba"]["available"] and "composed" in config.rnn_impls:
        impls["composed[numba]"] = minigrad_impl("numba", False)
    if "python" in config.backends and size == min(config.rnn_sizes):
        impls["fused[python]"] = minigrad_impl("python", True)
    return impls, x, state


def _check(impls, switch_default):
    """Inference output of every implementation vs fused[numpy] -> ({label: 'ok' or 'MISMATCH ...'}, reference)."""
    outs = {}
    for label, (make, switch) in impls.items():
        if switch:
            switch()
        outs[label] = make("infer")().numpy()
    switch_default()
    ref = outs.get("fused[numpy]", next(iter(outs.values())))
    return {label: _compare(y, ref) for label, y in outs.items()}, ref


def _compare(y, ref):
    err = float(np.max(np.abs(y - ref))) if y.shape == ref.shape else float("inf")
    return "ok" if err <= 1e-4 else f"MISMATCH max|diff|={err:.3g}"


# ------------------------------------------------------------------ PyTorch
# Seconds to wait when the round-robin switches between minigrad and PyTorch: idle
# OpenBLAS threads spin for up to ~0.1 s after their last product (2^28 cycles), and
# PyTorch's OpenMP threads spin too; a round started while the other library's threads
# still spin runs on one core.
SETTLE_S = 0.3


class TorchServer(harness.ChildProcess):
    """PyTorch in a child process that runs calls and timed rounds when asked.

    The child loads the same weights and input, checks its inference output against the
    reference, and then answers one JSON line per command on stdin: ``call PHASE`` (one
    untimed call), ``calibrate PHASE MIN_ROUND_S`` and ``round PHASE NUMBER`` (seconds
    for NUMBER calls, timed in the child). ``runner(phase)`` is a callable that
    ``harness.measure`` times remotely, so PyTorch's rounds take turns with minigrad's.
    """

    def __init__(self, npz_path, cell, size, log_path):
        super().__init__([sys.executable, "-m", "benchmarks.suites.rnn", "--torch-server", npz_path, cell,
                          ",".join(map(str, size))], log_path, "the PyTorch process")

    def runner(self, phase):
        return self.remote(phase)


def torch_server(npz_path, cell, size):
    """The child side of ``TorchServer``: answer commands on stdin, one JSON line each."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    data = np.load(npz_path)
    state = {k[len("p_"):]: data[k] for k in data.files if k.startswith("p_")}
    model, x = _torch_model(cell, size, state, data["x"])
    steps = {phase: torch_step(model, x, phase) for phase in ("train", "infer")}
    harness.reply({"check": _compare(steps["infer"]().numpy(), data["ref"]), "torch": torch.__version__,
                   "threads": torch.get_num_threads()})
    harness.answer_commands(steps.__getitem__)


def start_torch(cell, size, state, x, ref, config, tmp, log):
    """A TorchServer for this case, or None (not asked for, or PyTorch missing/failing)."""
    if "torch" not in config.rnn_impls:
        return None
    path = os.path.join(tmp, "case.npz")
    np.savez(path, x=x.numpy(), ref=ref, **{f"p_{k}": np.asarray(v) for k, v in state.items()})
    try:
        return TorchServer(path, cell, size, os.path.join(tmp, "torch.log"))
    except RuntimeError as e:
        log(f"[rnn] no torch column for {cell} {size}: {e}")
        return None


def settling(framework, last, then=None):
    """A before-round hook: wait SETTLE_S when the previous round was the other framework's."""
    def hook():
        if last.get("framework") not in (None, framework):
            time.sleep(SETTLE_S)
        last["framework"] = framework
        if then is not None:
            then()
    return hook


def kernel_case(cell, size, backend):
    """The fused kernels alone (forward + backward, float32) on ``backend``: a zero-argument callable."""
    from minigrad.backends import get_backend
    k = get_backend(backend)
    b, t, i, h = size
    g = GATES[cell] * h
    rng = np.random.default_rng(1)
    f32 = np.float32
    gi = rng.standard_normal((t, b, g)).astype(f32)
    w = (rng.uniform(-1, 1, (g, h)) / np.sqrt(h)).astype(f32)
    bias, h0 = np.zeros(g, f32), np.zeros((b, h), f32)
    d_out = np.ones((t, b, h), f32)

    if cell == "RNN":
        def run():
            _, hs = k.rnn_forward(gi, w, None, bias, h0, None, False, False)
            return k.rnn_backward(hs, w, None, False, False, d_out, None)
    elif cell == "LSTM":
        def run():
            _, hs, cs, gates = k.lstm_forward(gi, w, None, bias, h0, h0, None, False)
            return k.lstm_backward(gates, hs, cs, w, None, False, d_out, None, None)
    else:
        def run():
            _, hs, gates, hn = k.gru_forward(gi, w, None, bias, h0, None, False)
            return k.gru_backward(gates, hn, hs, w, None, False, d_out, None)
    return run


# ------------------------------------------------------------------ memory
def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(cell, size, impl):
    """In a fresh process: the extra peak resident memory (bytes) of one training step."""
    import minigrad as mg
    tiny = (1, 2, size[2], size[3])
    backend, fused = ("torch", None) if impl == "torch" else (impl.split("[")[1].rstrip("]"), impl.startswith("fused"))
    steps = []
    for s in (tiny, size):
        model, x = _minigrad_model(cell, s, bool(fused))
        if impl == "torch":
            import torch
            torch.set_num_threads(os.cpu_count() or 1)
            model, x = _torch_model(cell, s, model.state_dict(), x.numpy())
            steps.append(torch_step(model, x, "train"))
        else:
            mg.set_backend(backend)
            steps.append(minigrad_step(model, x, "train"))
    steps[0]()  # warm-up on the tiny batch: kernels loaded, thread pools started
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter (VmHWM) to the current RSS
    before = _rss_kib("VmRSS")
    steps[1]()
    return (_rss_kib("VmHWM") - before) * 1024


def measure_memory(cell, size, impl, log):
    if not sys.platform.startswith("linux"):
        return None
    cmd = [sys.executable, "-m", "benchmarks.suites.rnn", "--memory", cell, ",".join(map(str, size)), impl]
    try:
        out = subprocess.run(cmd, cwd=_REPO, capture_output=True, text=True, timeout=600, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])["peak_bytes"]
    except (subprocess.SubprocessError, ValueError, IndexError, KeyError) as e:
        log(f"[rnn] memory of {impl} {cell} {size} not measured: {type(e).__name__}: {e}")
        return None


# --------------------------------------------------------------------- run
def run(config):
    import minigrad as mg
    log = config.log
    previous = mg.get_backend().name
    roof = gemm_roof(log)
    records = []
    try:
        for cell in config.rnn_cells:
            for size in config.rnn_sizes:
                records += _run_case(cell, size, config, roof, log)
                mg.set_backend(previous)
            if config.rnn_sizes and "numba" in config.backends:
                records += _run_kernels(cell, min(config.rnn_sizes), config, log)
    finally:
        mg.set_backend(previous)
    return records


def _run_case(cell, size, config, roof, log):
    import minigrad as mg
    previous = mg.get_backend().name
    impls, x, state = implementations(cell, size, config, log)
    checks, ref = _check(impls, lambda: mg.set_backend(previous))
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_torch(cell, size, state, x, ref, config, tmp, log)
        try:
            if server is not None:
                checks["torch"] = server.info["check"]
            for phase in ("train", "infer"):
                last = {}
                fns = {label: make(phase) for label, (make, _) in impls.items()}
                before = {label: settling("minigrad", last, switch) for label, (_, switch) in impls.items()}
                if server is not None:
                    fns["torch"], before["torch"] = server.runner(phase), settling("torch", last)
                timings[phase] = harness.measure(fns, repeats=config.repeats, min_round_s=config.min_round_s,
                                                 max_seconds=config.max_seconds, before_round=before)
        finally:
            if server is not None:
                server.close()
    mg.set_backend(previous)
    records = []
    for phase, t in timings.items():
        base = t["torch"].median if "torch" in t else None
        work = flops(cell, size, phase)
        for label, timing in t.items():
            gflops = work / timing.median / 1e9
            path = recurrent_path(label[6:-1], cell, size[0], size[3]) if label.startswith("fused[") else None
            records.append(harness.record(
                NAME, f"{cell} {phase}", label, size, "float32", timing, cell=cell, phase=phase,
                ms_per_step=timing.median * 1e3, seq_per_s=size[0] / timing.median, gflops=gflops,
                roof_gflops=roof, roof_fraction=gflops / roof, check=checks[label],
                speed_vs_torch=None if base is None else base / timing.median, recurrent_path=path))
        log(f"[rnn] {cell} {phase} {size}: " + ", ".join(f"{k} {v.median * 1e3:.2f} ms" for k, v in t.items()))
    path = recurrent_path("numba", cell, size[0], size[3]) if "fused[numba]" in timings.get("train", {}) else None
    if path:
        log(f"[rnn] {cell} {size}: numba's recurrence runs {path}")
    if cell in config.rnn_memory:
        for r in records:
            if r["phase"] == "train" and r["backend"] != "fused[python]":
                r["peak_bytes"] = measure_memory(cell, size, r["backend"], log)
    return records


def _run_kernels(cell, size, config, log):
    import minigrad as mg
    fns = {b: kernel_case(cell, size, b) for b in ("numba", "python", "cython", "numpy")
           if b in config.backends and mg.available_backends()[b]["available"]}
    t = harness.measure(fns, repeats=config.repeats, min_round_s=config.min_round_s, max_seconds=config.max_seconds)
    py = t["python"].median if "python" in t else None
    log(f"[rnn] {cell} kernels {size}: " + ", ".join(f"{k} {v.median * 1e3:.3f} ms" for k, v in t.items()))
    return [harness.record(NAME, f"{cell} kernel", f"kernel[{b}]", size, "float32", timing, cell=cell,
                           phase="kernel", ms_per_step=timing.median * 1e3,
                           speedup_vs_python=None if py is None else py / timing.median)
            for b, timing in t.items()]


# ------------------------------------------------------------------ report
def _size(r):
    return "x".join(map(str, r["shape"]))


def report(records):
    if not records:
        return "rnn: no records"
    roof = next((r["roof_gflops"] for r in records if r.get("roof_gflops")), None)
    out = [f"RNN suite: one layer, float32, median ms per step (B,T,I,H). GFLOP/s counts the matmuls "
           f"(forward 2*G*H*(I+H)*B*T, train 3x); %roof = share of this machine's sgemm roof "
           f"({roof:.0f} GFLOP/s); xtorch = PyTorch's time / this one's (> 1: faster than PyTorch); "
           f"peak MB = extra resident memory of one training step (fresh process)."]
    for cell in dict.fromkeys(r["cell"] for r in records):
        for phase in ("train", "infer"):
            rows = []
            for r in records:
                if r["cell"] != cell or r["phase"] != phase:
                    continue
                peak = r.get("peak_bytes")
                rows.append([_size(r), r["backend"], f"{r['ms_per_step']:.3g}", f"{r['seq_per_s']:.3g}",
                             f"{r['gflops']:.3g}", f"{100 * r['roof_fraction']:.0f}%",
                             harness.fmt_ratio(r["speed_vs_torch"]),
                             "" if peak is None else f"{peak / 2 ** 20:.1f}", r["check"]])
            if rows:
                out += ["", f"[{cell} {phase}]", harness.format_table(
                    ["B,T,I,H", "impl", "ms", "seq/s", "GFLOP/s", "%roof", "xtorch", "peak MB", "check"], rows,
                    align="ll" + "r" * 6 + "l")]
    kern = [r for r in records if r["phase"] == "kernel"]
    if kern:
        rows = [[r["cell"], _size(r), r["backend"], f"{r['ms_per_step']:.3g}",
                 harness.fmt_ratio(r["speedup_vs_python"])] for r in kern]
        out += ["", "[fused kernels alone, forward + backward]",
                harness.format_table(["cell", "B,T,I,H", "impl", "ms", "x python"], rows, align="lll" + "rr")]
    out += ["", goals(records)]
    return "\n".join(out)


def goals(records):
    """The issue's goals, each with the measured number and whether it is met."""
    t = {(r["cell"], r["phase"], tuple(r["shape"]), r["backend"]): r for r in records}
    lines = ["Goals:"]

    def line(text, value, ok):
        lines.append(f"  [{'met' if ok else 'NOT met'}] {text}: {value}")

    for cell, need in (("LSTM", 1.2), ("GRU", 1.0), ("RNN", 1.0)):
        for size in SIZES[1:]:
            r = t.get((cell, "train", size, "fused[numba]"))
            if r and r.get("speed_vs_torch"):
                line(f"{cell} train {size} fused numba >= {need}x PyTorch", f"{r['speed_vs_torch']:.2f}x",
                     r["speed_vs_torch"] >= need)
    r = t.get(("LSTM", "train", SIZES[-1], "fused[numba]"))
    if r:
        line(f"LSTM train {SIZES[-1]} >= 60% of the GEMM roof", f"{100 * r['roof_fraction']:.0f}%",
             r["roof_fraction"] >= 0.6)
    for (cell, phase, size, impl), r in t.items():
        if impl == "composed[numba]" and phase == "train":
            f = t.get((cell, phase, size, "fused[numba]"))
            if f:
                ratio = r["seconds"] / f["seconds"]
                line(f"{cell} train {size} fused >= 10x composed", f"{ratio:.1f}x", ratio >= 10)
        if impl == "kernel[numba]" and r.get("speedup_vs_python"):
            line(f"{cell} fused kernel {size} numba >= 100x python", f"{r['speedup_vs_python']:.0f}x",
                 r["speedup_vs_python"] >= 100)
        if impl == "fused[numba]" and phase == "train" and r.get("peak_bytes"):
            tr = t.get((cell, phase, size, "torch"))
            if tr and tr.get("peak_bytes"):
                line(f"{cell} train {size} peak memory <= PyTorch's",
                     f"{r['peak_bytes'] / 2 ** 20:.1f} vs {tr['peak_bytes'] / 2 ** 20:.1f} MB",
                     r["peak_bytes"] <= tr["peak_bytes"])
    return "\n".join(lines)


# -------------------------------------------------------------------- plot
def plot(records, out_dir):
    plt = harness.pyplot()
    paths = []
    for phase in ("train", "infer"):
        rs = [r for r in records if r["phase"] == phase]
        if not rs:
            continue
        cells = list(dict.fromkeys(r["cell"] for r in rs))
        fig, axes = plt.subplots(1, len(cells), figsize=(4.5 * len(cells), 4), squeeze=False)
        for ax, cell in zip(axes[0], cells):
            sizes = list(dict.fromkeys(tuple(r["shape"]) for r in rs if r["cell"] == cell))
            impls = list(dict.fromkeys(r["backend"] for r in rs if r["cell"] == cell))
            for i, impl in enumerate(impls):
                pts = [(sizes.index(tuple(r["shape"])), r["gflops"]) for r in rs
                       if r["cell"] == cell and r["backend"] == impl]
                ax.plot(*zip(*pts), marker="o", label=impl, color=harness.color(impl, i),
                        linestyle="--" if impl.startswith("composed") else "-")
            roof = rs[0]["roof_gflops"]
            ax.axhline(roof, color="k", linewidth=0.8, linestyle=":", label=f"sgemm roof {roof:.0f}")
            ax.set_yscale("log")
            ax.set_xticks(range(len(sizes)))
            ax.set_xticklabels(["\n".join(map(str, s)) for s in sizes], fontsize=7)
            ax.set_xlabel("B, T, I, H", fontsize=8)
            ax.set_ylabel("GFLOP/s (higher is better)")
            ax.set_title(f"{cell} {phase}", fontsize=9)
            ax.grid(which="both", alpha=0.3)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        paths.append(harness.save_figure(fig, out_dir, f"rnn_{phase}.png"))
    return paths


def _main(argv):
    if argv[:1] == ["--torch-server"]:
        torch_server(argv[1], argv[2], tuple(int(v) for v in argv[3].split(",")))
        return 0
    if argv[:1] == ["--memory"]:
        cell, size, impl = argv[1], tuple(int(v) for v in argv[2].split(",")), argv[3]
        print(json.dumps({"peak_bytes": memory_child(cell, size, impl)}))
        return 0
    raise SystemExit("usage: python -m benchmarks.suites.rnn --memory CELL B,T,I,H IMPL")


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
