"""Timing, records, tables, JSON and plot helpers shared by every benchmark suite.

How a number is measured (``measure``):

* every callable is called once first, untimed: a numba kernel compiles (or loads
  from its disk cache) on its first call, and that cost is the jit suite's business,
  not the run time's;
* the number of calls per *round* is chosen so that one round takes at least
  ``min_round_s`` (20 ms by default): a single call of a 2 us kernel cannot be timed
  honestly with a clock whose overhead is ~50 ns plus Python's call cost, a loop of
  10,000 calls can;
* rounds are repeated, and the **median** per-call time is reported together with the
  quartiles and the minimum. The median ignores the odd round that lost the CPU to
  another process; the interquartile range says how noisy the measurement was;
* the things compared (e.g. one kernel on numpy, numba and python) are timed
  **round-robin in the same process**: round 1 of each, then round 2 of each, ...
  On this shared 2-vCPU machine one process can run 1.5-1.8x slower than another,
  and the machine's speed drifts during a run; interleaving makes every ratio compare
  numbers taken under the same conditions.

A *record* is one measured thing as a flat dict (see ``record``); a suite returns a
list of them, and ``write_json`` stores them with the machine description.
"""
import dataclasses
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
import timeit

import numpy as np


# ----------------------------------------------------------------- config
@dataclasses.dataclass
class Config:
    """What to run and how hard; built by ``run.py`` from the command line, or by a test.

    Suites read the fields they need and ignore the rest. ``sizes`` are (rows, cols)
    shapes. The interpreted "python" backend costs roughly a microsecond per element,
    so it only runs where the input has at most ``python_max_elements`` elements and
    the case's estimated inner-loop iterations (a matmul's are rows*cols*cols) are at
    most ``python_max_work``.
    """
    mode: str = "quick"
    out_dir: str = "results/bench"
    backends: tuple = ("numpy", "numba", "python", "cython")
    sizes: tuple = ((32, 128), (64, 512))
    dtypes: tuple = ("float32",)
    repeats: int = 5
    min_round_s: float = 0.02
    max_seconds: float = 3.0        # per backend and case: fewer rounds (never < 3) past this
    python_max_elements: int = 64 * 512
    python_max_work: int = 1 << 19
    kernels: tuple = None           # only these kernel cases (names or kernel names); None = all
    jit_repeats: int = 3            # fresh-process pairs (empty cache, warm cache) per jit kernel
    jit_shape: tuple = (64, 512)
    rnn_cells: tuple = ("LSTM", "GRU", "RNN")
    rnn_sizes: tuple = ((1, 100, 32, 32), (32, 100, 64, 128), (64, 50, 128, 256), (32, 200, 256, 512))
    rnn_impls: tuple = ("composed", "torch")  # besides the fused backends in ``backends``
    rnn_memory: tuple = ("LSTM",)   # cells whose training step's peak memory is measured (fresh processes)
    verbose: bool = True

    @classmethod
    def for_mode(cls, mode, **overrides):
        """The preset for ``--quick`` or ``--full``, with any field overridden."""
        presets = {
            "quick": dict(),
            "full": dict(sizes=((32, 128), (64, 512), (256, 1024), (1024, 1024)),
                         dtypes=("float32", "float64"), repeats=11, max_seconds=6.0,
                         jit_repeats=5, rnn_memory=("LSTM", "GRU", "RNN")),
        }
        if mode not in presets:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(presets)}")
        fields = dict(presets[mode], mode=mode)
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields)

    def log(self, *parts):
        """Progress output (stderr, so that stdout holds only the result tables)."""
        if self.verbose:
            print(*parts, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- timing
@dataclasses.dataclass
class Timing:
    """Per-call seconds of one measured callable: the median of ``repeats`` rounds of ``number`` calls."""
    median: float
    q1: float
    q3: float
    min: float
    number: int
    repeats: int
    samples: list

    @property
    def iqr(self):
        return self.q3 - self.q1

    def as_dict(self):
        return dict(seconds=self.median, seconds_min=self.min, seconds_q1=self.q1, seconds_q3=self.q3,
                    seconds_iqr=self.iqr, number=self.number, repeats=self.repeats, samples=self.samples)


def summarize(samples, number=1):
    """A ``Timing`` from per-call times (quartiles by the same rule as ``statistics.quantiles``)."""
    s = sorted(samples)
    if len(s) >= 2:
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    else:
        q1 = q3 = s[0]
    return Timing(statistics.median(s), q1, q3, s[0], number, len(s), s)


def _calibrate(fn, min_round_s):
    """Calls per round so that a round lasts >= min_round_s (and the time one round took)."""
    number = 1
    while True:
        t = timeit.Timer(fn).timeit(number)
        if t >= min_round_s or number >= 10_000_000:
            return number, t
        # Aim a little past the target: the estimate from a short round is rough.
        number = max(number * 2, int(math.ceil(number * 1.2 * min_round_s / max(t, 1e-9))))


def measure(fns, repeats=5, min_round_s=0.02, max_seconds=None, before_round=None, warmup=True):
    """Time several callables against each other, round-robin, in this process.

    ``fns`` maps a label to a zero-argument callable. Returns {label: Timing}.
    ``max_seconds`` bounds the rounds of a slow callable (e.g. the interpreted python
    backend): it gets fewer rounds, but never fewer than 3, so its median still means
    something. ``before_round`` maps a label to an untimed callable run before each of
    its rounds (e.g. to switch minigrad's active backend). ``warmup=False`` skips the
    untimed first call, for callers that already made it.

    A callable may also run somewhere else (another process): if it has methods
    ``calibrate(min_round_s) -> (number, seconds)`` and ``timed_round(number) -> seconds``,
    those replace the local calibration and timing, and its rounds still take their
    turn in the round-robin.
    """
    before_round = before_round or {}
    plan = {}
    for label, fn in fns.items():
        if label in before_round:
            before_round[label]()
        if warmup:
            fn()
        number, t = fn.calibrate(min_round_s) if hasattr(fn, "timed_round") else _calibrate(fn, min_round_s)
        rounds = repeats
        if max_seconds is not None and t * repeats > max_seconds:
            rounds = max(3, min(repeats, int(max_seconds / t)))
        plan[label] = (number, rounds)
    samples = {label: [] for label in fns}
    for r in range(max((rounds for _, rounds in plan.values()), default=0)):
        for label, fn in fns.items():
            number, rounds = plan[label]
            if r >= rounds:
                continue
            if label in before_round:
                before_round[label]()
            elapsed = fn.timed_round(number) if hasattr(fn, "timed_round") else timeit.Timer(fn).timeit(number)
            samples[label].append(elapsed / number)
    return {label: summarize(samples[label], plan[label][0]) for label in fns}


# ------------------------------------------------------------ child processes
class ChildProcess:
    """A framework in a process of its own that answers one JSON line per command line.

    ``cmd`` starts it (cwd: the repository); its first line is a greeting (``info``),
    or ``{"error": ...}``. ``send(*words)`` writes a command and returns the reply;
    ``remote(*prefix)`` is a callable that ``measure`` times in the child through the
    commands ``call PREFIX``, ``calibrate PREFIX MIN_ROUND_S`` and ``round PREFIX NUMBER``
    (the child times NUMBER calls itself), so the child's rounds take turns with the
    parent's. The child's stderr goes to ``log_path``.
    """

    def __init__(self, cmd, log_path, what="the child process"):
        import subprocess
        self.what = what
        self.log = open(log_path, "w")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(cmd, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)
        self.info = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            with open(self.log.name) as f:
                err = (f.read().strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"{self.what} ended: {err}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.what}: {reply['error']}")
        return reply

    def send(self, *words):
        self.proc.stdin.write(" ".join(map(str, words)) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def remote(self, *prefix):
        child = self

        class Remote:
            def __call__(self):
                child.send("call", *prefix)

            def calibrate(self, min_round_s):
                r = child.send("calibrate", *prefix, min_round_s)
                return r["number"], r["seconds"]

            def timed_round(self, number):
                return child.send("round", *prefix, number)["seconds"]
        return Remote()

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            self.proc.wait(timeout=60)
        finally:
            self.log.close()


def reply(obj):
    """The child side's answer: one JSON line on stdout."""
    print(json.dumps(obj), flush=True)


def answer_commands(lookup, other=None):
    """The child side of ``ChildProcess``: answer ``call``/``calibrate``/``round`` for the
    callable ``lookup(*prefix)`` returns, until ``quit``; any other command ``cmd *args``
    is answered with ``other(cmd, *args)``."""
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "quit":
            break
        if cmd == "call":
            lookup(*args)()
            reply({})
        elif cmd == "calibrate":
            number, seconds = _calibrate(lookup(*args[:-1]), float(args[-1]))
            reply({"number": number, "seconds": seconds})
        elif cmd == "round":
            reply({"seconds": timeit.Timer(lookup(*args[:-1])).timeit(int(args[-1]))})
        else:
            reply(other(cmd, *args))


# ---------------------------------------------------------------- records
def record(suite, case, backend, shape, dtype, timing=None, **extra):
    """One result as a flat dict. ``timing`` (a Timing or None) fills the seconds fields.

    Common keys: suite, case, backend, shape (list), dtype, seconds (median per call,
    or None when not measured), seconds_min/q1/q3/iqr, number (calls per round),
    repeats (rounds), samples (per-call seconds of each round, for re-analysis). Suites add
    their own keys (throughput, speedup_vs_python, time_vs_numpy, note, ...).
    """
    r = dict(suite=suite, case=case, backend=backend, shape=list(shape) if shape is not None else None,
             dtype=dtype, seconds=None)
    if timing is not None:
        r.update(timing.as_dict())
    r.update(extra)
    return r


# ------------------------------------------------------------ machine/JSON
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:  # not installed, or broken: say so instead of failing the benchmark
        return None


def machine_info():
    """Where and with what the numbers were taken: needed to read (or distrust) them later."""
    info = dict(
        date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        platform=platform.platform(), machine=platform.machine(), cpu=_cpu_model(),
        cpu_count=os.cpu_count(),
        cpu_affinity=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        python=platform.python_version(), implementation=platform.python_implementation(),
        numpy=np.__version__, numba=_version("numba"), cython=_version("Cython"),
        matplotlib=_version("matplotlib"),
        # Other processes competing for the 2 cores distort everything (multi-threaded BLAS most).
        loadavg=list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        command=" ".join([os.path.basename(sys.executable)] + sys.argv),
    )
    from minigrad.backends import _blas_lib
    info["blas"] = _blas_lib.describe()  # which OpenBLAS kernel numpy's products run on
    info["blas_env"] = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                                   "OMP_NUM_THREADS") if k in os.environ}
    if "torch" in sys.modules:  # only when a suite imported it: importing torch costs ~2 s
        info["torch"] = sys.modules["torch"].__version__
    try:
        import minigrad as mg
        info["backends"] = {name: {k: v for k, v in b.items() if k != "device"}
                            for name, b in mg.available_backends().items()}
    except Exception as e:
        info["backends"] = f"unavailable: {type(e).__name__}: {e}"
    return info


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None  # JSON has no inf/nan
    if isinstance(x, np.dtype):
        return str(x)
    return x


