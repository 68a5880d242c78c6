"""Kernel suite: every kernel of the kernel set, on every CPU backend, at several sizes.

For each benchmark case (a kernel plus realistic inputs) and each size, the suite
times every backend that *implements the kernel itself*, round-robin in one process
(see ``harness.measure``), and reports

* the speedup over the ``"python"`` backend: the very same loop source run by the
  interpreter, so the ratio is exactly what compiling buys;
* the time relative to ``"numpy"`` (the vectorised reference, always measured);
* throughput: elements per second, or GFLOP/s for matmul.

A backend that takes a kernel from numpy (``available_backends()[b]["reuses"]``) is
not timed for it, since that would time numpy twice under another name; the table
shows "(numpy's)" there. What each backend implements is discovered when the suite
runs, so the suite works with whatever subset of kernels exists.

Before timing, every backend's first call (which compiles the numba kernels) is
checked against numpy's result, so a fast but wrong kernel is flagged, not praised.
"""
import dataclasses
import inspect
from typing import Callable, Optional

import numpy as np

from .. import harness

NAME = "kernels"
DESCRIPTION = "every kernel on every CPU backend: speedup over pure Python (same source) and time vs numpy"

SEED = 1234


# ------------------------------------------------------------------ cases
@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark case.

    ``build(shape, dtype, rng)`` returns the kernel's argument tuple for a (rows, cols)
    ``shape``; ``work(shape)`` estimates inner-loop iterations (it caps the python
    backend); ``flops(shape)``, if given, makes throughput GFLOP/s instead of elements/s.
    ``inplace`` kernels (optimizer steps) are checked on their first argument.
    ``resolve(backend_name, backend)`` overrides how the callable is found (used for
    the hand-written matmul loop, which is not in the kernel set).
    """
    name: str
    kernel: str
    family: str
    build: Callable
    work: Callable = lambda s: s[0] * s[1]
    flops: Optional[Callable] = None
    inplace: bool = False
    check: bool = True
    resolve: Optional[Callable] = None


def _randn(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _x(scale=1.0):
    return lambda s, dt, rng: (_randn(rng, s, dt, scale),)


def _saved_g(saved):
    """Inputs for a fused backward kernel: (what forward saved, upstream gradient g)."""
    def build(s, dt, rng):
        x = _randn(rng, s, dt, 2.0)
        return saved(x), _randn(rng, s, dt)
    return build


def _np_tanh(x):
    return np.tanh(x)


def _np_sigmoid(x):
    return (0.5 * np.tanh(0.5 * x) + 0.5).astype(x.dtype)


def _np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


def _np_log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(x.dtype)


def _targets(rng, n, c):
    return rng.integers(0, c, size=n).astype(np.int64)


def _vocab(s):
    """Embedding/scatter size: a quarter as many rows as lookups, so indices repeat ~4x."""
    return max(1, s[0] // 4)


def _scatter_args(s, dt, rng):
    v = _vocab(s)
    idx = rng.integers(0, v, size=s[0]).astype(np.int64)  # repeated indices: must accumulate
    return (v, s[1]), idx, _randn(rng, s, dt), dt, True


def _embedding_args(s, dt, rng):
    v = _vocab(s)
    return rng.integers(0, v, size=s[0]).astype(np.int64), _randn(rng, s, dt), v, None


def _sgd_args(s, dt, rng):
    # lr, momentum, dampening, nesterov, weight_decay, maximize, first
    return _randn(rng, s, dt), _randn(rng, s, dt), _randn(rng, s, dt), 0.01, 0.9, 0.0, False, 0.0, False, False


def _adam_args(s, dt, rng):
    g = _randn(rng, s, dt)
    # m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled (AdamW), maximize
    return (_randn(rng, s, dt), g, 0.1 * g, (g * g).astype(dt), None, 10, 1e-3, 0.9, 0.999, 1e-8,
            0.01, True, False)


def _rmsprop_args(s, dt, rng):
    g = _randn(rng, s, dt)
    # sq, buf (None: no momentum), gavg (None: not centered), lr, alpha, eps, weight_decay, momentum, maximize
    return _randn(rng, s, dt), g, (g * g).astype(dt), None, None, 1e-2, 0.99, 1e-8, 0.0, 0.0, False


def _adagrad_args(s, dt, rng):
    g = _randn(rng, s, dt)
    # acc, clr, eps, weight_decay, maximize
    return _randn(rng, s, dt), g, (g * g).astype(dt), 0.01, 1e-10, 0.0, False


def _matmul_args(s, dt, rng):
    """x (N, C) @ W (C, C): a Linear layer's forward with as many outputs as inputs."""
    return _randn(rng, s, dt), _randn(rng, (s[1], s[1]), dt, 1 / np.sqrt(s[1]))


