"""JIT suite: what numba's compilation costs, kept apart from what the compiled code costs.

For a few representative numba kernels (an elementwise backward, a reduction, a
softmax, an optimizer step) it measures, each in a **fresh Python process**:

1. *first call, empty cache*: ``NUMBA_CACHE_DIR`` points at a new, empty folder, so
   numba must type-infer the function, generate LLVM IR and compile it to machine
   code (then it writes the result to that folder);
2. *first call, warm cache*: a second fresh process with the same folder: numba finds
   the cached machine code and only loads it. The issue's goal is < 50 ms, with no
   recompilation, which the child verifies with numba's event API (a "numba:compile"
   event fires only when numba really compiles) and the dispatchers' cache hit counts;
3. *first call, warm cache, numba initialised*: a third fresh process that first
   compiles a trivial uncached ``@njit`` function, then makes the same first call. The
   very first jitted call of any process pays a one-time set-up of numba (typing and
   target contexts, the LLVM JIT engine), ~0.1-0.2 s here, whatever the kernel; this
   phase shows what loading *one more* cached kernel costs once that is paid;
4. *steady state*: the per-call time once compiled (median of timed rounds).

Fresh processes keep the numbers honest: inside the harness process every kernel is
already compiled, and numba, LLVM and the caches are warm. Each process pair gets a
new cache folder; the pairs are repeated (``config.jit_repeats``) and the median of
each phase reported. The child also reports how long importing minigrad's numba
backend took, since a user pays that too.

    python -m benchmarks.suites.jit --child tanh_backward --dtype float32 --shape 64 512
runs one child by hand and prints its JSON line.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from .. import harness
from . import kernel_cases, kernels

NAME = "jit"
DESCRIPTION = "numba compile cost: first call with an empty / warm on-disk cache vs steady state (fresh processes)"

GOAL_WARM_FIRST_CALL_S = 0.05

# (role, kernel cases to try in order): the first case that numba implements itself is used.
CANDIDATES = [
    ("elementwise backward", ["tanh_backward", "sigmoid_backward", "relu_backward", "leaky_relu_backward"]),
    ("reduction", ["sum(axis=-1)", "var(axis=-1)", "max(axis=-1)", "sum(axis=0)", "sumsq"]),
    ("softmax", ["softmax", "log_softmax", "cross_entropy"]),
    ("optimizer step", ["adam_step", "sgd_step(momentum)", "rmsprop_step", "adagrad_step"]),
]

PHASES = ("import", "first call, empty cache", "first call, warm cache", "first call, warm cache, numba initialised",
          "steady state")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pick_cases(log=print, names=None):
    """[(role, Case)]: per role the first candidate case whose kernel numba implements itself."""
    import minigrad.backends as registry
    info = registry.available_backends()["numba"]
    if not info["available"]:
        log(f"[jit] numba backend not available: {info['reason']}")
        return []
    picked = []
    for role, candidates in CANDIDATES:
        if names:
            candidates = [c for c in candidates if c in names or kernel_cases.find_case(c).kernel in names]
        own = [c for c in candidates if kernel_cases.find_case(c).kernel not in info["reuses"]]
        if own:
            picked.append((role, kernel_cases.find_case(own[0])))
        elif candidates:
            log(f"[jit] no {role} kernel to measure: numba reuses numpy's {', '.join(candidates)}")
    return picked


# ------------------------------------------------------------------ child
def child(case_name, dtype, shape, repeats, min_round_s, prime=False):
    """Runs inside the fresh process: import, first call (watched for compiles), steady state.

    ``prime``: first compile a trivial function (not cached), so that numba's one-time
    per-process set-up is paid before the kernel's first call is timed.
    """
    t0 = harness.now()
    from minigrad.backends import get_backend, reused_kernels
    nb = get_backend("numba")  # pulls in numba itself: part of what a user pays
    from numba import njit
    from numba.core import event
    from numba.core.registry import CPUDispatcher
    import_s = harness.now() - t0
    prime_s = None
    if prime:
        t0 = harness.now()
        njit(lambda v: v + 1.0)(1.0)
        prime_s = harness.now() - t0

    case = kernel_cases.find_case(case_name)
    args = case.build(tuple(shape), np.dtype(dtype), np.random.default_rng(kernel_cases.SEED))
    status, fn = kernels.implementation(case, "numba", nb, reused_kernels(nb))
    if status != "own":
        raise SystemExit(f"numba does not implement {case_name}: {fn}")
    with event.install_recorder("numba:compile") as rec:
        t0 = harness.now()
        fn(*args)
        first_s = harness.now() - t0
    compiled = sorted({e.data["dispatcher"].py_func.__name__ for _, e in rec.buffer if e.is_start})
    dispatchers = [d for d in vars(nb.loops).values() if isinstance(d, CPUDispatcher)]
    hits = sum(sum(d.stats.cache_hits.values()) for d in dispatchers)
    misses = sum(sum(d.stats.cache_misses.values()) for d in dispatchers)
    steady = harness.measure({"numba": lambda: fn(*args)}, repeats=repeats, min_round_s=min_round_s,
                             warmup=False)["numba"]
    return dict(import_s=import_s, prime_s=prime_s, first_s=first_s, compiled=compiled, cache_hits=hits, cache_misses=misses,
                steady_s=steady.median, steady=steady.as_dict(),
                cache_dir=os.environ.get("NUMBA_CACHE_DIR"))


def _spawn(case, dtype, shape, cache_dir, config, prime=False):
    """Run ``child`` in a new interpreter with NUMBA_CACHE_DIR=cache_dir; returns its result dict."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env["PYTHONPATH"] = _REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "benchmarks.suites.jit", "--child", case.name, "--dtype", dtype,
           "--shape", *map(str, shape), "--repeats", str(config.repeats), "--min-round", str(config.min_round_s)] + (["--prime"] if prime else [])
    p = subprocess.run(cmd, cwd=_REPO, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"jit child for {case.name} failed (exit {p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _cache_files(cache_dir):
    return sum(len(files) for _, _, files in os.walk(cache_dir))


# -------------------------------------------------------------------- run
def run(config):
    if "numba" not in config.backends:
        config.log("[jit] skipped: numba is not among the selected backends")
        return []
    picked = pick_cases(config.log, config.kernels)
    dtype, shape = config.dtypes[0], tuple(config.jit_shape)
    runs = {case.name: [] for _, case in picked}
    # Repeats outermost: kernel A, B, C, D, then A, B, C, D again, so drift hits all alike.
    for rep in range(config.jit_repeats):
        for role, case in picked:
            cache_dir = tempfile.mkdtemp(prefix="minigrad-jit-cache-")
            try:
                cold = _spawn(case, dtype, shape, cache_dir, config)
                files = _cache_files(cache_dir)
                warm = _spawn(case, dtype, shape, cache_dir, config)
                primed = _spawn(case, dtype, shape, cache_dir, config, prime=True)
            finally:
                shutil.rmtree(cache_dir, ignore_errors=True)
            runs[case.name].append((cold, warm, primed, files))
            config.log(f"[jit] {case.name} #{rep + 1}: first call {cold['first_s'] * 1e3:.0f} ms empty cache, "
                       f"{warm['first_s'] * 1e3:.1f} ms warm cache, {primed['first_s'] * 1e3:.1f} ms warm cache "
                       f"after numba's set-up ({files} cache files)")
    records = []
    for role, case in picked:
        pairs = runs[case.name]
        cold, warm, primed = ([p[i] for p in pairs] for i in range(3))
        steady = harness.summarize([w["steady_s"] for w in warm + primed])

        def warm_extra(children):
            recompiled = any(c["compiled"] or c["cache_misses"] for c in children)
            t = harness.summarize([c["first_s"] for c in children])
            return t, dict(compiled=sorted({n for c in children for n in c["compiled"]}), recompiled=recompiled,
                           cache_hits=min(c["cache_hits"] for c in children), goal_s=GOAL_WARM_FIRST_CALL_S,
                           meets_goal=bool(t.median < GOAL_WARM_FIRST_CALL_S and not recompiled))

        phases = {
            "import": (harness.summarize([c["import_s"] for c in cold + warm + primed]), {}),
            "first call, empty cache": (harness.summarize([c["first_s"] for c in cold]), dict(
                compiled=cold[0]["compiled"], cache_misses=max(c["cache_misses"] for c in cold),
                cache_files_written=min(p[3] for p in pairs))),
            "first call, warm cache": warm_extra(warm),
            "first call, warm cache, numba initialised": warm_extra(primed),
            "steady state": (steady, {}),
        }
        phases["first call, warm cache, numba initialised"][1]["numba_setup_s"] = \
            harness.summarize([c["prime_s"] for c in primed]).median
        for phase, (timing, extra) in phases.items():
            records.append(harness.record(NAME, case.name, "numba", shape, dtype, timing, phase=phase,
                                          kernel=case.kernel, role=role, vs_steady=timing.median / steady.median,
                                          **extra))
    return records


# ----------------------------------------------------------------- report
def report(records):
    if not records:
        return "jit: no records (numba not selected or not available)"
    rows = []
    by_case = {}
    for r in records:
        by_case.setdefault(r["case"], {})[r["phase"]] = r
    for case, ph in by_case.items():
        cold, warm, steady = ph["first call, empty cache"], ph["first call, warm cache"], ph["steady state"]
        primed = ph["first call, warm cache, numba initialised"]
        rows.append([case, cold["role"], "x".join(map(str, cold["shape"])) + " " + cold["dtype"],
                     harness.fmt_seconds(ph["import"]["seconds"]),
                     harness.fmt_seconds(cold["seconds"]), str(len(cold["compiled"])),
                     harness.fmt_seconds(warm["seconds"]), str(len(warm["compiled"])),
                     "yes" if warm["meets_goal"] else "NO",
                     harness.fmt_seconds(primed["numba_setup_s"]),
                     harness.fmt_seconds(primed["seconds"]), "yes" if primed["meets_goal"] else "NO",
                     harness.fmt_seconds(steady["seconds"])])
    n = by_case[next(iter(by_case))]["first call, empty cache"]["repeats"]
    head = ["case", "role", "input", "import", "1st (empty)", "compiled", "1st (warm)", "compiled", "<50ms",
            "numba set-up", "1st (warm, set up)", "<50ms", "steady"]
    return (f"JIT suite: every column from fresh processes, median of {n} repeats. 1st = the kernel's first call:\n"
            "(empty) with an empty NUMBA_CACHE_DIR: compiles; (warm) a new process, same cache folder: loads;\n"
            "(warm, set up) the same after numba's one-time per-process set-up (measured as 'numba set-up':\n"
            "compiling a trivial function). 'compiled' = functions numba compiled during that first call\n"
            "(numba:compile events); goal: a warm-cache first call < 50 ms with nothing compiled.\n"
            + harness.format_table(head, rows, align="lll" + "r" * (len(head) - 3)))


# ------------------------------------------------------------------ plots
def plot(records, out_dir):
    if not records:
        return []
    plt = harness.pyplot()
    cases = list(dict.fromkeys(r["case"] for r in records))
    phases = [p for p in PHASES if p != "import"]
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(cases)), 4))
    width = 0.8 / len(phases)
    for i, phase in enumerate(phases):
        vals = {r["case"]: r for r in records if r["phase"] == phase}
        xs = [j + (i - (len(phases) - 1) / 2) * width for j in range(len(cases))]
        ax.bar(xs, [vals[c]["seconds"] for c in cases], width, label=phase, color=f"C{i}",
               yerr=[[vals[c]["seconds"] - vals[c]["seconds_q1"] for c in cases],
                     [vals[c]["seconds_q3"] - vals[c]["seconds"] for c in cases]], capsize=3)
    ax.axhline(GOAL_WARM_FIRST_CALL_S, color="gray", ls="--", lw=0.8, label="50 ms goal (warm cache)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title("numba: first call (compile or cache load) vs steady-state call, fresh processes", fontsize=9)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return [harness.save_figure(fig, out_dir, "jit_first_call_vs_steady.png")]


def _child_main(argv=None):
    p = argparse.ArgumentParser(description="one jit measurement in this (fresh) process; prints JSON")
    p.add_argument("--child", required=True, help="kernel case name, e.g. tanh_backward")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--shape", type=int, nargs=2, default=[64, 512])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-round", type=float, default=0.02)
    p.add_argument("--prime", action="store_true", help="pay numba's one-time set-up before the first call")
    a = p.parse_args(argv)
    print(json.dumps(child(a.child, a.dtype, a.shape, a.repeats, a.min_round, a.prime)))


if __name__ == "__main__":
    _child_main()
