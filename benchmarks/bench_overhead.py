"""Per-op overhead on small tensors: minigrad vs raw NumPy vs PyTorch eager.

On a (32, 128) float32 tensor the arithmetic takes about a microsecond, so what is
measured is the framework's fixed cost per op: dispatch, graph recording, and the
backward engine. Cases:

* ``add`` forward, inputs without grad (no graph is recorded);
* ``add`` forward with one input requiring grad (one graph node recorded);
* ``tanh(x*y) + x`` forward + ``.sum().backward()``: three ops, a reduction and a
  whole backward pass.

Every number is the median of ``--repeats`` timing rounds of ``--number`` calls each,
all frameworks measured in the same process so they share the machine's state.

    python benchmarks/bench_overhead.py [--json out.json] [--shape 32 128]
"""
import argparse
import json
import platform
import statistics
import sys
import timeit

import numpy as np

import minigrad as mg


def median_us(fn, number, repeats):
    fn()  # warm up (first-call allocation, lazy imports)
    return statistics.median(t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeats))


def cases_numpy(shape):
    a, b = np.random.randn(*shape).astype(np.float32), np.random.randn(*shape).astype(np.float32)

    def fwd_bwd():  # the same arithmetic, differentiated by hand
        t = np.tanh(a * b)
        (t + a).sum()
        g = np.ones(shape, np.float32)
        gt = g * (1 - t * t)
        return gt * b + g

    return {"add": lambda: a + b, "add (grad)": lambda: a + b, "3 ops fwd+bwd": fwd_bwd}


def cases_minigrad(shape):
    a, b = mg.randn(*shape), mg.randn(*shape)
    x = mg.randn(*shape, requires_grad=True)

    def fwd_bwd():
        ((x * b).tanh() + x).sum().backward()

    return {"add": lambda: a + b, "add (grad)": lambda: x + b, "3 ops fwd+bwd": fwd_bwd}


def cases_torch(shape):
    import torch
    torch.set_num_threads(2)
    a, b = torch.randn(*shape), torch.randn(*shape)
    x = torch.randn(*shape, requires_grad=True)

    def fwd_bwd():
        ((x * b).tanh() + x).sum().backward()

    return {"add": lambda: a + b, "add (grad)": lambda: x + b, "3 ops fwd+bwd": fwd_bwd}


def run(shape=(32, 128), number=2000, repeats=7):
    frameworks = {"numpy": cases_numpy, "minigrad": cases_minigrad}
    try:
        import torch  # noqa: F401
        frameworks["torch"] = cases_torch
    except ImportError:
        pass
    results = {}
    for name, make in frameworks.items():
        results[name] = {case: median_us(fn, number, repeats) for case, fn in make(shape).items()}
    return results


def table(results):
    cases = list(next(iter(results.values())))
    base = "torch" if "torch" in results else "numpy"
    head = f"{'case':<16}" + "".join(f"{n + ' us':>14}" for n in results) + f"{'minigrad/' + base:>18}"
    lines = [head, "-" * len(head)]
    for c in cases:
        row = f"{c:<16}" + "".join(f"{results[n][c]:>14.2f}" for n in results)
        lines.append(row + f"{results['minigrad'][c] / results[base][c]:>17.2f}x")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=int, nargs="+", default=[32, 128])
    p.add_argument("--number", type=int, default=2000, help="calls per timing round")
    p.add_argument("--repeats", type=int, default=7, help="timing rounds (the median is reported)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    results = run(tuple(args.shape), args.number, args.repeats)
    print(f"per-op overhead, shape {tuple(args.shape)} float32, median of {args.repeats} x {args.number} calls "
          f"(python {platform.python_version()}, numpy {np.__version__}, minigrad backend {mg.get_backend().name})")
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": args.shape, "results_us": results, "python": sys.version}, f, indent=2)


if __name__ == "__main__":
    main()