# Names tried, in order, for the hand-written matmul loop (it is not part of the kernel set).
HAND_MATMUL_NAMES = ("matmul_loop", "matmul_hand", "hand_matmul", "naive_matmul", "matmul_naive")


def hand_matmul(backend_name, backend):
    """The backend's hand-written matmul loop as f(a, b) -> a @ b, or None if it has none.

    numpy has no loop: it answers with its BLAS matmul, which is the baseline the loop
    is compared with. Other backends are searched for a public kernel with one of
    HAND_MATMUL_NAMES, then for a loop kernel (``backend.loops``) with "matmul" in its
    name taking (a, b, out).
    """
    if backend_name == "numpy":
        return backend.matmul
    for attr in HAND_MATMUL_NAMES:
        f = getattr(backend, attr, None)
        if callable(f):
            return f
    loops = getattr(backend, "loops", None)
    for name in sorted(vars(loops) if loops is not None else ()):
        f = getattr(loops, name)
        if "matmul" not in name or not callable(f):
            continue
        try:
            params = inspect.signature(getattr(f, "py_func", f)).parameters
        except (TypeError, ValueError):
            continue
        if len(params) == 3:
            def run_loop(a, b, _loop=f):
                out = np.zeros((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
                _loop(a, b, out)
                return out
            run_loop.__name__ = f"loops.{name}"
            return run_loop
    return None


A = "activation"
AB = "activation backward"
R = "reduction"
RB = "reduction backward"
SM = "softmax"
L = "loss"
IX = "gather/scatter"
MM = "matmul"
RND = "random"
OPT = "optimizer"

CASES = [
    Case("tanh", "tanh", A, _x(2.0)),
    Case("sigmoid", "sigmoid", A, _x(2.0)),
    Case("relu", "relu", A, _x()),
    Case("tanh_backward", "tanh_backward", AB, _saved_g(_np_tanh)),
    Case("sigmoid_backward", "sigmoid_backward", AB, _saved_g(_np_sigmoid)),
    Case("relu_backward", "relu_backward", AB, _saved_g(lambda x: x)),
    Case("leaky_relu_backward", "leaky_relu_backward", AB,
         lambda s, dt, rng: _saved_g(lambda x: x)(s, dt, rng) + (0.01,)),
    Case("clip_backward", "clip_backward", AB,
         lambda s, dt, rng: _saved_g(lambda x: x)(s, dt, rng) + (-1.0, 1.0)),
    Case("sum(all)", "sum", R, lambda s, dt, rng: (_randn(rng, s, dt), None, False)),
    Case("sum(axis=0)", "sum", R, lambda s, dt, rng: (_randn(rng, s, dt), (0,), False)),
    Case("sum(axis=-1)", "sum", R, lambda s, dt, rng: (_randn(rng, s, dt), (1,), False)),
    Case("max(axis=-1)", "max", R, lambda s, dt, rng: (_randn(rng, s, dt), (1,), False)),
    Case("var(axis=-1)", "var", R, lambda s, dt, rng: (_randn(rng, s, dt), (1,), 0, False)),
    Case("sum_to_shape(bias)", "sum_to_shape", R, lambda s, dt, rng: (_randn(rng, s, dt), (s[1],))),
    Case("sumsq", "sumsq", R, _x()),
    Case("minmax_backward", "minmax_backward", RB,
         lambda s, dt, rng: (lambda x: (x, x.max(axis=1), _randn(rng, s[0], dt), (1,), False))(_randn(rng, s, dt))),
    Case("var_backward", "var_backward", RB,
         lambda s, dt, rng: (_randn(rng, s, dt), _randn(rng, s[0], dt), (1,), 0, False)),
    Case("softmax", "softmax", SM, lambda s, dt, rng: (_randn(rng, s, dt, 3.0), 1)),
    Case("log_softmax", "log_softmax", SM, lambda s, dt, rng: (_randn(rng, s, dt, 3.0), 1)),
    Case("softmax_backward", "softmax_backward", SM,
         lambda s, dt, rng: (_np_softmax(_randn(rng, s, dt, 3.0)), _randn(rng, s, dt), 1)),
    Case("log_softmax_backward", "log_softmax_backward", SM,
         lambda s, dt, rng: (_np_log_softmax(_randn(rng, s, dt, 3.0)), _randn(rng, s, dt), 1)),
    Case("cross_entropy", "cross_entropy", L,
         lambda s, dt, rng: (_randn(rng, s, dt, 3.0), _targets(rng, *s), -100, 0.0)),
    Case("cross_entropy_backward", "cross_entropy_backward", L,
         lambda s, dt, rng: (_np_log_softmax(_randn(rng, s, dt, 3.0)), _targets(rng, *s),
                             _randn(rng, s[0], dt), -100, 0.0)),
    Case("embedding_backward", "embedding_backward", IX, _embedding_args),
    Case("scatter_add(repeats)", "scatter_add", IX, _scatter_args),
    Case("matmul", "matmul", MM, _matmul_args,
         work=lambda s: s[0] * s[1] * s[1], flops=lambda s: 2 * s[0] * s[1] * s[1]),
    Case("matmul(hand loop)", "matmul", MM, _matmul_args,
         work=lambda s: s[0] * s[1] * s[1], flops=lambda s: 2 * s[0] * s[1] * s[1], resolve=hand_matmul),
    Case("dropout_mask", "dropout_mask", RND,
         lambda s, dt, rng: (s, 0.1, np.random.default_rng(SEED), dt), check=False),
    Case("sgd_step(momentum)", "sgd_step", OPT, _sgd_args, inplace=True),
    Case("adam_step", "adam_step", OPT, _adam_args, inplace=True),
    Case("rmsprop_step", "rmsprop_step", OPT, _rmsprop_args, inplace=True),
    Case("adagrad_step", "adagrad_step", OPT, _adagrad_args, inplace=True),
]
FAMILIES = list(dict.fromkeys(c.family for c in CASES))


def find_case(name):
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(f"no kernel case {name!r}; cases: {', '.join(c.name for c in CASES)}")


def select_cases(names=None):
    """The cases named (by case name or kernel name), in suite order; all of them for None."""
    if not names:
        return list(CASES)
    wanted = set(names)
    unknown = wanted - {c.name for c in CASES} - {c.kernel for c in CASES}
    if unknown:
        raise KeyError(f"unknown kernel case(s) {sorted(unknown)}; cases: {', '.join(c.name for c in CASES)}")
    return [c for c in CASES if c.name in wanted or c.kernel in wanted]


# ------------------------------------------------------------- discovery
def load_backends(names, log=print):
    """{name: (backend, reuses)} for the requested CPU backends that load; numpy always first.

    numpy is the baseline of every ratio, so it is measured even if not asked for.
    Missing backends are reported on stderr with the registry's reason.
    """
    import minigrad.backends as registry
    report = registry.available_backends()
    out = {}
    for name in ["numpy"] + [n for n in names if n != "numpy"]:
        info = report.get(name)
        if info is None:
            raise ValueError(f"unknown backend {name!r}; known: {', '.join(report)}")
        if not info["available"]:
            log(f"[kernels] backend {name!r} skipped: {info['reason']}")
            continue
        if info["device"] != "cpu":
            continue
        out[name] = (registry.get_backend(name), dict(info["reuses"]))
    return out


def implementation(case, name, backend, reuses):
    """("own", fn) if backend ``name`` implements the case itself, else ("reused", owner) or ("n/a", why)."""
    if case.resolve is not None:
        fn = case.resolve(name, backend)
        return ("own", fn) if fn is not None else ("n/a", "no hand-written loop in this backend")
    if case.kernel in reuses:
        return "reused", reuses[case.kernel]
    fn = getattr(backend, case.kernel, None)
    if fn is None:
        return "n/a", f"backend has no kernel {case.kernel!r}"
    return "own", fn


# ----------------------------------------------------------------- checks
def _leaves(x):
    if isinstance(x, (tuple, list)):
        for v in x:
            yield from _leaves(v)
    elif x is not None:
        yield np.asarray(x)


def compare(result, reference, dtype):
    """'ok', or 'MISMATCH ...' when ``result`` differs from numpy's beyond float tolerance.

    float32 is loose (rtol 1e-3) because compiled kernels may sum in another order
    (fastmath) and the float32 tanh is a rational approximation.
    """
    rtol, atol = (1e-3, 1e-4) if np.dtype(dtype) == np.float32 else (1e-7, 1e-9)
    got, want = list(_leaves(result)), list(_leaves(reference))
    if len(got) != len(want):
        return f"MISMATCH: {len(got)} outputs, numpy gives {len(want)}"
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return f"MISMATCH: shape {g.shape}, numpy gives {w.shape}"
        if not np.allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True):
            err = np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))
            return f"MISMATCH: max abs error {err:.3g}"
    return "ok"


