"""Kernel suite: every kernel of the kernel set, on every CPU backend, at several sizes.

For each benchmark case (a kernel plus realistic inputs, see ``kernel_cases.py``) and
each size, the suite times every backend that *implements the kernel itself*,
round-robin in one process (see ``harness.measure``), and reports

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
import numpy as np

from .. import harness
from .kernel_cases import SEED, select_cases
from .kernels_plot import plot  # noqa: F401  (the suite interface: run, report, plot)

NAME = "kernels"
DESCRIPTION = "every kernel on every CPU backend: speedup over pure Python (same source) and time vs numpy"


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
