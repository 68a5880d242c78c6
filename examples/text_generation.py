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
"""
import math
import os

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, data_path, device, parser, save_metrics, seed_everything

LN2 = math.log(2)


def load_text():
    with open(data_path("tinyshakespeare.txt"), encoding="utf-8") as f:
        return f.read()


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


def sample(model, vocab, prompt, n_chars, temperature, rng):
    """Generate ``n_chars`` characters after ``prompt``, drawing each from softmax(logits / temperature).

    A low temperature sharpens the distribution (safer, more repetitive text); 1.0
    samples from the model as trained; above 1 flattens it (more surprising, more errors).
    """
    model.eval()
    out = []
    dev = next(model.parameters()).device
    with mg.no_grad():
        ids = vocab.encode(prompt)[:, None]  # (T, 1): the prompt sets up the state
        logits, state = model(mg.tensor(ids, device=dev))
        for _ in range(n_chars):
            z = logits.numpy()[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            nxt = rng.choice(len(p), p=p / p.sum())
            out.append(vocab.itos[nxt])
            logits, state = model(mg.tensor(np.array([[nxt]]), device=dev), state)
    model.train()
    return prompt + "".join(out)


def main(argv=None):
    p = parser(__doc__, "text_generation", epochs=6)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64, help="parallel streams")
    p.add_argument("--bptt", type=int, default=64, help="characters per update (TBPTT k1)")
    p.add_argument("--k2", type=int, default=None,
                   help="steps the gradient flows back (TBPTT k2 >= k1; default k1). k2 > k1 gives every "
                        "loss at least k2 - k1 steps of history, at the cost of recomputing them")
    p.add_argument("--lr", type=float, default=4e-3)
    p.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    p.add_argument("--sample-chars", type=int, default=300)
    p.add_argument("--checkpoint-every", type=int, default=200,
                   help="updates between checkpoints of the whole training state (also after every epoch)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/training_state.npz if it exists (Ctrl-C stops a run after the "
                        "current update)")
    args = p.parse_args(argv)
    if args.quick:  # a small model, 2 epochs over the first 30k characters
        args.hidden, args.embed, args.batch_size, args.bptt, args.sample_chars = 48, 16, 16, 32, 80
        args.epochs = min(args.epochs, 2)
    seed_everything(args.seed)
    dev = device(args.device)

    text = load_text()
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
    # cosine decay per update, down to 5% of the initial rate: big steps early, fine ones at the end
    def decay(k):  # the factor on the learning rate for update k (from 0)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(k, total_updates) / total_updates))

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
    run = trainer.fit(x_stream, y_stream, epochs=args.epochs, validation_data=(val_stream[:-1], val_stream[1:]),
                      scheduler=schedule, scheduler_interval="update", checkpoint=state_path,
                      checkpoint_every=args.checkpoint_every, resume=args.resume, verbose=0,
                      callbacks=[rnn.callbacks.LambdaCallback(on_train_batch_end=report, on_epoch_end=summary)])
    if not run.epoch:
        print(f"stopped before the first epoch ended; rerun with --resume to continue from {state_path}")
        return None
    history = {"train loss": run.history["loss"], "val loss": run.history["val_loss"]}
    first_losses = run.batch_history["loss"][:10]

    rng = np.random.default_rng(args.seed)
    for temperature in (0.5, 1.0):
        print(f"\n--- sample, temperature {temperature} ---")
        print(sample(model, vocab, "ROMEO:\n", args.sample_chars, temperature, rng))
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
    return save_metrics(args.out, {"val_loss": val, "val_bpc": val / LN2, "unigram_bpc": uni / LN2,
                                   "bigram_bpc": bi / LN2, "first_losses": first_losses,
                                   "train_loss_per_epoch": history["train loss"],
                                   "val_loss_per_epoch": history["val loss"]})


if __name__ == "__main__":
    main()