# -------------------------------------------------------------------- run
def _measure_case(case, shape, dtype, backends, config):
    """Records for one (case, shape, dtype): every backend, timed against each other."""
    dt = np.dtype(dtype)
    n_elem = shape[0] * shape[1]
    base = dict(kernel=case.kernel, family=case.family, elements=n_elem)
    records, fns, outputs, notes = {}, {}, {}, {}
    for name, (backend, reuses) in backends.items():
        status, what = implementation(case, name, backend, reuses)
        if status == "own" and name == "python" and (case.work(shape) > config.python_max_work or
                                                      n_elem > config.python_max_elements):
            status, what = "skipped", (f"python runs only up to {config.python_max_elements} elements and "
                                       f"{config.python_max_work} loop iterations")
        if status != "own":
            records[name] = harness.record(NAME, case.name, name, shape, dtype, status=status,
                                           note=(f"reuses {what}'s kernel" if status == "reused" else what), **base)
            continue
        args = case.build(shape, dt, np.random.default_rng(SEED))  # same inputs for every backend
        try:
            out = what(*args)  # first call: compiles numba kernels; its result is checked below
        except Exception as e:  # a broken kernel must not stop the other measurements
            records[name] = harness.record(NAME, case.name, name, shape, dtype, status="error",
                                           note=f"{type(e).__name__}: {e}"[:300], **base)
            continue
        # Copy now: an in-place kernel's first argument keeps changing while it is timed.
        outputs[name] = np.array(args[0], copy=True) if case.inplace else out
        fns[name] = (lambda f, a: lambda: f(*a))(what, args)
        if getattr(what, "__name__", "").startswith("loops."):
            notes[name] = what.__name__
    timings = harness.measure(fns, repeats=config.repeats, min_round_s=config.min_round_s,
                              max_seconds=config.max_seconds, warmup=False) if fns else {}
    t_py = timings["python"].median if "python" in timings else None
    t_np = timings["numpy"].median if "numpy" in timings else None
    for name, t in timings.items():
        if case.flops is not None:
            throughput, unit = case.flops(shape) / t.median / 1e9, "GFLOP/s"
        else:
            throughput, unit = n_elem / t.median, "elements/s"
        check = "n/a"
        if case.check and "numpy" in outputs and name != "numpy":
            check = compare(outputs[name], outputs["numpy"], dt)
        records[name] = harness.record(
            NAME, case.name, name, shape, dtype, t, status="measured", throughput=throughput,
            throughput_unit=unit, speedup_vs_python=(t_py / t.median if t_py else None),
            time_vs_numpy=(t.median / t_np if t_np else None), check=check, note=notes.get(name), **base)
    return [records[name] for name in backends if name in records]


