"""A/B: one benchmark suite on two checkouts of minigrad, processes taking turns.

    python -m benchmarks.ab --a /path/to/old/checkout --b . --suite kernels --rounds 3 -- --backends numba,cython

Each round runs ``python -m benchmarks --suite S --out ...`` once in each checkout, as
a fresh process with that checkout first on ``sys.path``; the order alternates between
rounds (A B, B A, A B, ...), so a machine that slows down mid-run slows both. Each
checkout must have its own build (the Cython extension built in place, if measured).
Arguments after ``--`` go to ``python -m benchmarks`` as they are.

For every measurement (case or cell/phase, backend, shape, dtype) it prints the median
over rounds of A and B, the ratio B/A (below 1: B is faster), and the spread of each:
max/min over its rounds, the noise a ratio must beat to mean anything. The rows and the
raw runs go to ``--out`` (default ``results/ab-<timestamp>``).
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

KEY_FIELDS = ("suite", "case", "cell", "phase", "backend", "shape", "dtype")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="checkout A (the baseline)")
    p.add_argument("--b", required=True, help="checkout B (the change)")
    p.add_argument("--suite", required=True, help="one suite, e.g. kernels or rnn")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=None)
    p.add_argument("rest", nargs=argparse.REMAINDER, help="-- then arguments for python -m benchmarks")
    args = p.parse_args(argv)
    args.rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    return args


def run_once(checkout, suite, out, rest):
    checkout = os.path.abspath(checkout)
    env = dict(os.environ, PYTHONPATH=checkout)
    cmd = [sys.executable, "-m", "benchmarks", "--suite", suite, "--out", out] + rest
    print(f"[ab] {checkout}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, f"{suite}.json")) as f:
        return json.load(f)


def key(record):
    return tuple((k, tuple(record[k]) if isinstance(record.get(k), list) else record.get(k))
                 for k in KEY_FIELDS if k in record)


def summarise(runs_a, runs_b):
    """Rows {key, a, b, ratio, spread_a, spread_b} for every measurement both checkouts made."""
    def times(runs):
        out = {}
        for run in runs:
            for r in run["records"]:
                if r.get("seconds"):
                    out.setdefault(key(r), []).append(r["seconds"])
        return out
    ta, tb = times(runs_a), times(runs_b)
    rows = []
    for k in ta:
        if k not in tb:
            continue
        a, b = statistics.median(ta[k]), statistics.median(tb[k])
        rows.append(dict(key=dict(k), a=a, b=b, ratio=b / a, spread_a=max(ta[k]) / min(ta[k]),
                         spread_b=max(tb[k]) / min(tb[k]), rounds=(len(ta[k]), len(tb[k]))))
    return rows


def _label(k):
    return " ".join(str(v if not isinstance(v, tuple) else "x".join(map(str, v)))
                    for name, v in k.items() if name != "suite" and v is not None)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or os.path.join("results", "ab-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    out = os.path.abspath(out)
    runs = {"a": [], "b": []}
    for i in range(args.rounds):
        for side in (("a", "b") if i % 2 == 0 else ("b", "a")):
            checkout = args.a if side == "a" else args.b
            runs[side].append(run_once(checkout, args.suite, os.path.join(out, f"{side}{i}"), args.rest))
    rows = summarise(runs["a"], runs["b"])
    with open(os.path.join(out, "ab.json"), "w") as f:
        json.dump(dict(a=os.path.abspath(args.a), b=os.path.abspath(args.b), suite=args.suite, rounds=args.rounds,
                       args=args.rest, rows=rows), f, indent=1)
    width = max((len(_label(r["key"])) for r in rows), default=10)
    print(f"{'measurement':{width}s}  {'A':>10s}  {'B':>10s}  {'B/A':>6s}  {'spread A':>8s}  {'spread B':>8s}")
    for r in rows:
        print(f"{_label(r['key']):{width}s}  {r['a'] * 1e6:8.1f}us  {r['b'] * 1e6:8.1f}us  {r['ratio']:6.2f}  "
              f"{r['spread_a']:8.2f}  {r['spread_b']:8.2f}")
    ratios = [r["ratio"] for r in rows]
    if ratios:
        print(f"\n{len(rows)} measurements: B/A median {statistics.median(ratios):.3f}, "
              f"geometric mean {statistics.geometric_mean(ratios):.3f}; written to {out}")


if __name__ == "__main__":
    main()
