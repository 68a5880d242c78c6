"""Full BPTT against truncated BPTT: what each (k1, k2) costs in memory and time, and what it can learn.

The task is the adding problem unrolled into one long stream, so that the length of the
dependency is known exactly. Every step carries three numbers: a value u_t drawn
uniformly from [0, 1], a "first" marker and a "second" marker. A second marker comes
exactly ``--delay`` = d steps after each first marker (then a random gap of 1 .. d steps
before the next first marker), and at the second marker the target is the sum of the two
marked values. Only those steps are scored (MSE). The second value is on the input at
that very step; the first one is d steps back. A model that keeps nothing can do no better
than 0.5 + u_t, an MSE of Var(u) = 1/12 = 0.083: that is the baseline.

Why this task: an update of TBPTT(k1, k2) scores its k1 newest steps and backpropagates
through its k2 newest: the last scored step reaches k2 - 1 steps back, the first only
k2 - k1. An answer whose first marker lies further back than that gets no gradient
towards storing it. So:

* k1 = k2 = k < d: no loss ever reaches its first marker; the model stays at 1/12,
  however long it trains (its state would carry the value; nothing teaches it to);
* k1 = k2 = k > d: the answers at least d steps into a k-step piece can be learned
  (a fraction of about (k - d)/k of them), and the rule carries over to the rest;
* k1 < k2 with k2 - k1 >= d: every answer sees its first marker, at the price of
  recomputing k2 - k1 overlapping steps at every update;
* full BPTT (k1 = k2 = T, the whole stream): every dependency is in reach, but it keeps
  all T steps of activations and makes one update per pass over the data.

A synthetic task shows this more clearly than text or a time series, where the lengths
of the dependencies that matter are unknown and spread out.

What is measured, for each setting, with the same GRU (hidden 32), data, optimizer
(Adam, lr ``--lr``, clipping at 1) and ``--epochs`` passes over the training stream
(``rnn.TBPTT.fit``; k1 = k2 = T for full BPTT):

* peak memory of one training epoch: the peak that ``tracemalloc`` sees above what was
  allocated before the epoch. minigrad's arrays are numpy arrays (the fused kernels'
  outputs and saved activations too: the numba loops write into arrays numpy allocated;
  only their per-step scratch buffers of a few KiB are not seen), and numpy reports its
  buffers to tracemalloc, so this is the memory of the activations a backward keeps plus
  the temporaries. The process's
  peak RSS would be a poor measure here: it only ever grows, so the settings would have to
  run in separate processes, and minigrad asks glibc to keep up to 64 MiB of freed memory
  (``minigrad/memory.py``), which hides differences of that size. Tracing slows every
  allocation, so this epoch runs on its own and is not timed. With ``--device cuda``
  the activations live on the GPU, where tracemalloc does not look: the column then
  shows host memory only;
* wall time per epoch and updates per epoch (ceil(T / k1));
* the test MSE at the answer steps of a separate stream, after every epoch (run from a
  zero state with no truncation: the model's state may carry the value as far as it can).

    python examples/bptt_compare.py [--delay 20] [--steps 2000] [--settings full 10,10 40,40 10,40 100,100]

Prints the table and writes loss_vs_time.png (test MSE against training seconds, one
curve per setting, next to a bar chart of peak memory) and metrics.json to --out.
"""
import os
import time
import tracemalloc

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, device, parser, save_metrics, seed_everything

BASELINE = 1 / 12  # Var(u) for u ~ U(0, 1): the MSE of 0.5 + u_t, the best guess that remembers nothing


def adding_stream(steps, batch, delay, rng):
    """``batch`` independent streams of the adding problem, time first.

    Returns x (T, B, 3) float32: [u_t, first marker, second marker], and y (T, B, 2)
    float32: [target, 1 at the answer steps]. A second marker follows each first marker
    after exactly ``delay`` steps; the next first marker comes 1 .. delay steps later.
    The target at a second marker is the sum of the two marked values (0 elsewhere).
    """
    if delay < 1 or steps <= delay:
        raise ValueError(f"adding_stream: need 1 <= delay < steps, got delay={delay}, steps={steps}")
    x = np.zeros((steps, batch, 3), dtype=np.float32)
    y = np.zeros((steps, batch, 2), dtype=np.float32)
    x[:, :, 0] = rng.random((steps, batch))
    for b in range(batch):
        t = int(rng.integers(0, delay))
        while t + delay < steps:
            x[t, b, 1] = x[t + delay, b, 2] = 1.0
            y[t + delay, b] = (x[t, b, 0] + x[t + delay, b, 0], 1.0)
            t += delay + int(rng.integers(1, delay + 1))
    return x, y


