"""What a recurrent network can remember: the adding problem and the copy task, RNN vs LSTM vs GRU.

Two synthetic tasks whose only difficulty is the distance between a cause and its effect:

* The adding problem (Hochreiter & Schmidhuber 1997; the version of Le et al. 2015).
  Each of T steps carries two numbers: a value drawn uniformly from [0, 1] and a
  marker. Exactly two steps are marked, one in the first half, one in the second; the
  target, read from the last hidden state, is the sum of the two marked values. A model
  that remembers nothing predicts the mean, 1.0, and scores MSE = Var(u1 + u2) =
  2/12 = 0.167: that is the baseline. Solving the task means carrying a value across up
  to T steps while ignoring everything in between.
* The copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016). The model reads
  S symbols out of K, then T blank steps, then S steps marked "recall", during which it
  must output the S symbols in order. A model that remembers nothing guesses uniformly:
  cross-entropy ln K, accuracy 1/K. Here the model must keep S symbols, not one number.

Every cell (vanilla tanh RNN, LSTM, GRU; one layer, hidden size 32) gets the same data
and the same budget for each T: ``rnn.train.fit`` with Adam, gradient-norm clipping and
``--epochs`` passes over ``--train-size`` fresh sequences; the test set is drawn
separately and used once, at the end. The LSTM's forget gates start at sigmoid(1)
(``forget_bias=1.0``, Jozefowicz et al. 2015) so that its cells start out keeping
their content.

Why the vanilla RNN fails, in one picture: ``gradients.png`` shows ||dL/dh_t|| for
every step t of a T = 100 adding batch (``rnn.inspect.hidden_grad_norms``, float64) at
initialisation and after training, and the recurrent layer's gradient norm over the
updates (``rnn.callbacks.GradNormLogger``). The loss sits at the last step; the
marked values sit up to 100 steps before it. If ||dL/dh_t|| has shrunk to 1e-10 of its
size there, nothing can teach the network to store them.

    python examples/long_range.py [--task both] [--lengths 50 100 200] [--cells rnn lstm gru]

Prints the test table against the baselines and writes adding_curves.png,
copy_curves.png, gradients.png and metrics.json to --out.
"""
import math
import os

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn

from _common import Stopwatch, device, parser, save_metrics, seed_everything

CELLS = {"rnn": rnn.RNN, "lstm": rnn.LSTM, "gru": rnn.GRU}
ADDING_BASELINE = 1 / 6  # E[(u1 + u2 - 1)^2] = Var(u1) + Var(u2) = 2/12 for u ~ U(0, 1)


# ------------------------------------------------------------------ the two tasks
def adding_problem(n, steps, rng):
    """n sequences of the adding problem: x (n, T, 2) float32, y (n, 1) float32.

    x[..., 0] ~ U(0, 1) at every step; x[..., 1] is 1 at exactly two steps, one drawn
    uniformly from the first half (0 .. T//2 - 1) and one from the second (T//2 .. T-1),
    and 0 elsewhere. y = the sum of the two marked values.
    """
    if steps < 2:
        raise ValueError(f"adding_problem: need at least 2 steps (one marker per half), got {steps}")
    x = np.zeros((n, steps, 2), dtype=np.float32)
    x[:, :, 0] = rng.random((n, steps))
    rows = np.arange(n)
    first = rng.integers(0, steps // 2, n)
    second = rng.integers(steps // 2, steps, n)
    x[rows, first, 1] = x[rows, second, 1] = 1.0
    y = x[rows, first, 0] + x[rows, second, 0]
    return x, y[:, None]


def copy_task(n, blanks, rng, symbols=8, length=5):
    """n sequences of the copy task: x (n, L, K + 2) one-hot float32, y (n, S) int64, L = S + T + S.

    Steps 0 .. S-1 show S symbols drawn uniformly from K = ``symbols`` (channels 0 .. K-1),
    the next T = ``blanks`` steps are blank (channel K), the last S steps carry the
    "recall" marker (channel K + 1). y holds the S symbols, to be output at the last S
    steps in order: each is T + S steps after it was shown.
    """
    if blanks < 0 or length < 1 or symbols < 2:
        raise ValueError(f"copy_task: need blanks >= 0, length >= 1, symbols >= 2, got blanks={blanks}, "
                         f"length={length}, symbols={symbols}")
    s = length
    y = rng.integers(0, symbols, (n, s))
    x = np.zeros((n, s + blanks + s, symbols + 2), dtype=np.float32)
    x[np.arange(n)[:, None], np.arange(s)[None, :], y] = 1.0
    x[:, s:s + blanks, symbols] = 1.0
    x[:, s + blanks:, symbols + 1] = 1.0
    return x, y


class Reader(nn.Module):
    """A recurrent layer and a linear read-out of its last ``read`` outputs.

    x (B, L, I) -> (B, O) from the last hidden state when read == 1 (the adding problem),
    else (B, read, O): one prediction per recall step (the copy task).
    """

    def __init__(self, cell, input_size, hidden, output_size, read=1, forget_bias=None):
        super().__init__()
        kwargs = {"forget_bias": forget_bias} if cell == "lstm" and forget_bias is not None else {}
        self.rnn = CELLS[cell](input_size, hidden, batch_first=True, **kwargs)
        self.head = nn.Linear(hidden, output_size)
        self.read = read

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]) if self.read == 1 else self.head(out[:, -self.read:])