def run(config):
    """Run every selected case at every size and dtype; returns the list of records."""
    backends = load_backends(config.backends, config.log)
    cases = select_cases(config.kernels)
    config.log(f"[kernels] backends: {', '.join(backends)}; {len(cases)} cases x {len(config.sizes)} sizes"
               f" x {len(config.dtypes)} dtypes")
    records = []
    for dtype in config.dtypes:
        for case in cases:
            t0 = harness.now()
            for shape in config.sizes:
                records += _measure_case(case, tuple(shape), dtype, backends, config)
            config.log(f"[kernels] {dtype} {case.name}: {harness.now() - t0:.1f} s")
    return records


# ----------------------------------------------------------------- report
def _cell(r):
    if r is None:
        return "-"
    if r["status"] == "measured":
        return harness.fmt_seconds(r["seconds"])
    if r["status"] == "reused":
        return "(numpy's)"
    return {"skipped": "-", "n/a": "n/a", "error": "ERROR"}[r["status"]]


def report(records):
    """One table per dtype: times per backend, speedup over python, time relative to numpy."""
    if not records:
        return "kernels: no records"
    backends = list(dict.fromkeys(r["backend"] for r in records))
    compiled = [b for b in backends if b != "python"]
    others = [b for b in backends if b not in ("numpy", "python")]
    out = ["Kernel suite: median time per call. 'xpy' = speedup over the python backend (same loop source,",
           "interpreted; for numpy, its own vectorised kernel); '/np' = time relative to numpy (< 1 is faster",
           "than numpy); (numpy's) = the backend reuses numpy's kernel, so it is not timed; '-' = not run",
           "(python is capped to small work); n/a = the backend has no such kernel;",
           "iqr% = the noisiest backend's interquartile range as % of its median."]
    problems = []
    for dtype in dict.fromkeys(r["dtype"] for r in records):
        by_key = {}
        for r in records:
            if r["dtype"] == dtype:
                by_key.setdefault((r["case"], tuple(r["shape"])), {})[r["backend"]] = r
        headers = ["case", "shape"] + backends + [f"{b} xpy" for b in compiled if "python" in backends] + \
                  [f"{b} /np" for b in others] + ["iqr%"]
        rows = []
        for (case, shape), row in by_key.items():
            cells = [case, "x".join(map(str, shape))] + [_cell(row.get(b)) for b in backends]
            if "python" in backends:
                cells += [harness.fmt_ratio(row[b].get("speedup_vs_python")) if b in row and
                          row[b]["status"] == "measured" and b != "python" else "" for b in compiled]
            cells += [harness.fmt_ratio(row[b].get("time_vs_numpy"), "") if b in row and row[b]["status"] == "measured"
                      else "" for b in others]
            spreads = [r["seconds_iqr"] / r["seconds"] for r in row.values() if r["status"] == "measured"]
            cells.append(f"{100 * max(spreads):.0f}" if spreads else "")
            rows.append(cells)
            for r in row.values():
                if r["status"] == "error" or str(r.get("check", "")).startswith("MISMATCH"):
                    problems.append(f"  {r['backend']} {case} {r['shape']} {dtype}: "
                                    f"{r.get('note') if r['status'] == 'error' else r['check']}")
        out += ["", f"[{dtype}]", harness.format_table(headers, rows, align="ll" + "r" * (len(headers) - 2))]
    loops = {r["backend"]: r["note"] for r in records
             if r["case"] == "matmul(hand loop)" and r["status"] == "measured" and r.get("note")}
    if loops:
        out.append("matmul(hand loop) runs " + ", ".join(f"{b}: {n}" for b, n in loops.items()) +
                   "; its numpy column is numpy's BLAS matmul, for comparison.")
    flops = [r for r in records if r["status"] == "measured" and r.get("throughput_unit") == "GFLOP/s"]
    if flops:
        # GFLOP/s makes a starved BLAS visible: OpenBLAS's 2 threads reach ~165 GFLOP/s on a large
        # float32 GEMM here, but drop 100-1000x when another process occupies one of the 2 cores.
        out.append("matmul throughput, GFLOP/s: " + "; ".join(
            f"{r['case']} {'x'.join(map(str, r['shape']))} {r['dtype']} {r['backend']} {r['throughput']:.3g}"
            for r in flops))
    if problems:
        out += ["", "PROBLEMS (a kernel that raised, or whose result differs from numpy's):"] + problems
    return "\n".join(out)