def answer_loss(pred, y):
    """MSE over the answer steps only: pred (t, B, 1), y (t, B, 2) = [target, is answer].

    Pieces without an answer step give 0 (and a zero gradient)."""
    target, is_answer = y[..., :1], y[..., 1:]
    count = max(float(is_answer.sum().item()), 1.0)
    return (((pred - target) ** 2) * is_answer).sum() / count


class StreamModel(nn.Module):
    """x (t, B, 3), state -> (predictions (t, B, 1), new state): a GRU and a linear read-out, time first."""

    def __init__(self, hidden):
        super().__init__()
        self.gru = rnn.GRU(3, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, state=None):
        out, state = self.gru(x, state)
        return self.head(out), state


def test_mse(model, x, y, dev):
    """The MSE at the answer steps of a whole stream, from a zero state, without a graph or truncation."""
    model.eval()
    with mg.no_grad():
        pred, _ = model(mg.tensor(x, device=dev))
    model.train()
    p, target, is_answer = pred.numpy()[..., 0], y[..., 0], y[..., 1] > 0
    return float(np.mean((p[is_answer] - target[is_answer]) ** 2))


def parse_setting(text, steps):
    """"full" -> (T, T); "k1,k2" -> (k1, k2); "k" -> (k, k)."""
    if text == "full":
        return steps, steps
    try:
        ks = [int(v) for v in text.split(",")]
    except ValueError:
        ks = []
    if len(ks) not in (1, 2) or not 1 <= ks[0] <= ks[-1] <= steps:
        raise SystemExit(f"--settings: expected 'full', 'k' or 'k1,k2' with 1 <= k1 <= k2 <= {steps} (--steps), "
                         f"got {text!r}")
    return ks[0], ks[-1]


def label(k1, k2, steps):
    return "full BPTT" if k1 == k2 == steps else f"k1={k1}, k2={k2}"


def peak_memory(args, k1, k2, x, y, dev):
    """Peak bytes allocated (tracemalloc) during one training epoch of a fresh model, above the start."""
    model = StreamModel(args.hidden).to(dev)
    trainer = rnn.TBPTT(model, answer_loss, optim.Adam(model.parameters(), lr=args.lr), k1=k1, k2=k2, clip_norm=1.0)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        trainer.fit(x, y, epochs=1, verbose=0)
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def run_setting(args, k1, k2, train, test, dev):
    """Train a fresh model with TBPTT(k1, k2); returns its numbers: curve of (seconds, test MSE), etc."""
    mg.manual_seed(args.seed)  # the same initial weights for every setting
    model = StreamModel(args.hidden).to(dev)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    trainer = rnn.TBPTT(model, answer_loss, opt, k1=k1, k2=k2, clip_norm=1.0)
    curve, clock = [(0.0, test_mse(model, *test, dev))], {"train": 0.0, "mark": time.perf_counter()}

    def after_epoch(model, logs):
        clock["train"] += time.perf_counter() - clock["mark"]  # the evaluation below is not training time
        curve.append((clock["train"], test_mse(model, *test, dev)))
        clock["mark"] = time.perf_counter()

    history = trainer.fit(*train, epochs=args.epochs, callbacks=[after_epoch], verbose=0)
    updates = len(history.batch_history["loss"])  # counted, one entry per update
    return {"k1": k1, "k2": k2, "updates_per_epoch": updates / args.epochs,
            "seconds_per_epoch": clock["train"] / args.epochs, "train_loss": history.history["loss"],
            "curve": curve, "test_mse": curve[-1][1]}


