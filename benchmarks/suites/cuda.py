"""CUDA suite: minigrad's GPU kernels against cuBLAS and cuDNN (PyTorch), strict FP32.

Runs where a GPU is present (``python -m benchmarks --suite cuda``); elsewhere it says why
and records nothing. Every time is of a call that ends with the device synchronised, so
it is the GPU's work plus the host's launches, as a training loop sees it:

* ``rnn``: RNN, LSTM and GRU layers, training step (forward over the sequence,
  ``output.sum().backward()``) and inference (forward under ``no_grad``), at (B, T, I, H)
  in ``SIZES`` (``--quick``: the first four), minigrad's two recurrent paths (the
  sequence kernel and per step: ``MINIGRAD_CUDA_RNN``) against ``torch.nn.<cell>`` on
  cuDNN;
* ``sgemm``: C = A @ B at 1024^3 and 4096^3, float32: minigrad's tiled kernel
  (``MINIGRAD_CUDA_MATMUL=own``) against cuBLAS (``torch.mm``);
* ``char_lstm``: one training step of the text-generation model (``charlm.py``:
  Embedding 65 -> 64, LSTM 256, Linear 256 -> 65, B = 32, T = 100, cross-entropy, clip 5,
  Adam) on the GPU against the same step on minigrad's numba CPU backend.

PyTorch runs in a child process of its own (``TorchChild``) with TF32 switched off, and
its timed rounds take turns with minigrad's (``harness.measure``). Without a CUDA build of
PyTorch there, the cuDNN column is empty and the report says so (``../shared`` notes of
this project hold reference cuDNN times for an H100, but times are only compared within
one run).
"""
import os
import sys

import numpy as np

from .. import harness
from . import charlm
from . import rnn as rnn_suite

NAME = "cuda"
DESCRIPTION = "GPU: RNN/LSTM/GRU sequence vs per-step kernels vs cuDNN, SGEMM vs cuBLAS, char-LSTM GPU vs CPU"

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
SIZES = ((1, 100, 32, 32), (8, 100, 128, 128), (32, 100, 64, 128), (64, 50, 128, 256), (32, 200, 256, 512),
         (128, 100, 512, 1024))
GEMM_SIZES = (1024, 4096)


def _sync():
    from numba import cuda
    cuda.synchronize()


# ------------------------------------------------------------ minigrad side
def _synced(fn, sync):
    """fn, then wait for the device: a call's time is the GPU's work plus the host's launches."""
    def run():
        fn()
        sync()
    return run


def _rnn_case(cell, size, phase):
    """A zero-argument callable: one minigrad step of ``cell`` on the GPU, synchronised."""
    import minigrad as mg
    import rnn
    b, t, i, h = size
    mg.manual_seed(0)
    model = getattr(rnn, cell)(i, h).to("cuda")
    x = mg.tensor(np.random.default_rng(0).standard_normal((t, b, i)).astype(np.float32), device="cuda")
    return _synced(rnn_suite.step(model, x, phase, mg.no_grad), _sync)


def _gemm_case(n):
    import minigrad as mg
    rng = np.random.default_rng(0)
    a, b = (mg.tensor(rng.standard_normal((n, n)).astype(np.float32), device="cuda") for _ in range(2))
    return _synced(lambda: a @ b, _sync)  # (no input requires grad: no graph is recorded)


# --------------------------------------------------------------- torch side
class TorchChild(harness.ChildProcess):
    """PyTorch on the GPU in a child process: ``case(kind, *args)`` builds a case there and
    returns a callable that ``harness.measure`` times remotely."""

    def __init__(self, log_path):
        super().__init__([sys.executable, "-m", "benchmarks.suites.cuda", "--torch-child"], log_path,
                         "the PyTorch process")

    def case(self, *spec):
        self.send("case", *spec)
        return self.remote()


def _torch_case(torch, kind, *args):
    """The child's callable for a case: ("rnn", cell, "B,T,I,H", phase) or ("sgemm", n)."""
    dev = torch.device("cuda")
    torch.manual_seed(0)
    if kind == "sgemm":
        n = int(args[0])
        a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
        return _synced(lambda: torch.mm(a, b), torch.cuda.synchronize)
    cell, size, phase = args[0], tuple(int(v) for v in args[1].split(",")), args[2]
    bsz, t, i, h = size
    model = getattr(torch.nn, cell)(i, h).to(dev)
    x = torch.randn(t, bsz, i, device=dev)
    return _synced(rnn_suite.step(model, x, phase, torch.no_grad), torch.cuda.synchronize)


