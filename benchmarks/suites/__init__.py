"""The benchmark suites and the small interface every suite follows.

A suite is a module (or any object) with:

``NAME`` (str) and ``DESCRIPTION`` (one line)
``run(config) -> list[dict]``
    Measure, and return *records*: flat dicts made with ``harness.record`` (keys
    suite, case, backend, shape, dtype, seconds, seconds_min/q1/q3/iqr, ... plus the
    suite's own). ``config`` is a ``harness.Config``; a suite reads the fields it needs
    and prints progress with ``config.log`` (stderr). Baselines are measured in the
    same ``run``, interleaved with what they are compared to (``harness.measure``).
``report(records) -> str``
    The result tables as text (the runner prints them on stdout).
``plot(records, out_dir) -> list[str]``
    Write PNG plots into ``out_dir``; return their paths.

The runner (``benchmarks/run.py``) writes ``<out_dir>/<NAME>.json`` with the records
and the machine description. To add a suite (the RNN, GPU and end-to-end suites of
later issues), write a module with those four names under ``benchmarks/suites/`` and
add it to ``SUITES`` below. Modules are imported only when their suite runs, so that
e.g. the overhead suite's PyTorch import (~2 s) is not paid by ``--suite kernels``.
"""
import importlib

from .. import harness

# name -> module path, or an object already implementing the interface
SUITES = {
    "kernels": "benchmarks.suites.kernels",
    "jit": "benchmarks.suites.jit",
    "rnn": "benchmarks.suites.rnn",
    "charlm": "benchmarks.suites.charlm",
    "cuda": "benchmarks.suites.cuda",
    "overhead": None,  # set below: an adapter around benchmarks/bench_overhead.py
}


def get_suite(name):
    """The suite called ``name`` (importing its module on first use)."""
    if name not in SUITES:
        raise KeyError(f"unknown suite {name!r}; suites: {', '.join(SUITES)}")
    s = SUITES[name]
    return importlib.import_module(s) if isinstance(s, str) else s


# --------------------------------------------------------------- overhead
class OverheadSuite:
    """``benchmarks/bench_overhead.py`` as a suite: per-op framework overhead on small tensors.

    It reuses that script's case builders (so its own CLI and numbers stay as they
    are) and times them with ``harness.measure``: the frameworks round-robin in one
    process, with the quartiles the script does not report. minigrad runs once per
    selected CPU backend (switched before each of its rounds, untimed).
    """
    NAME = "overhead"
    DESCRIPTION = "fixed cost per op on a (32, 128) float32 tensor: minigrad vs numpy vs PyTorch eager"
    SHAPE = (32, 128)

    @staticmethod
    def run(config):
        import minigrad as mg
        from .. import bench_overhead as bo

        fns, before = {}, {}
        for case, fn in bo.cases_numpy(OverheadSuite.SHAPE).items():
            fns[("numpy", case)] = fn
        available = mg.available_backends()
        for name in config.backends:
            if not available.get(name, {}).get("available") or available[name]["device"] != "cpu":
                continue
            for case, fn in bo.cases_minigrad(OverheadSuite.SHAPE).items():
                fns[(f"minigrad[{name}]", case)] = fn
                before[(f"minigrad[{name}]", case)] = (lambda n: lambda: mg.set_backend(n))(name)
        try:
            for case, fn in bo.cases_torch(OverheadSuite.SHAPE).items():
                fns[("torch", case)] = fn
        except ImportError:
            config.log("[overhead] PyTorch not installed: no torch column")
        previous = mg.get_backend().name
        records = []
        try:
            for case in dict.fromkeys(c for _, c in fns):
                group = {k: f for k, f in fns.items() if k[1] == case}
                timings = harness.measure(group, repeats=config.repeats, min_round_s=config.min_round_s,
                                          max_seconds=config.max_seconds,
                                          before_round={k: v for k, v in before.items() if k in group})
                base = timings[("numpy", case)].median
                for (framework, _), t in timings.items():
                    records.append(harness.record("overhead", case, framework, OverheadSuite.SHAPE, "float32", t,
                                                  time_vs_numpy=t.median / base))
                config.log(f"[overhead] {case}: done")
        finally:
            mg.set_backend(previous)
        return records

    @staticmethod
    def report(records):
        frameworks = list(dict.fromkeys(r["backend"] for r in records))
        cases = list(dict.fromkeys(r["case"] for r in records))
        t = {(r["backend"], r["case"]): r for r in records}
        rows = [[c] + [f"{t[(f, c)]['seconds'] * 1e6:.2f}" if (f, c) in t else "-" for f in frameworks]
                for c in cases]
        return ("Overhead suite: microseconds per call, shape (32, 128) float32, median of %d rounds\n"
                % records[0]["repeats"] + harness.format_table(["case"] + [f + " us" for f in frameworks], rows))

    @staticmethod
    def plot(records, out_dir):
        plt = harness.pyplot()
        frameworks = list(dict.fromkeys(r["backend"] for r in records))
        cases = list(dict.fromkeys(r["case"] for r in records))
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(frameworks) * len(cases) / 2), 4))
        width = 0.8 / len(frameworks)
        for i, f in enumerate(frameworks):
            v = {r["case"]: r["seconds"] * 1e6 for r in records if r["backend"] == f}
            xs = [j + (i - (len(frameworks) - 1) / 2) * width for j, c in enumerate(cases) if c in v]
            ax.bar(xs, [v[c] for c in cases if c in v], width, label=f, color=harness.color(f, i))
        ax.set_yscale("log")
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases)
        ax.set_ylabel("microseconds per call")
        ax.set_title("per-op overhead, (32, 128) float32", fontsize=9)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return [harness.save_figure(fig, out_dir, "overhead.png")]


SUITES["overhead"] = OverheadSuite
