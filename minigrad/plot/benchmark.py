"""Speed-ups over a baseline, from the JSON that ``python -m benchmarks`` writes.

    plot_benchmark("results/bench-.../kernels.json", "speedup.png")           # over numpy
    plot_benchmark(records, baseline="torch", metric="ms_per_step")

A benchmark file holds ``{"suite", "machine", "config", "records": [...]}``; each record is
one thing measured: ``case``, ``backend``, ``shape``, ``dtype`` and a median time per call
``seconds`` (None when the backend was not run, or reuses another's kernel). The speed-up of
a backend on a case is the baseline's time divided by its own, for the same case, shape
and dtype: 12x means twelve times faster than the baseline, 0.5x twice as slow.
"""
import json
import math
import os

from ._figure import figure, finish


def _records(results):
    """The list of records from a path, a loaded benchmark dict, or the records themselves."""
    if isinstance(results, (str, os.PathLike)):
        path = os.fspath(results)
        if os.path.isdir(path):
            raise ValueError(f"plot_benchmark: {path!r} is a folder; pass one suite's JSON file in it, e.g. "
                             f"{os.path.join(path, 'kernels.json')!r}")
        with open(path) as f:
            results = json.load(f)
    if isinstance(results, dict):
        if "records" not in results:
            raise ValueError(f"plot_benchmark: the benchmark dict has no 'records' (its keys: {sorted(results)}); "
                             "expected what python -m benchmarks writes")
        results = results["records"]
    if not isinstance(results, (list, tuple)) or not all(isinstance(r, dict) for r in results):
        raise TypeError("plot_benchmark: expected a JSON path, a benchmark dict with 'records', or a list of record "
                        f"dicts; got {type(results).__name__}")
    return list(results)


def _group(r, keys):
    """A case's label: its name, with the shape and dtype where the records have several."""
    parts = [str(r.get("case"))]
    if "shape" in keys and r.get("shape") is not None:
        parts.append("x".join(str(d) for d in r["shape"]))
    if "dtype" in keys:
        parts.append(str(r.get("dtype")))
    return " ".join(parts)


def speedups(results, baseline="numpy", metric="seconds"):
    """{case label: {backend: baseline's metric / backend's metric}} from a benchmark file (path,
    dict or records), for the records that have a positive finite ``metric`` (a time: lower
    is better) and a baseline record to compare with."""
    records = _records(results)
    timed = [r for r in records if isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])
             and r[metric] > 0]
    if not timed:
        raise ValueError(f"plot_benchmark: no record has a positive number under {metric!r} "
                         f"({len(records)} records); expected a time per call such as 'seconds' or 'ms_per_step'")
    backends = list(dict.fromkeys(r.get("backend") for r in timed))
    if baseline not in backends:
        raise ValueError(f"plot_benchmark: baseline {baseline!r} has no timed record; the backends timed are "
                         f"{', '.join(map(repr, backends))}")
    varying = [k for k in ("shape", "dtype") if len({str(r.get(k)) for r in timed}) > 1]
    base = {_group(r, varying): r[metric] for r in timed if r.get("backend") == baseline}
    out = {}
    for r in timed:
        label = _group(r, varying)
        if label in base and r.get("backend") != baseline:
            out.setdefault(label, {})[r["backend"]] = base[label] / r[metric]
    if not out:
        raise ValueError(f"plot_benchmark: no case has both {baseline!r} and another backend timed")
    return out


def _fmt(s):
    """12.3x, 1234x; a slow-down below 0.1x as a fraction: 1/250x (250 times slower)."""
    if s < 0.1:
        return f"1/{_fmt(1 / s)}"
    return f"{s:.0f}x" if s >= 100 else f"{s:.3g}x"


def plot_benchmark(results, path=None, *, baseline="numpy", metric="seconds", backends=None, ax=None, title=None,
                   figsize=None, dpi=110):
    """Grouped bars of speed-up over ``baseline``, a group per case and a bar per backend; returns the Figure.

    results: a benchmark JSON path, the loaded dict, or its list of records.
    metric: the record's time to compare (lower is better): "seconds" (median per call),
        "seconds_min", "ms_per_step", ...
    backends: which backends to draw, in this order; default every one timed but the baseline.
    The y axis is logarithmic; each bar grows from the 1x line (up: faster than the
    baseline, down: slower) and is labelled with its speed-up. ax: draw into this Axes.
    """
    table = speedups(results, baseline, metric)
    cases = list(table)
    found = list(dict.fromkeys(b for row in table.values() for b in row))
    if backends is not None:
        missing = [b for b in backends if b not in found]
        if missing:
            raise ValueError(f"plot_benchmark: no speed-up for backend(s) {missing}; these have one: {found}")
        found = list(backends)
    width = 0.8 / len(found)
    own = ax is None  # a figure made here is laid out here; the caller's is left as it is
    fig, ax = figure(ax, figsize=figsize or (max(6.0, 3.0 + 0.5 * len(cases) * len(found) ** 0.5), 4.2), dpi=dpi)
    values = []
    for i, b in enumerate(found):
        xs = [j + (i - (len(found) - 1) / 2) * width for j, c in enumerate(cases) if b in table[c]]
        ss = [table[c][b] for c in cases if b in table[c]]
        values += ss
        # bars from 1x: up for faster than the baseline, down for slower
        bars = ax.bar(xs, [s - 1 for s in ss], width, bottom=1, label=b, color=f"C{i % 10}")
        ax.bar_label(bars, labels=[_fmt(s) for s in ss], fontsize=7, padding=2,
                     rotation=90 if len(cases) * len(found) > 12 else 0)
    ax.set_yscale("log")
    ax.axhline(1, color="black", linewidth=0.9, label=f"_{baseline} (1x)")
    lo, hi = min(min(values), 1.0), max(max(values), 1.0)
    ax.set_ylim(lo / 2.5, hi * 4)  # room for the labels above (and below) the bars
    ax.set_xticks(range(len(cases)), cases, rotation=30 if len(cases) > 4 else 0,
                  ha="right" if len(cases) > 4 else "center", fontsize=8)
    ax.set_ylabel(f"speed-up over {baseline} ({baseline} time / time)")
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # outside: the bars fill the axes
    ax.set_title(title or f"speed-up over {baseline} (log scale; 1x = {baseline})", fontsize=10)
    return finish(fig, path, own=own)