def torch_child():
    """The child side of ``TorchChild``: one JSON line per command read on stdin."""
    try:
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError(f"PyTorch {torch.__version__} sees no CUDA device")
    except Exception as e:  # ImportError, or a CPU-only build
        harness.reply({"error": str(e)})
        return
    torch.backends.cuda.matmul.allow_tf32 = False  # strict FP32, as minigrad computes
    torch.backends.cudnn.allow_tf32 = False
    harness.reply({"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                   "gpu": torch.cuda.get_device_name(0)})
    current = {}

    def build(cmd, *args):  # "case KIND ARGS...": the callable the next commands time
        current["fn"] = _torch_case(torch, *args)
        current["fn"]()
        return {}
    harness.answer_commands(lambda: current["fn"], build)


# ----------------------------------------------------------------------- run
def _with_env(name, value):
    """A before-round hook that sets one environment variable (read by the backend per call)."""
    return lambda: os.environ.__setitem__(name, value)


def _measure(config, fns, before):
    return harness.measure(fns, repeats=config.repeats, min_round_s=config.min_round_s,
                           max_seconds=config.max_seconds, before_round=before)


def run(config):
    import minigrad as mg
    info = mg.available_backends()["cuda"]
    if not info["available"]:
        config.log(f"[cuda] skipped: {info['reason']}")
        return []
    from minigrad.backends.cuda import _runtime
    if _runtime.simulated():
        config.log("[cuda] numba's simulator: the numbers below time Python threads, not a GPU")
    torch = None
    try:
        torch = TorchChild(os.path.join(config.out_dir, "torch-cuda.log"))
        config.log(f"[cuda] PyTorch {torch.info['torch']}, cuDNN {torch.info['cudnn']} on {torch.info['gpu']}")
    except (RuntimeError, OSError) as e:
        config.log(f"[cuda] no cuDNN/cuBLAS column: {e}")
    saved = {k: os.environ.get(k) for k in ("MINIGRAD_CUDA_RNN", "MINIGRAD_CUDA_MATMUL")}
    records = []
    try:
        records += _run_rnn(config, torch)
        records += _run_gemm(config, torch)
        records += _run_char(config)
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        if torch is not None:
            torch.close()
    return records


def _sizes(config):
    return SIZES if config.mode == "full" else SIZES[:4]


def _run_rnn(config, torch):
    records = []
    for cell in config.rnn_cells:
        for size in _sizes(config):
            for phase in ("train", "infer"):
                fns, before = {}, {}
                for path in ("sequence", "step"):
                    fns[path] = _rnn_case(cell, size, phase)
                    before[path] = _with_env("MINIGRAD_CUDA_RNN", path)
                if torch is not None:
                    fns["cudnn"] = torch.case("rnn", cell, ",".join(map(str, size)), phase)
                t = _measure(config, fns, before)
                base = t["cudnn"].median if "cudnn" in t else None
                for impl, timing in t.items():
                    peak = _peak_bytes(fns[impl], before[impl]) if impl in before else None
                    records.append(harness.record(NAME, f"{cell} {phase}", impl, size, "float32", timing,
                                                  time_vs_cudnn=None if base is None else timing.median / base,
                                                  peak_mib=None if peak is None else peak / 2 ** 20))
                config.log(f"[cuda] {cell} {phase} {size}: " + ", ".join(
                    f"{k} {v.median * 1e3:.2f} ms" for k, v in t.items()))
    return records


def _peak_bytes(fn, before):
    """Device memory one more call needs on top of what is already held (the allocator's counter)."""
    from minigrad.backends import get_backend
    stats = get_backend("cuda").stats
    before()
    stats.reset()
    fn()
    return stats.peak


def _run_gemm(config, torch):
    records = []
    for n in GEMM_SIZES:
        fns = {"minigrad": _gemm_case(n)}
        before = {"minigrad": _with_env("MINIGRAD_CUDA_MATMUL", "own")}
        if torch is not None:
            fns["cublas"] = torch.case("sgemm", n)
        t = _measure(config, fns, before)
        for impl, timing in t.items():
            records.append(harness.record(NAME, "sgemm", impl, (n, n, n), "float32", timing,
                                          tflops=2 * n ** 3 / timing.median / 1e12,
                                          share_of_cublas=(t["cublas"].median / timing.median
                                                           if "cublas" in t else None)))
        config.log(f"[cuda] sgemm {n}^3: " + ", ".join(f"{k} {2 * n ** 3 / v.median / 1e12:.1f} TFLOP/s"
                                                    for k, v in t.items()))
    return records


def _run_char(config):
    import minigrad as mg
    fns, before = {"gpu": charlm.minigrad_step("cuda")}, {}  # (a tensor on "cuda" always runs the cuda kernels)
    if mg.available_backends()["numba"]["available"]:
        fns["cpu[numba]"] = charlm.minigrad_step("cpu")
        before["cpu[numba]"] = lambda: mg.set_backend("numba")
    previous = mg.get_backend().name
    try:
        t = _measure(config, fns, before)
    finally:
        mg.set_backend(previous)
    cpu = t.get("cpu[numba]")
    m = charlm.MODEL
    shape = (m["batch"], m["steps"], m["embed"], m["hidden"])
    config.log("[cuda] char-LSTM step: " + ", ".join(f"{k} {v.median * 1e3:.1f} ms" for k, v in t.items()))
    return [harness.record(NAME, "char_lstm", impl, shape, "float32", timing,
                           speedup_vs_cpu=None if cpu is None else cpu.median / timing.median)
            for impl, timing in t.items()]


# -------------------------------------------------------------------- report
def report(records):
    if not records:
        return "CUDA suite: nothing measured (no GPU here; see the log line above)"
    out = []
    rnn_rows = [r for r in records if r["case"].split()[0] in GATES]
    if rnn_rows:
        keys = list(dict.fromkeys((r["case"], tuple(r["shape"])) for r in rnn_rows))
        t = {(r["case"], tuple(r["shape"]), r["backend"]): r for r in rnn_rows}
        rows = []
        for case, shape in keys:
            ms = {impl: t[(case, shape, impl)]["seconds"] * 1e3 for impl in ("sequence", "step", "cudnn")
                  if (case, shape, impl) in t}
            best = min(v for k, v in ms.items() if k != "cudnn")
            rows.append([case, "x".join(map(str, shape))] + [f"{ms[k]:.3f}" if k in ms else "-"
                                                              for k in ("sequence", "step", "cudnn")]
                        + [harness.fmt_ratio(best / ms["cudnn"]) if "cudnn" in ms else "-"])
        out.append("Recurrent layers on the GPU: ms per call (B x T x I x H), best minigrad path / cuDNN\n"
                   + harness.format_table(["case", "size", "sequence", "per step", "cuDNN", "best/cuDNN"], rows))
    gemm = [r for r in records if r["case"] == "sgemm"]
    if gemm:
        rows = [[f"{r['shape'][0]}^3", r["backend"], f"{r['tflops']:.2f}",
                 "-" if r["share_of_cublas"] is None else f"{100 * r['share_of_cublas']:.0f}%"] for r in gemm]
        out.append("SGEMM float32\n" + harness.format_table(["size", "impl", "TFLOP/s", "of cuBLAS"], rows))
    char = [r for r in records if r["case"] == "char_lstm"]
    if char:
        rows = [[r["backend"], f"{r['seconds'] * 1e3:.2f}",
                 "-" if r["speedup_vs_cpu"] is None else harness.fmt_ratio(r["speedup_vs_cpu"])] for r in char]
        out.append("char-LSTM training step (B=32, T=100, LSTM 256, Adam, clip 5)\n"
                   + harness.format_table(["device", "ms/step", "speed-up vs CPU"], rows))
    return "\n\n".join(out)


def plot(records, out_dir):
    rnn_rows = [r for r in records if r["case"].split()[0] in GATES and r["case"].endswith("train")]
    if not rnn_rows:
        return []
    try:
        plt = harness.pyplot()
    except ImportError:  # a GPU machine without matplotlib: the JSON and the tables still stand
        return []
    cells = list(dict.fromkeys(r["case"].split()[0] for r in rnn_rows))
    fig, axes = plt.subplots(1, len(cells), figsize=(4.5 * len(cells), 3.8), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        rows = [r for r in rnn_rows if r["case"].startswith(cell)]
        sizes = list(dict.fromkeys(tuple(r["shape"]) for r in rows))
        for i, impl in enumerate(("sequence", "step", "cudnn")):
            ys = {tuple(r["shape"]): r["seconds"] * 1e3 for r in rows if r["backend"] == impl}
            xs = [j for j, s in enumerate(sizes) if s in ys]
            ax.plot(xs, [ys[sizes[j]] for j in xs], "o-", label=impl, color=harness.color(impl, i))
        ax.set_yscale("log")
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels(["x".join(map(str, s)) for s in sizes], rotation=30, fontsize=7)
        ax.set_title(f"{cell} training step", fontsize=9)
        ax.set_ylabel("ms per step")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return [harness.save_figure(fig, out_dir, "cuda_rnn.png")]


if __name__ == "__main__" and sys.argv[1:] == ["--torch-child"]:
    torch_child()
