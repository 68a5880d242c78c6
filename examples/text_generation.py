"""Character-level language model on Shakespeare: an LSTM that writes new "Shakespeare".

Task: read text one character at a time and predict the next character; then sample
from the model, one character at a time, to generate new text (the tutorials' text-
generation example, on a real corpus as in Karpathy's char-rnn).

Data: tiny Shakespeare (examples/data/tinyshakespeare.txt, 1,115,394 characters, 65
distinct). The first 90% trains, the last 10% validates: text the model never saw.

Model: Embedding(65, 32) -> 2-layer LSTM(hidden 128) -> Linear(128, 65) over every
step. The training text is cut into 64 parallel streams (``rnn.data.batchify``);
``rnn.TBPTT.fit`` reads them 64 characters per update, carries the hidden state from
one update to the next (so the model sees an unbroken text) but cuts the gradient
there, and clips the gradient norm at 1.

    python examples/text_generation.py [--epochs 6] [--out results/text_generation] [--resume]

Prints the training loss during each epoch, the validation loss and bits per
character (bpc) after it, compares them with the unigram and bigram baselines
(character frequencies; character-pair frequencies), prints samples at two
temperatures and writes a training-curve PNG. The default run takes 2-3 minutes on
2 CPU cores. The whole training state is checkpointed to OUT/training_state.npz after
every epoch and every 200 updates: after Ctrl-C (or a crash), ``--resume`` continues
from it and prints the numbers the uninterrupted run would have printed.

    python examples/text_generation.py --compare-torch

also trains the same model in PyTorch (same initial weights, data, updates, optimizer,
schedule and clipping; in a process of its own, with as many threads as minigrad's
kernels) and plots both losses against training time in OUT/compare_torch.png.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 mpiexec -n 2 python examples/text_generation.py --distributed

trains data-parallel over MPI (``pip install -e ".[distributed]"``): the 64 streams are
shared out over the ranks (32 each with two), every update's gradient is averaged over
them, and the run is the same training as one process's; rank 0 alone prints, plots and
writes the checkpoint, and ``--resume`` works the same way. With a host file
(``mpiexec -f hosts -n 8 ...``) the ranks run on several machines that share the folder.
"""
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, device, parser, save_metrics, seed_everything

LN2 = math.log(2)


class CharLM(nn.Module):
    """ids (T, B) -> logits (T, B, V) for the next character at every step, and the new state.

    ``state`` is the LSTM's (h, c), each (num_layers, B, H), or None for zeros; this is
    the ``model(x, state) -> (y_pred, new_state)`` signature that ``rnn.TBPTT`` drives.
    """

    def __init__(self, vocab_size, embed=32, hidden=128, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = rnn.LSTM(embed, hidden, num_layers=layers)  # time-major (T, B, E), as the streams are
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embed(ids), state)  # out (T, B, H): the top layer's h at every step
        return self.head(out), state