# ------------------------------------------------------------------ plots
def plot(records, out_dir):
    """Speedup-over-python bars (log scale) and time-vs-size lines per family; returns PNG paths."""
    paths = []
    measured = [r for r in records if r["status"] == "measured"]
    for dtype in dict.fromkeys(r["dtype"] for r in measured):
        rs = [r for r in measured if r["dtype"] == dtype]
        p = _plot_speedup(rs, dtype, out_dir)
        if p:
            paths.append(p)
        for family in FAMILIES:
            fam = [r for r in rs if r["family"] == family]
            if fam:
                paths.append(_plot_time_vs_size(fam, family, dtype, out_dir))
    return paths


def _plot_speedup(rs, dtype, out_dir):
    """One panel per size where python ran: bars of python_time / backend_time per case, log scale."""
    rs = [r for r in rs if r["backend"] != "python" and r.get("speedup_vs_python")]
    if not rs:
        return None
    plt = harness.pyplot()
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in rs))
    backends = list(dict.fromkeys(r["backend"] for r in rs))
    cases = list(dict.fromkeys(r["case"] for r in rs))
    fig, axes = plt.subplots(len(shapes), 1, figsize=(max(8, 0.55 * len(cases) * max(1, len(backends) / 2)),
                                                      3.6 * len(shapes)), squeeze=False)
    width = 0.8 / len(backends)
    for ax, shape in zip(axes[:, 0], shapes):
        for i, b in enumerate(backends):
            vals = {r["case"]: r["speedup_vs_python"] for r in rs if r["backend"] == b and tuple(r["shape"]) == shape}
            xs = [j + (i - (len(backends) - 1) / 2) * width for j, c in enumerate(cases) if c in vals]
            # numpy ran its own vectorised code, not the loop source: hatch it so it reads differently
            ax.bar(xs, [vals[c] for c in cases if c in vals], width, label=b if b != "numpy" else "numpy (own code)",
                   color=harness.color(b, i), hatch="//" if b == "numpy" else None, alpha=0.6 if b == "numpy" else 1)
        ax.set_yscale("log")
        ax.axhline(1, color="black", lw=0.8)
        ax.axhline(100, color="gray", lw=0.8, ls="--")
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("speedup over python")
        ax.set_title(f"{'x'.join(map(str, shape))} {dtype}: python time / backend time "
                     f"(dashed: 100x goal; numpy's own kernels ran, not the same source)", fontsize=9)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return harness.save_figure(fig, out_dir, f"kernels_speedup_vs_python_{dtype}.png")