def write_json(path, suite, config, records, seconds_elapsed=None, **extra):
    """Write {suite, machine, config, elapsed_s, records, **extra} to ``path`` (atomically: temp file + rename)."""
    doc = dict(suite=suite, machine=machine_info(), config=dataclasses.asdict(config),
               elapsed_s=seconds_elapsed, **extra, records=records)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(_jsonable(doc), f, indent=1)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------- tables
def fmt_seconds(s):
    """3 significant digits in a unit that suits: '812 ns', '12.3 us', '4.56 ms', '1.20 s'."""
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            return f"{s / scale:.3g} {unit}"


def fmt_ratio(x, suffix="x"):
    if x is None:
        return "-"
    return f"{x:.0f}{suffix}" if x >= 100 else f"{x:.2g}{suffix}" if x < 10 else f"{x:.1f}{suffix}"


def format_table(headers, rows, align=None):
    """Rows of strings as an aligned text table; ``align`` is a string of 'l'/'r' per column."""
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


# ------------------------------------------------------------------ plots
def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed, works over ssh/CI)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, out_dir, name):
    """Save ``fig`` as out_dir/name (PNG), close it, return the path."""
    plt = pyplot()
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# Backends always get the same colour, so plots of different suites read alike.
COLORS = {"numpy": "#1f77b4", "numba": "#d62728", "python": "#7f7f7f", "cython": "#2ca02c",
          "cuda": "#9467bd", "torch": "#ff7f0e"}


def color(name, i=0):
    for key, c in COLORS.items():
        if key in name:
            return c
    return f"C{i % 10}"


def now():
    return time.perf_counter()


def busy_warning():
    """A warning line if other processes keep the CPUs busy (timings will be slow and noisy), else None."""
    if not hasattr(os, "getloadavg"):
        return None
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if load > 0.5 * cpus:
        return (f"WARNING: load average {load:.1f} on {cpus} CPUs: other processes are running; timings "
                f"(multi-threaded BLAS matmul above all) will be slower and noisier than on an idle machine")
    return None
