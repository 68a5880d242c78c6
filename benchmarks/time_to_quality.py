"""Time to quality: how long minigrad and PyTorch take to train the char-LSTM to a validation loss.

    python benchmarks/time_to_quality.py [--minutes 8] [--target 1.60] [--out results/ttq]

The model, step and evaluation of ``benchmarks/suites/charlm.py`` (Embedding 65 -> 64,
LSTM 256, Linear 256 -> 65, Adam 2e-3, clip 5) on tiny Shakespeare, one protocol for both:

* data: the first 90% of the characters train, the last 10% validate; the vocabulary is
  the characters of the whole text (sorted);
* training: batches of 32 windows of 100 characters at random positions (one seeded
  numpy generator, so both frameworks see the same batches), each from a zero state,
  full BPTT, next-character cross-entropy;
* validation: the mean cross-entropy (nats per character) over 100 fixed windows of 100
  characters of the validation text, each from a zero state, every ``--eval-every``
  seconds of training; the clock is paused while evaluating;
* each framework trains for ``--minutes`` of training time in a process of its own, one
  after the other (two cores: running them together would halve both), with this
  machine's cores as its threads.

Writes ``<out>/time_to_quality.json`` (both curves) and ``time_to_quality.png`` (both
curves on one plot), and prints the training time each needed to reach ``--target``.
For benchmarks, unset ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` in the command.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as a script: the benchmarks package must be importable
    sys.path.insert(0, ROOT)
from benchmarks.suites import charlm  # noqa: E402  (the model, its step and evaluation)

TEXT = os.path.join(ROOT, "examples", "data", "tinyshakespeare.txt")
MODEL = dict(charlm.MODEL, val_windows=100)  # (the vocabulary comes from the text)
QUICK = dict(MODEL, embed=8, hidden=16, batch=4, steps=12, lr=1e-2, val_windows=5)


def load(path=TEXT, limit=None):
    """(train ids, validation ids, vocabulary size): the first 90% trains, the last 10% validates."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if limit:
        text = text[:limit]
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    cut = int(0.9 * len(ids))
    return ids[:cut], ids[cut:], len(chars)


def windows(ids, starts, steps):
    """(steps, n) inputs and (steps, n) next-character targets of the windows at ``starts``."""
    idx = np.asarray(starts)[None, :] + np.arange(steps + 1)[:, None]
    w = ids[idx]
    return w[:-1], w[1:]


def _minigrad(m, vocab, backend):
    import minigrad as mg
    mg.set_backend(backend)
    return charlm.minigrad_model("cpu", dict(m, vocab=vocab)) + (f"minigrad[{backend}]",)


def _torch(m, vocab):
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    return charlm.torch_model(dict(m, vocab=vocab)) + (f"torch {torch.__version__}",)


def train(framework, seconds, eval_every, m, limit=None, backend="numba", seed=0):
    """Train one framework for ``seconds`` of training time: its validation curve."""
    train_ids, val_ids, vocab = load(limit=limit)
    step, evaluate, label = _torch(m, vocab) if framework == "torch" else _minigrad(m, vocab, backend)
    rng = np.random.default_rng(seed)
    val_starts = np.random.default_rng(seed + 1).integers(0, len(val_ids) - m["steps"] - 1, m["val_windows"])
    vx, vy = windows(val_ids, val_starts, m["steps"])
    curve = [(0.0, 0, evaluate(vx, vy))]
    trained, steps, next_eval = 0.0, 0, eval_every
    while trained < seconds:
        x, y = windows(train_ids, rng.integers(0, len(train_ids) - m["steps"] - 1, m["batch"]), m["steps"])
        t0 = time.perf_counter()
        step(x, y)
        trained += time.perf_counter() - t0
        steps += 1
        if trained >= next_eval or trained >= seconds:
            curve.append((trained, steps, evaluate(vx, vy)))  # (the clock is paused while evaluating)
            next_eval += eval_every
    return {"framework": label, "curve": curve, "steps": steps}


def reached(curve, target):
    """Training seconds at which the validation loss first reached ``target``, or None."""
    return next((t for t, _, v in curve if v <= target), None)


def plot(results, target, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in results:
        t, _, v = zip(*r["curve"])
        ax.plot(np.array(t) / 60, v, "o-", ms=3, label=f"{r['framework']} ({r['steps']} steps)")
    ax.axhline(target, color="gray", ls="--", lw=1, label=f"target {target}")
    low = min(v for r in results for _, _, v in r["curve"])
    ax.set_ylim(low - 0.05, max(target + 0.6, low + 0.3))  # the approach to the target, not the first minute's drop
    ax.set_xlabel("training time (minutes; evaluation not counted)")
    ax.set_ylabel("validation loss (nats/char)")
    ax.set_title("char-LSTM on tiny Shakespeare (B=32, T=100, H=256, Adam)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", type=float, default=8.0, help="training time per framework")
    p.add_argument("--target", type=float, default=1.60, help="validation loss to reach (nats/char)")
    p.add_argument("--eval-every", type=float, default=15.0, help="seconds of training between evaluations")
    p.add_argument("--frameworks", default="minigrad,torch")
    p.add_argument("--backend", default="numba", help="minigrad's CPU backend")
    p.add_argument("--out", default=os.path.join("results", "time_to_quality"))
    p.add_argument("--quick", action="store_true", help="a toy model on 20k characters, for tests")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    m, limit = (QUICK, 20_000) if args.quick else (MODEL, None)
    if args.child:
        print(json.dumps(train(args.child, args.minutes * 60, args.eval_every, m, limit, args.backend)))
        return 0
    os.makedirs(args.out, exist_ok=True)
    results = []
    for fw in args.frameworks.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", fw, "--minutes", str(args.minutes),
               "--eval-every", str(args.eval_every), "--backend", args.backend] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
        if out.returncode:
            print(f"{fw}: failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["reached_s"] = reached(r["curve"], args.target)
        results.append(r)
        best = min(v for _, _, v in r["curve"])
        when = "not reached" if r["reached_s"] is None else f"reached after {r['reached_s'] / 60:.2f} min"
        print(f"{r['framework']:22s} {r['steps']:6d} steps, best validation {best:.3f}; target {args.target}: {when}")
    times = {r["framework"]: r["reached_s"] for r in results}
    mine = [t for f, t in times.items() if f.startswith("minigrad")]
    theirs = [t for f, t in times.items() if f.startswith("torch")]
    if mine and theirs and mine[0] and theirs[0]:
        print(f"minigrad needed {mine[0] / theirs[0]:.2f}x PyTorch's training time to reach {args.target}")
    with open(os.path.join(args.out, "time_to_quality.json"), "w") as f:
        json.dump({"target": args.target, "minutes": args.minutes, "model": m, "results": results}, f, indent=1)
    if results:
        print("plot:", plot(results, args.target, os.path.join(args.out, "time_to_quality.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