def _plot_time_vs_size(rs, family, dtype, out_dir):
    """One panel per case of the family: median time against number of elements, a line per backend."""
    plt = harness.pyplot()
    cases = list(dict.fromkeys(r["case"] for r in rs))
    ncol = min(4, len(cases))
    nrow = -(-len(cases) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False)
    labels = {r["elements"]: "x".join(map(str, r["shape"])) for r in rs}
    for ax, case in zip(axes.flat, cases):
        for i, b in enumerate(dict.fromkeys(r["backend"] for r in rs)):
            pts = sorted((r["elements"], r["seconds"]) for r in rs if r["case"] == case and r["backend"] == b)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=b, color=harness.color(b, i))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sorted(labels), [labels[e] for e in sorted(labels)], fontsize=7)
        ax.xaxis.set_minor_locator(plt.NullLocator())  # log-axis minor labels would hide the shapes
        ax.set_title(case, fontsize=9)
        ax.set_xlabel("shape (log scale of elements)", fontsize=8)
        ax.set_ylabel("seconds per call", fontsize=8)
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(cases):]:
        ax.set_visible(False)
    fig.suptitle(f"{family} kernels, {dtype}: time vs size", fontsize=10)
    fig.tight_layout()
    slug = family.replace(" ", "_").replace("/", "_")
    return harness.save_figure(fig, out_dir, f"kernels_time_vs_size_{slug}_{dtype}.png")