# ------------------------------------------------------------------ training
def train_one(task, cell, data, args, dev, callbacks=()):
    """Train a fresh model on one task and length; returns (model, History, test numbers, seconds)."""
    (x, y), val, (x_test, y_test) = data
    mg.manual_seed(args.seed)  # the same initial weights for a cell at every length
    if task == "adding":
        model, loss, metrics = Reader(cell, 2, args.hidden, 1, forget_bias=args.forget_bias), "mse", ()
    else:
        k = args.symbols
        model = Reader(cell, k + 2, args.hidden, k, read=args.copy_symbols, forget_bias=args.forget_bias)
        loss, metrics = lambda p, t: nn.functional.cross_entropy(p.reshape(-1, k), t.reshape(-1)), ("accuracy",)
    model.to(dev)
    clock = Stopwatch()
    history = rnn.train.fit(model, x, y, loss=loss, optimizer="adam", lr=args.lr, epochs=args.epochs,
                            batch_size=args.batch_size, validation_data=val, metrics=metrics,
                            clip_norm=args.clip, callbacks=callbacks, verbose=0)
    seconds = clock()
    test = rnn.train.evaluate(model, x_test, y_test, loss=loss, metrics=metrics)
    return model, history, test, seconds


def gradient_profile(model, x, y):
    """||dL/dh_t|| for t = 0 .. T-1 on one adding batch x (B, T, 2), L = the MSE of the read-out of h_T.

    Measured in float64 (a float64 copy of the read-out too), so that 1e-30 shows as 1e-30."""
    head = nn.Linear(model.head.in_features, model.head.out_features, dtype=mg.float64)
    head.load_state_dict(model.head.state_dict())
    loss_fn = lambda out, target: nn.functional.mse_loss(head(out[:, -1]), target)
    return rnn.inspect.hidden_grad_norms(model.rnn, mg.tensor(x, dtype=mg.float64), loss_fn,
                                         mg.tensor(y, dtype=mg.float64), dtype=mg.float64)