def draw(results, memory, path, delay):
    """Left: test MSE against training seconds per setting (plot_history); right: peak memory per setting."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(11, 4.2), dpi=100)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    # from the first epoch on, time on a log scale: full BPTT's epochs take a fraction of a second, k1 = 10's seconds
    mg.plot.plot_history({f"{name} test loss": r["curve"][1:] for name, r in results.items()}, ax=left, logy=True,
                         best=None, xlabel="training time (s, log scale)", ylabel="test MSE at the answers")
    left.set_xscale("log")
    left.axhline(BASELINE, color="0.3", ls="--", lw=1, label="no memory (1/12)")
    left.legend(fontsize=8)
    left.set_title(f"learning a dependency of {delay} steps")
    names = list(results)
    mib = [memory[n] / 2 ** 20 for n in names]
    right.barh(range(len(names)), mib, color=[f"C{i}" for i in range(len(names))])
    for i, v in enumerate(mib):
        right.text(v, i, f" {v:.2f}", va="center", fontsize=8)
    right.set_xlim(0, 1.2 * max(mib))  # room for the largest bar's number
    right.set_yticks(range(len(names)), names)
    right.invert_yaxis()
    right.set_xlabel("peak memory of a training epoch (MiB, tracemalloc)")
    right.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path)
    return path


def main(argv=None):
    p = parser(__doc__, "bptt_compare", epochs=20)
    p.add_argument("--delay", type=int, default=20, help="steps between the two marked values (the dependency)")
    p.add_argument("--steps", type=int, default=2000, help="length T of the training stream (full BPTT's k1 = k2)")
    p.add_argument("--batch", type=int, default=32, help="streams read in parallel")
    p.add_argument("--hidden", type=int, default=32, help="GRU hidden units")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam's step size")
    p.add_argument("--settings", nargs="+", default=["full", "100,100", "40,40", "10,40", "10,10"],
                   help="truncations to compare: 'full' (k1 = k2 = T), 'k' (k1 = k2 = k) or 'k1,k2'")
    args = p.parse_args(argv)
    if args.quick:
        args.delay, args.steps, args.batch, args.hidden, args.epochs = 4, 240, 8, 16, 15
        args.settings = ["full", "12,12", "3,12", "2,2"]
    settings = [parse_setting(s, args.steps) for s in args.settings]
    seed_everything(args.seed)
    os.makedirs(args.out, exist_ok=True)  # the PNGs go there
    dev = device(args.device)
    if dev != "cpu":
        print("note: tracemalloc sees host memory only; the peak memory below leaves out the GPU's arrays")
    rng = np.random.default_rng(args.seed)
    train = adding_stream(args.steps, args.batch, args.delay, rng)
    test = adding_stream(args.steps, args.batch, args.delay, rng)
    answers = int(train[1][..., 1].sum())
    print(f"training stream: {args.steps} steps x {args.batch} streams, {answers} answers, each {args.delay} steps "
          f"after its first marker; GRU({args.hidden}); {args.epochs} epochs per setting")
    clock = Stopwatch()

    peak_memory(args, *settings[0], *train, dev)  # compiles the kernels first: that is not any setting's memory
    results, memory = {}, {}
    for k1, k2 in settings:
        name = label(k1, k2, args.steps)
        memory[name] = peak_memory(args, k1, k2, *train, dev)
        results[name] = r = run_setting(args, k1, k2, train, test, dev)
        r["peak_bytes"] = memory[name]
        print(f"{name:18s} {r['updates_per_epoch']:5.0f} updates/epoch  {r['seconds_per_epoch']:6.2f} s/epoch  "
              f"peak {memory[name] / 2 ** 20:7.2f} MiB  test MSE {r['test_mse']:.4f}  (total {clock():.0f}s)",
              flush=True)

    print(f"\n{'setting':18s} {'updates/epoch':>14s} {'s/epoch':>8s} {'peak MiB':>9s} {'train loss':>11s} "
          f"{'test MSE':>9s}   (no memory: {BASELINE:.4f})")
    for name, r in results.items():
        print(f"{name:18s} {r['updates_per_epoch']:14.0f} {r['seconds_per_epoch']:8.2f} "
              f"{r['peak_bytes'] / 2 ** 20:9.2f} {r['train_loss'][-1]:11.4f} {r['test_mse']:9.4f}")
    png = draw(results, memory, os.path.join(args.out, "loss_vs_time.png"), args.delay)
    print(f"loss against time written to {png}")
    best = min(results, key=lambda n: results[n]["test_mse"])
    full = label(args.steps, args.steps, args.steps)
    tail = f", full BPTT {results[full]['test_mse']:.4f}" if full in results and full != best else ""
    print(f"RESULT bptt_compare: best test MSE {results[best]['test_mse']:.4f} with {best}{tail} "
          f"(no-memory baseline {BASELINE:.4f}, dependency {args.delay} steps)")
    x_test, y_test = test
    is_answer = y_test[..., 1] > 0  # remembering nothing: 0.5 + the value shown at the answer step
    measured = float(np.mean((0.5 + x_test[..., 0][is_answer] - y_test[..., 0][is_answer]) ** 2))
    return save_metrics(args.out, {"config": vars(args).copy(), "baseline": BASELINE, "measured_baseline": measured,
                                   "answers": answers,
                                   "settings": results})


if __name__ == "__main__":
    main()
