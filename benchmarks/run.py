"""Run benchmark suites: print tables, write JSON records and PNG plots.

    python -m benchmarks [--quick | --full] [--suite kernels,jit,overhead]
                         [--backends numpy,numba,python,cython] [--out DIR]
    python benchmarks/run.py ...            (the same)

--quick (the default) takes a few minutes on a 2-core machine: two sizes, float32,
5 timing rounds. --full adds larger sizes, float64 and more rounds. Results go to
``DIR/<suite>.json`` and ``DIR/*.png`` (default ``results/bench-<timestamp>``).
Progress goes to stderr, tables to stdout.
"""
import argparse
import datetime
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from benchmarks import harness  # noqa: E402
from benchmarks.suites import SUITES, get_suite  # noqa: E402


def _csv(text):
    return tuple(s.strip() for s in text.split(",") if s.strip())


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick", help="small sizes (default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="add (256,1024), (1024,1024), float64, more rounds")
    p.add_argument("--suite", type=_csv, default=tuple(SUITES), help=f"comma-separated (default: {','.join(SUITES)})")
    p.add_argument("--backends", type=_csv, default=("numpy", "numba", "python", "cython"),
                   help="CPU backends (numpy, the baseline, is always measured; missing ones are skipped "
                        "with the reason)")
    p.add_argument("--kernels", type=_csv, default=None,
                   help="only these kernel cases or kernel names, e.g. tanh_backward,sum,adam_step")
    p.add_argument("--sizes", default=None, help="override sizes, e.g. 32x128,64x512")
    p.add_argument("--dtypes", type=_csv, default=None, help="override dtypes, e.g. float32,float64")
    p.add_argument("--repeats", type=int, default=None, help="timing rounds per measurement (median reported)")
    p.add_argument("--out", default=None, help="output folder (default results/bench-<timestamp>)")
    p.add_argument("--list", action="store_true", help="list suites and kernel cases, then exit")
    p.set_defaults(mode="quick")
    return p.parse_args(argv)


def make_config(args):
    out = args.out or os.path.join("results", "bench-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    sizes = None
    if args.sizes:
        sizes = tuple(tuple(int(n) for n in s.lower().split("x")) for s in _csv(args.sizes))
    return harness.Config.for_mode(args.mode, out_dir=out, backends=args.backends, kernels=args.kernels,
                                   sizes=sizes, dtypes=args.dtypes, repeats=args.repeats)


def run_suites(config, suites, echo=print):
    """Run ``suites`` (names) with ``config``: write JSON + PNGs into config.out_dir.

    Returns {suite name: {"records", "json", "plots", "seconds"}}. This is the
    programmatic entry point (the tests call it with a tiny Config).
    """
    os.makedirs(config.out_dir, exist_ok=True)
    results = {}
    for name in suites:
        suite = get_suite(name)
        config.log(f"== suite {name}: {suite.DESCRIPTION}")
        t0, load0 = harness.now(), os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        records = suite.run(config)
        elapsed = harness.now() - t0
        json_path = harness.write_json(os.path.join(config.out_dir, f"{name}.json"), name, config, records, elapsed,
                                       loadavg_before=load0)
        plots = suite.plot(records, config.out_dir) if records else []
        echo(f"\n{suite.report(records)}\n({name}: {elapsed:.0f} s)")
        results[name] = dict(records=records, json=json_path, plots=plots, seconds=elapsed)
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        from benchmarks.suites import kernel_cases
        for name in SUITES:
            print(f"{name:10s} {get_suite(name).DESCRIPTION}")
        print("\nkernel cases:", ", ".join(c.name for c in kernel_cases.CASES))
        return 0
    unknown = [s for s in args.suite if s not in SUITES]
    if unknown:
        raise SystemExit(f"unknown suite(s) {unknown}; suites: {', '.join(SUITES)}")
    config = make_config(args)
    t0 = harness.now()
    m = harness.machine_info()
    print(f"minigrad benchmarks ({config.mode}) on {m['cpu']}, {m['cpu_count']} CPUs, python {m['python']}, "
          f"numpy {m['numpy']}, numba {m['numba']} -- {m['date']}")
    warning = harness.busy_warning()
    if warning:
        print(warning)
    results = run_suites(config, args.suite)
    files = sorted(os.listdir(config.out_dir))
    print(f"\nwrote {len(files)} files to {config.out_dir}: {', '.join(files)}")
    print(f"total {harness.now() - t0:.0f} s")
    warning = harness.busy_warning()
    if warning:
        print(warning.replace("WARNING:", "WARNING at the end:"))
    return 0 if results is not None else 1


if __name__ == "__main__":
    sys.exit(main())