def lm_loss(logits, targets):
    """Mean cross-entropy (nats per character) of logits (T, B, V) against ids (T, B)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def ngram_baselines(train_ids, val_ids, vocab_size):
    """Validation cross-entropy (nats/char) of the unigram and bigram models, add-one smoothed.

    unigram: p(c) = count(c) / N, the best guess that ignores all context.
    bigram:  p(c | previous c'), one character of context; a model that learns less
             than this has learned next to nothing about sequences.
    """
    uni = np.bincount(train_ids, minlength=vocab_size) + 1.0
    uni_nll = -np.log(uni / uni.sum())[val_ids].mean()
    pairs = np.ones((vocab_size, vocab_size))
    np.add.at(pairs, (train_ids[:-1], train_ids[1:]), 1.0)
    pairs /= pairs.sum(axis=1, keepdims=True)
    bi_nll = -np.log(pairs[val_ids[:-1], val_ids[1:]]).mean()
    return float(uni_nll), float(bi_nll)


def lr_factor(k, total_updates):
    """The factor on the learning rate for update k (from 0): a cosine decay down to 5% of the
    initial rate over the run, big steps early, fine ones at the end."""
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(k, total_updates) / total_updates))


# ------------------------------------------------------------ --compare-torch
class UpdateClock(rnn.callbacks.Callback):
    """Training time: the seconds spent in updates (moving the piece of the stream, forward,
    backward, clipping, the optimizer and schedule steps), summed, without evaluation and
    checkpoints. ``seconds[i]`` is that clock after update i; the PyTorch run keeps the same."""

    def __init__(self):
        super().__init__()
        self.total, self.seconds, self.epoch_seconds = 0.0, [], []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.total += time.perf_counter() - self._start
        self.seconds.append(self.total)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(self.total)


def torch_run(folder):
    """Train CharLM in PyTorch as ``main`` trained it in minigrad, from the same initial weights,
    on the streams and settings in folder/spec.json + folder/arrays.npz; writes folder/torch.json.
    Runs in a process of its own (``compare_with_torch``): two thread pools in one process
    would slow each other."""
    import torch
    with open(os.path.join(folder, "spec.json")) as f:
        spec = json.load(f)
    arrays = np.load(os.path.join(folder, "arrays.npz"))
    torch.set_num_threads(spec["threads"])
    V, k = spec["vocab_size"], spec["bptt"]

    class TorchCharLM(torch.nn.Module):  # CharLM, line for line
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(V, spec["embed"])
            self.lstm = torch.nn.LSTM(spec["embed"], spec["hidden"], num_layers=spec["layers"])
            self.head = torch.nn.Linear(spec["hidden"], V)

        def forward(self, ids, state=None):
            out, state = self.lstm(self.embed(ids), state)
            return self.head(out), state

    model = TorchCharLM()
    model.load_state_dict({name[2:]: torch.from_numpy(arrays[name]) for name in arrays.files if name.startswith("w.")})
    opt = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda u: lr_factor(u, spec["total_updates"]))
    x, y, vx, vy = (torch.from_numpy(arrays[n]) for n in ("x", "y", "val_x", "val_y"))

    def evaluate():  # as TBPTT.evaluate: from a zero state, k steps at a time, no graph
        model.eval()
        total, state = 0.0, None
        with torch.no_grad():
            for start in range(0, len(vx), k):
                logits, state = model(vx[start:start + k], state)
                total += torch.nn.functional.cross_entropy(logits.reshape(-1, V), vy[start:start + k].reshape(-1)).item() \
                    * len(vx[start:start + k])
        model.train()
        return total / len(vx)

    clock, seconds, losses, epoch_seconds, val = 0.0, [], [], [], []
    wall = time.perf_counter()
    for _ in range(spec["epochs"]):
        state = None  # each epoch reads the streams from the start, from a zero state (as TBPTT.fit)
        for start in range(0, len(x), k):
            t0 = time.perf_counter()
            logits, state = model(x[start:start + k], state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y[start:start + k].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clip"])
            opt.step()
            schedule.step()
            state = tuple(s.detach() for s in state)  # carried, but the gradient stops here
            losses.append(loss.item())
            clock += time.perf_counter() - t0
            seconds.append(clock)
        epoch_seconds.append(clock)
        val.append(evaluate())
    result = {"framework": f"PyTorch {torch.__version__}", "threads": torch.get_num_threads(), "losses": losses,
              "seconds": seconds, "epoch_seconds": epoch_seconds, "val_loss_per_epoch": val,
              "wall_seconds": time.perf_counter() - wall}
    with open(os.path.join(folder, "torch.json"), "w") as f:
        json.dump(result, f)


def compare_with_torch(args, initial_weights, streams, vocab_size, total_updates, mine):
    """Run ``torch_run`` in a fresh interpreter on what minigrad trained on; plot both runs'
    losses against training time (OUT/compare_torch.png); return both runs' numbers."""
    folder = os.path.join(args.out, "compare_torch")
    os.makedirs(folder, exist_ok=True)
    threads = mine["threads"]
    with open(os.path.join(folder, "spec.json"), "w") as f:
        json.dump({"vocab_size": vocab_size, "embed": args.embed, "hidden": args.hidden, "layers": args.layers,
                   "bptt": args.bptt, "lr": args.lr, "clip": args.clip, "epochs": args.epochs,
                   "total_updates": total_updates, "threads": threads}, f)
    np.savez(os.path.join(folder, "arrays.npz"), **streams, **{f"w.{k}": v for k, v in initial_weights.items()})
    print(f"\ntraining the same model in PyTorch ({threads} threads, a process of its own) ...", flush=True)
    code = f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); " \
           f"import text_generation; text_generation.torch_run({folder!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"--compare-torch: the PyTorch run failed:\n{done.stderr[-3000:]}")
    with open(os.path.join(folder, "torch.json")) as f:
        theirs = json.load(f)
    curves = {}
    for r in (mine, theirs):
        name = r["framework"].split()[0]
        curves[f"{name} train loss"] = list(zip(r["seconds"], r["losses"]))
        curves[f"{name} val loss"] = list(zip(r["epoch_seconds"], r["val_loss_per_epoch"]))
    png = os.path.join(args.out, "compare_torch.png")
    mg.plot.plot_history(curves, png, best=None, xlabel="training time (s): updates only, not evaluation or checkpoints",
                         ylabel="nats per character",
                         title=f"the same char-LSTM ({args.layers}x{args.hidden}), same data and updates")
    for r in (mine, theirs):
        # the median update is what a machine busy with other work disturbs least
        r["median_update_s"] = float(np.median(np.diff(r["seconds"], prepend=0.0)))
        print(f"{r['framework']:>28s} ({r['threads']} threads): validation {r['val_loss_per_epoch'][-1]:.3f} nats/char "
              f"after {len(r['losses'])} updates; training time {r['seconds'][-1]:.1f}s (whole run "
              f"{r['wall_seconds']:.1f}s), median update {r['median_update_s'] * 1e3:.1f} ms")
    print(f"minigrad's training time is {mine['seconds'][-1] / theirs['seconds'][-1]:.2f}x PyTorch's (median update: "
          f"{mine['median_update_s'] / theirs['median_update_s']:.2f}x); plot written to {png}")
    keep = ("framework", "threads", "val_loss_per_epoch", "epoch_seconds", "wall_seconds", "median_update_s")
    return {key: {**{k: r[k] for k in keep}, "val_loss": r["val_loss_per_epoch"][-1], "train_seconds": r["seconds"][-1],
                  "updates": len(r["losses"])} for key, r in (("minigrad", mine), ("torch", theirs))}


def check_compare_torch(args):
    """--compare-torch needs PyTorch and a fresh CPU run with k2 = k1 (what the PyTorch loop does):
    said at once, before any training."""
    import importlib.util
    # the arguments first: what to change in the command, whether or not PyTorch is here
    problems = [msg for bad, msg in ((args.device != "cpu", "--device cpu (PyTorch trains on the CPU)"),
                                     (args.k2 not in (None, args.bptt), "--k2 equal to --bptt"),
                                     (args.resume, "a fresh run, not --resume (both clocks start at 0)")) if bad]
    if problems:
        raise SystemExit(f"--compare-torch: needs {', '.join(problems)}")
    if importlib.util.find_spec("torch") is None:
        raise SystemExit("--compare-torch: PyTorch is not installed here (pip install torch); run without "
                         "--compare-torch to train minigrad alone")


def main(argv=None):
    p = parser(__doc__, "text_generation", epochs=6)
    p.add_argument("--hidden", type=int, default=128, help="LSTM hidden units per layer")
    p.add_argument("--embed", type=int, default=32, help="character-embedding size")
    p.add_argument("--layers", type=int, default=2, help="stacked LSTM layers")
    p.add_argument("--batch-size", type=int, default=64, help="parallel streams")
    p.add_argument("--bptt", type=int, default=64, help="characters per update (TBPTT k1)")
    p.add_argument("--k2", type=int, default=None,
                   help="steps the gradient flows back (TBPTT k2 >= k1; default k1). k2 > k1 gives every "
                        "loss at least k2 - k1 steps of history, at the cost of recomputing them")
    p.add_argument("--lr", type=float, default=4e-3, help="Adam's learning rate at the start (cosine decay to 5%%)")
    p.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    p.add_argument("--sample-chars", type=int, default=300, help="characters sampled after training")
    p.add_argument("--checkpoint-every", type=int, default=200,
                   help="updates between checkpoints of the whole training state (also after every epoch)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/training_state.npz if it exists (Ctrl-C stops a run after the "
                        "current update)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training over MPI: run under `mpiexec -n R` (R <= --batch-size); rank 0 "
                        "alone prints and writes files")
    p.add_argument("--compare-torch", action="store_true",
                   help="also train the same model in PyTorch (needs torch) and plot both losses against training "
                        "time in OUT/compare_torch.png")
    args = p.parse_args(argv)
    if args.quick:  # a small model, 2 epochs over the first 30k characters
        args.hidden, args.embed, args.batch_size, args.bptt, args.sample_chars = 48, 16, 16, 32, 80
        args.epochs = min(args.epochs, 2)
    seed_everything(args.seed)
    dev = device(args.device)
    if args.compare_torch and args.distributed:
        p.error("--compare-torch times one process; run it without --distributed")
    if args.compare_torch:
        check_compare_torch(args)
    rank = 0
    if args.distributed:
        import minigrad.distributed as dist
        rank, _ = dist.init()
        if rank != 0:
            sys.stdout = open(os.devnull, "w")  # rank 0 alone reports; every rank trains
        print(f"data-parallel over {dist.describe()}")

    text = rnn.datasets.load_shakespeare()  # one str, 1,115,394 characters
    if args.quick:
        text = text[:30_000]
    # The character set is the alphabet of the corpus: taken from all of it, so every
    # validation character has an id. No <pad>/<unk>: a stream has no padding.
    vocab = rnn.data.Vocab.from_text(text, level="char", specials=())
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    train_stream = rnn.data.batchify(train_ids, args.batch_size)  # (T, B): 64 streams side by side
    val_stream = rnn.data.batchify(val_ids, 8)
    uni, bi = ngram_baselines(train_ids, val_ids, len(vocab))

    model = CharLM(len(vocab), args.embed, args.hidden, args.layers).to(dev)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    updates_per_epoch = math.ceil((len(train_stream) - 1) / args.bptt)
    total_updates = args.epochs * updates_per_epoch
    def decay(k):  # cosine decay per update (lr_factor)
        return lr_factor(k, total_updates)

    schedule = optim.LambdaLR(opt, decay)
    trainer = rnn.TBPTT(model, lm_loss, opt, k1=args.bptt, k2=args.k2 or args.bptt, clip_norm=args.clip)
    print(model)
    print(f"{model.num_parameters()} parameters; vocabulary {len(vocab)} characters; "
          f"{len(train_ids)} training / {len(val_ids)} validation characters; "
          f"{updates_per_epoch} updates per epoch")
    print(f"baselines on validation: unigram {uni:.3f} nats/char ({uni / LN2:.2f} bpc), "
          f"bigram {bi:.3f} ({bi / LN2:.2f} bpc)")

    # TBPTT.fit walks the streams k1 characters per update; the targets are the next characters
    x_stream, y_stream = train_stream[:-1], train_stream[1:]
    initial_weights = {k: v.copy() for k, v in model.state_dict().items()} if args.compare_torch else None
    report_every = max(1, updates_per_epoch // 4)
    clock = Stopwatch()

    def report(batch, logs):  # four lines per epoch: the epoch's mean loss so far
        if (batch + 1) % report_every == 0:
            print(f"  update {batch + 1}/{updates_per_epoch}  loss {logs['loss']:.3f}  "
                  f"lr {opt.param_groups[0]['lr']:.2e}  {clock():.0f}s", flush=True)

    def summary(epoch, logs):
        print(f"epoch {epoch + 1:2d}  train {logs['loss']:.3f}  val {logs['val_loss']:.3f} nats/char = "
              f"{logs['val_loss'] / LN2:.3f} bpc  ({clock():.0f}s)", flush=True)

    # The whole training state (weights, Adam, the schedule, the carried hidden state, the
    # position in the stream) is saved after every epoch and every --checkpoint-every updates;
    # --resume continues from it with the numbers an uninterrupted run would print.
    state_path = os.path.join(args.out, "training_state.npz")
    update_clock = UpdateClock()  # training time without evaluation and checkpoints, for --compare-torch
    run = trainer.fit(x_stream, y_stream, epochs=args.epochs, validation_data=(val_stream[:-1], val_stream[1:]),
                      scheduler=schedule, scheduler_interval="update", checkpoint=state_path,
                      checkpoint_every=args.checkpoint_every, resume=args.resume, verbose=0, distributed=args.distributed,
                      callbacks=[rnn.callbacks.LambdaCallback(on_train_batch_end=report, on_epoch_end=summary),
                                 update_clock])
    wall_seconds = clock()
    if rank != 0:
        return None  # the sampling, the plot and metrics.json are rank 0's
    if not run.epoch:
        print(f"stopped before the first epoch ended; rerun with --resume to continue from {state_path}")
        return None
    history = {"train loss": run.history["loss"], "val loss": run.history["val_loss"]}
    first_losses = run.batch_history["loss"][:10]

    rng = np.random.default_rng(args.seed)
    for temperature in (0.5, 1.0):
        print(f"\n--- sample, temperature {temperature} ---")
        print(rnn.generate_text(model, vocab, "ROMEO:\n", args.sample_chars, temperature=temperature, rng=rng))
    print()
    val = history["val loss"][-1]
    print(f"trained in {clock():.0f}s; first updates' loss {np.mean(first_losses[:3]):.3f}, "
          f"last epoch's {history['train loss'][-1]:.3f}")
    print(f"RESULT text_generation: validation {val:.3f} nats/char = {val / LN2:.3f} bpc "
          f"(unigram baseline {uni / LN2:.3f} bpc, bigram {bi / LN2:.3f} bpc)")
    # the training loss of every update (smoothed) against the validation loss of every epoch,
    # and the baselines as flat lines over the run
    png = os.path.join(args.out, "training_curve.png")
    steps = run.batch_history
    done = len(run.epoch)
    mg.plot.plot_history({"train loss": list(zip(steps["epoch"], steps["loss"])), "val loss": history["val loss"],
                          "unigram baseline loss": [(0, uni), (done, uni)],
                          "bigram baseline loss": [(0, bi), (done, bi)],
                          "lr": [(x, args.lr * decay(k)) for k, x in enumerate(steps["epoch"])]},
                         png, xlabel="epoch", ylabel="nats per character",
                         title=f"char-LSTM on tiny Shakespeare ({args.layers}x{args.hidden})")
    print(f"training curve written to {png}")
    compared = {}
    if args.compare_torch:
        backend = mg.backends.get_backend()
        threads = getattr(getattr(backend, "loops", None), "threads", None)  # numba's thread count
        mine = {"framework": f"minigrad[{backend.name}]", "threads": threads() if threads else os.cpu_count() or 1,
                "losses": run.batch_history["loss"], "seconds": update_clock.seconds,
                "epoch_seconds": update_clock.epoch_seconds, "val_loss_per_epoch": history["val loss"],
                "wall_seconds": wall_seconds}
        compared["compare_torch"] = compare_with_torch(
            args, initial_weights, {"x": x_stream, "y": y_stream, "val_x": val_stream[:-1], "val_y": val_stream[1:]},
            len(vocab), total_updates, mine)
    return save_metrics(args.out, {**compared, "val_loss": val, "val_bpc": val / LN2, "unigram_bpc": uni / LN2,
                                   "bigram_bpc": bi / LN2, "first_losses": first_losses,
                                   "train_loss_per_epoch": history["train loss"],
                                   "val_loss_per_epoch": history["val loss"]})


if __name__ == "__main__":
    main()
