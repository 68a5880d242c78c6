"""What the examples share: where their data lives, their command line, a stopwatch, metrics.json.

Kept small on purpose: each example should read top to bottom on its own, so only
the plumbing that would otherwise be copied word for word lives here.
"""
import argparse
import json
import os
import time

import numpy as np

import minigrad as mg

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def data_path(*parts):
    """Path of a file under examples/data/ (the data ships with the repository)."""
    return os.path.join(DATA, *parts)


class _ExampleParser(argparse.ArgumentParser):
    """Resolves ``--out`` after parsing: a --quick run writes to its own folder, so it never
    overwrites the PNGs and metrics of a full run."""

    def parse_args(self, args=None, namespace=None):
        ns = super().parse_args(args, namespace)
        if ns.out is None:
            ns.out = os.path.join("results", self.example + ("-quick" if ns.quick else ""))
        return ns


def parser(doc, name, epochs):
    """An ArgumentParser with the options every example has.

    --epochs   passes over the training data
    --out      where the PNG (and anything else) is written; results/<name> by default,
               results/<name>-quick for a --quick run
    --quick    a tiny run that finishes in seconds (used by the tests)
    --seed     for the weights, the shuffling and the sampling
    --device   cpu, or cuda for the GPU (checked by ``device``)

    ``--help`` shows every option with its default.
    """
    p = _ExampleParser(description=doc.strip().splitlines()[0],
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.example = name
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training data")
    p.add_argument("--out", default=None,
                   help=f"folder for the PNGs and metrics.json (default: results/{name}, or results/{name}-quick "
                        "with --quick)")
    p.add_argument("--quick", action="store_true", help="a tiny run (seconds), for tests")
    p.add_argument("--seed", type=int, default=0, help="seed for the weights, the shuffling and the sampling")
    add_device_option(p)
    return p


def add_device_option(p):
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="where the model trains: cuda runs every kernel on the GPU (docs/cuda.md)")


def device(name):
    """The device asked for on the command line, checked before any work: where the GPU is not
    there, a clear message saying why (and how to run the kernels in numba's simulator)."""
    info = mg.available_backends().get(name)
    if name != "cpu" and not (info and info["available"]):
        raise SystemExit(f"--device {name}: not available here: {info['reason'] if info else 'unknown device'}")
    return name


def seed_everything(seed):
    """One seed for minigrad's generator (weights, dropout, shuffling) and numpy's."""
    mg.manual_seed(seed)
    np.random.seed(seed)


class Stopwatch:
    """Seconds since creation: ``sw = Stopwatch(); ...; sw()``."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self):
        return time.perf_counter() - self.start


def save_metrics(out, metrics):
    """Write the run's numbers to <out>/metrics.json (numpy scalars and arrays as plain JSON); return them.

    Handy for comparing runs, and what the tests read to check an example's claims.
    """
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "metrics.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=1, default=lambda v: v.tolist() if hasattr(v, "tolist") else float(v))
    print(f"metrics written to {path}")
    return metrics