def draw_curves(runs, task, lengths, baseline, ylabel, path):
    """One panel per length: every cell's validation loss per epoch, the baseline dashed."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(4.2 * len(lengths), 3.8), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(lengths), squeeze=False)[0])
    for ax, steps in zip(axes, lengths):
        curves = {f"{cell} val loss": runs[(task, cell, steps)]["val_loss"]
                  for (t, cell, s) in runs if t == task and s == steps}
        mg.plot.plot_history(curves, ax=ax, logy=True, best=None, ylabel=ylabel)
        ax.axhline(baseline, color="0.3", ls="--", lw=1, label="no memory")
        ax.legend(fontsize=8)
        ax.set_title(f"T = {steps}")
    fig.suptitle(f"{task}: validation loss per epoch")
    fig.tight_layout()
    fig.savefig(path)
    return path


def main(argv=None):
    p = parser(__doc__, "long_range", epochs=20)
    p.add_argument("--task", choices=("adding", "copy", "both"), default="both", help="which task(s) to run")
    p.add_argument("--lengths", type=int, nargs="+", default=[50, 100, 200],
                   help="sequence lengths T of the adding problem")
    p.add_argument("--copy-lengths", type=int, nargs="+", default=[50, 100],
                   help="blank steps T between the symbols and their recall in the copy task")
    p.add_argument("--cells", nargs="+", choices=tuple(CELLS), default=list(CELLS), help="recurrent cells to compare")
    p.add_argument("--hidden", type=int, default=32, help="hidden units of every cell")
    p.add_argument("--train-size", type=int, default=3200, help="training sequences (one epoch = one pass)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per update")
    p.add_argument("--lr", type=float, default=2e-2, help="Adam's step size")
    p.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clipping")
    p.add_argument("--forget-bias", type=float, default=1.0, help="initial forget-gate bias of the LSTM")
    p.add_argument("--symbols", type=int, default=8, help="copy task: alphabet size K")
    p.add_argument("--copy-symbols", type=int, default=5, help="copy task: symbols to remember S")
    p.add_argument("--probe-length", type=int, default=100,
                   help="T of the adding batch whose gradients through time are drawn (one of --lengths)")
    args = p.parse_args(argv)
    if args.quick:
        args.lengths, args.copy_lengths, args.probe_length = [10], [5], 10
        args.train_size, args.epochs, args.batch_size, args.hidden = 640, 4, 64, 32
    if args.probe_length not in args.lengths:
        args.probe_length = max(args.lengths)
    seed_everything(args.seed)
    os.makedirs(args.out, exist_ok=True)  # the PNGs go there
    dev = device(args.device)
    tasks = ("adding", "copy") if args.task == "both" else (args.task,)
    n_val, n_test = 1000, 2000
    clock = Stopwatch()

    runs, metrics, profiles, layer_norms = {}, {"config": vars(args).copy()}, {}, {}
    adding_targets = []  # every adding test set's y: the no-memory baseline measured on them
    for task in tasks:
        lengths = args.lengths if task == "adding" else args.copy_lengths
        for steps in lengths:
            rng = np.random.default_rng([args.seed, steps, 0 if task == "adding" else 1])
            make = adding_problem if task == "adding" else \
                lambda n, t, r: copy_task(n, t, r, args.symbols, args.copy_symbols)
            data = [make(n, steps, rng) for n in (args.train_size, n_val, n_test)]
            if task == "adding":
                adding_targets.append(data[2][1])
            probe = adding_problem(64, steps, rng) if task == "adding" and steps == args.probe_length else None
            for cell in args.cells:
                callbacks = ()
                if probe is not None:
                    mg.manual_seed(args.seed)  # the weights train_one starts from
                    init = Reader(cell, 2, args.hidden, 1, forget_bias=args.forget_bias)
                    start = gradient_profile(init, *probe)
                    callbacks = (rnn.callbacks.GradNormLogger(),)
                model, history, test, seconds = train_one(task, cell, data, args, dev, callbacks)
                if probe is not None:
                    profiles[cell] = np.stack([start, gradient_profile(model.to("cpu"), *probe)])
                    layer_norms[cell] = callbacks[0].norms["rnn.l0"]
                updates = len(history.batch_history["loss"])  # counted: one entry per update
                runs[(task, cell, steps)] = run = {
                    "train_loss": history.history["loss"], "val_loss": history.history["val_loss"],
                    "test_loss": test["loss"], "seconds": seconds, "updates": updates}
                if task == "copy":
                    run["test_accuracy"] = test["accuracy"]
                extra = f"  accuracy {test['accuracy']:.3f}" if task == "copy" else ""
                print(f"{task:6s} T={steps:<4d} {cell:4s}  test {'MSE' if task == 'adding' else 'CE '} "
                      f"{test['loss']:.4f}{extra}  ({updates} updates, {seconds:.0f}s; total {clock():.0f}s)",
                      flush=True)
        if task == "adding":  # always predicting 1.0, scored on every length's test set
            metrics["adding_baseline"] = ADDING_BASELINE
            metrics["adding_baseline_measured"] = float(np.mean((np.concatenate(adding_targets) - 1.0) ** 2))
        else:
            metrics["copy_baseline_ce"] = math.log(args.symbols)
            metrics["copy_baseline_accuracy"] = 1 / args.symbols

    # ---------------------------------------------------------------- the table
    for task in tasks:
        lengths = args.lengths if task == "adding" else args.copy_lengths
        if task == "adding":
            print(f"\nadding problem, test MSE (no memory: always 1.0 -> {ADDING_BASELINE:.3f}; "
                  f"measured on the test sets {metrics['adding_baseline_measured']:.3f}):")
        else:
            print(f"\ncopy task ({args.copy_symbols} of {args.symbols} symbols), test cross-entropy / accuracy "
                  f"(no memory: ln {args.symbols} = {metrics['copy_baseline_ce']:.3f} / "
                  f"{metrics['copy_baseline_accuracy']:.3f}):")
        print(f"{'':6s}" + "".join(f"{f'T = {t}':>16s}" for t in lengths))
        for cell in args.cells:
            cols = []
            for t in lengths:
                r = runs[(task, cell, t)]
                cols.append(f"{r['test_loss']:.4f}" if task == "adding" else
                            f"{r['test_loss']:.3f} / {r['test_accuracy']:.2f}")
            print(f"{cell:6s}" + "".join(f"{c:>16s}" for c in cols))
        metrics[task] = {cell: {str(t): runs[(task, cell, t)] for t in lengths} for cell in args.cells}

    # ---------------------------------------------------------------- pictures
    for task in tasks:
        lengths = args.lengths if task == "adding" else args.copy_lengths
        baseline = ADDING_BASELINE if task == "adding" else math.log(args.symbols)
        png = draw_curves(runs, task, lengths, baseline, "MSE" if task == "adding" else "cross-entropy",
                          os.path.join(args.out, f"{task}_curves.png"))
        print(f"training curves written to {png}")
    if profiles:
        png = os.path.join(args.out, "gradients.png")
        mg.plot.plot_grad_norms(profiles, layer_norms, png, relative=True,
                                stages=["at initialisation", "after training"],
                                title=f"adding problem, T = {args.probe_length}: the loss reads h_T only")
        print(f"gradient picture written to {png}")
        t_back = args.probe_length // 2  # the first marker is at least this far from the loss
        metrics["gradient_probe"] = {"steps": args.probe_length, "profiles": profiles,
                                     "ratio_half_way": {c: (v[:, t_back] / v[:, -1]) for c, v in profiles.items()}}
        print(f"\n||dL/dh_t|| / ||dL/dh_T|| at t = {t_back} (the latest the first marker can be), T = "
              f"{args.probe_length}:  " + ",  ".join(
                  f"{c} {r[0]:.1e} -> {r[1]:.1e}" for c, r in metrics["gradient_probe"]["ratio_half_way"].items())
              + "  (at initialisation -> after training)")

    print(f"\n(total {clock():.0f}s)")
    if "adding" in tasks:
        t = 100 if 100 in args.lengths else max(args.lengths)
        row = ", ".join(f"{c} {runs[('adding', c, t)]['test_loss']:.4f}" for c in args.cells)
        if t == 100 and {"rnn", "lstm", "gru"} <= set(args.cells):
            met = all(runs[("adding", c, 100)]["test_loss"] < 0.01 for c in ("lstm", "gru")) \
                and runs[("adding", "rnn", 100)]["test_loss"] > 0.1
            metrics["target_met"] = met
            print(f"target (LSTM and GRU below 0.01 at T = 100, the vanilla RNN near {ADDING_BASELINE:.3f}): "
                  f"{'met' if met else 'NOT met with this budget'}")
        print(f"RESULT long_range: adding T={t} test MSE {row} (no-memory baseline {ADDING_BASELINE:.3f})")
    return save_metrics(args.out, metrics)


if __name__ == "__main__":
    main()
