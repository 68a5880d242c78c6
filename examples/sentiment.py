"""Sentiment classification of movie-review snippets with a bidirectional LSTM (or GRU).

Task: is a one-sentence movie review positive or negative? (The tutorials' IMDB
example; the IMDB download is not available offline, so this uses the classic
sentence-level movie-review set instead.)

Data: Pang & Lee's sentence polarity dataset v1.0 (examples/data/rt-polaritydata/):
10,662 Rotten Tomatoes snippets, 5,331 positive and 5,331 negative, already lower-
cased and tokenized. Shuffled once with a fixed seed and split 80/10/10 into train,
validation (to pick the epoch) and test (touched once, at the end).

Model: word ids -> Embedding(V, 96, padding_idx=0) -> bidirectional LSTM(96, 96)
-> [last forward state; last backward state] (192) -> dropout -> Linear(192, 2).
Sentences have different lengths, so each batch is padded at the end and the layer
gets ``lengths=``: the forward direction stops at each sentence's last real word,
the backward one starts there, and padding changes neither the result nor any
gradient. Batches group sentences of similar length (``rnn.data.bucket_batches``) so
that little padding is computed at all.

    python examples/sentiment.py [--epochs 8] [--cell gru] [--repeats 3] [--out results/sentiment]

Prints loss and accuracy per epoch, then the test accuracy against two baselines:
the majority class, and a bag-of-words logistic regression trained with minigrad
(one weight per word and class: the strong classical baseline on this data set).
Runs three times (``--repeats``: a new split and new weights each time) and says
whether the RNN beats the bag of words by more than the run-to-run spread, or by how
much it falls short. Writes a training-curve PNG and the test set's confusion matrix
(of the first run). The default run takes about two minutes on 2 CPU cores.
"""
import os

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, device, parser, save_metrics, seed_everything


class RNNClassifier(nn.Module):
    """Padded ids (B, T) with lengths (B,) -> class logits (B, 2).

    The recurrent layer is Keras-style with ``return_sequences=False``: it returns the
    final state of each direction at each sentence's real end, concatenated (B, 2H).
    """

    def __init__(self, vocab_size, embed=96, hidden=96, cell="lstm", dropout=0.5):
        super().__init__()
        layer = {"lstm": rnn.LSTM, "gru": rnn.GRU}[cell]
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)  # <pad> = id 0 stays a zero vector
        self.rnn = layer(embed, hidden, batch_first=True, bidirectional=True, return_sequences=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, 2)

    def forward(self, ids, lengths):
        x = self.drop(self.embed(ids))  # (B, T, E); dropping word vectors regularises a lot on 8k sentences
        return self.head(self.drop(self.rnn(x, lengths=lengths)))


class BagOfWords(nn.Module):
    """Logistic regression on word counts: logits = sum over the words of W[word] + b.

    ``Embedding(V, 2)`` summed over time is exactly counts (B, V) @ W (V, 2), without
    ever building the (B, V) count matrix; the padding row is zero, so padding adds nothing.
    """

    def __init__(self, vocab_size):
        super().__init__()
        self.w = nn.Embedding(vocab_size, 2, padding_idx=0)
        nn.init.zeros_(self.w.weight)
        self.b = nn.Parameter(np.zeros(2))

    def forward(self, ids, lengths=None):
        return self.w(ids).sum(axis=1) + self.b


def batches(lengths, batch_size, shuffle):
    """Index batches; for training, of sentences with similar lengths, in a random order."""
    if shuffle:
        return rnn.data.bucket_batches(lengths, batch_size)
    return [np.arange(i, min(i + batch_size, len(lengths))) for i in range(0, len(lengths), batch_size)]


def run_epoch(model, ids, lengths, labels, batch_size, opt=None):
    """One pass: trains if ``opt`` is given, else evaluates. Returns (mean loss, accuracy,
    the predicted class of every example, in the data's order)."""
    model.train(opt is not None)
    loss_sum, predicted = 0.0, np.zeros(len(labels), dtype=np.int64)
    dev = next(model.parameters()).device
    with mg.set_grad_enabled(opt is not None):
        for idx in batches(lengths, batch_size, shuffle=opt is not None):
            t = lengths[idx].max()  # cut the batch's padding down to its longest sentence
            logits = model(mg.tensor(ids[idx, :t], device=dev), lengths=lengths[idx])
            loss = nn.functional.cross_entropy(logits, mg.tensor(labels[idx], device=dev))
            if opt is not None:
                opt.zero_grad()
                loss.backward()
                optim.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
            loss_sum += loss.item() * len(idx)
            predicted[idx] = logits.numpy().argmax(axis=1)
    return loss_sum / len(labels), float((predicted == labels).mean()), predicted


def train(model, data, epochs, lr, batch_size, weight_decay, name, history=None):
    """Train on data["train"], keep the weights of the best validation epoch; return them loaded."""
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state = -1.0, None
    clock = Stopwatch()
    for epoch in range(1, epochs + 1):
        loss, acc, _ = run_epoch(model, *data["train"], batch_size, opt)
        val_loss, val_acc, _ = run_epoch(model, *data["val"], 256)
        print(f"{name} epoch {epoch:2d}  train loss {loss:.3f} acc {acc:.3f}  "
              f"val loss {val_loss:.3f} acc {val_acc:.3f}  ({clock():.0f}s)")
        if history is not None:
            for k, v in (("train loss", loss), ("val loss", val_loss), ("train accuracy", acc),
                         ("val accuracy", val_acc)):
                history.setdefault(k, []).append(v)
        if val_acc > best:  # model selection on validation only: the test set stays unseen
            best, best_state = val_acc, model.state_dict()
    model.load_state_dict(best_state)
    return best


def run(args, seed, dev):
    """One run: split the data with ``seed``, train both baselines and the RNN; returns the numbers."""
    seed_everything(seed)
    sentences, labels = rnn.datasets.load_polarity()  # (10662,) each: 1 = positive (all first), 0 = negative
    tokens = [rnn.data.tokenize(s) for s in sentences]
    order = np.random.default_rng(seed).permutation(len(tokens))  # the files are sorted by label
    if args.quick:
        order = order[:1200]
    n_val = n_test = len(order) // 10
    split = {"train": order[n_val + n_test:], "val": order[:n_val], "test": order[n_val:n_val + n_test]}

    # Words seen at least twice in training; the rest (and every test-only word) -> <unk>.
    vocab = rnn.data.Vocab([w for i in split["train"] for w in tokens[i]], min_freq=2)
    data = {}
    for part, idx in split.items():
        ids, lengths = rnn.data.pad_sequences([vocab.encode(tokens[i]) for i in idx], maxlen=args.maxlen)
        data[part] = (ids, lengths, labels[idx])  # ids (N, maxlen) with 0 = <pad>, lengths (N,)
    print(f"seed {seed}: {len(split['train'])} train / {len(split['val'])} validation / {len(split['test'])} test "
          f"snippets; vocabulary {len(vocab)} words (min count 2); mean length {data['train'][1].mean():.1f} tokens")

    # Baseline 1: always answer the class that is most common in training.
    majority = int(np.bincount(data["train"][2]).argmax())
    majority_acc = float((data["test"][2] == majority).mean())
    # Baseline 2: bag-of-words logistic regression (word order ignored).
    bow = BagOfWords(len(vocab)).to(dev)
    train(bow, data, args.bow_epochs, lr=0.01, batch_size=64, weight_decay=0.05, name="bag-of-words")
    bow_acc = run_epoch(bow, *data["test"], 256)[1]

    model = RNNClassifier(len(vocab), args.embed, args.hidden, args.cell).to(dev)
    if seed == args.seed:
        print(model)
        print(f"{model.num_parameters()} parameters")
    history = {}
    best_val = train(model, data, args.epochs, args.lr, args.batch_size, weight_decay=1e-2,
                     name=f"bi{args.cell.upper()}", history=history)
    test_loss, test_acc, test_pred = run_epoch(model, *data["test"], 256)
    print(f"seed {seed}: test accuracy bi{args.cell.upper()} {test_acc:.3f}, bag of words {bow_acc:.3f}, majority "
          f"class {majority_acc:.3f} (best validation accuracy {best_val:.3f})")
    return dict(test_acc=test_acc, bow_acc=bow_acc, majority_acc=majority_acc, best_val=best_val, history=history,
                test_labels=data["test"][2], test_pred=test_pred)


def main(argv=None):
    p = parser(__doc__, "sentiment", epochs=8)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm", help="the recurrent layer")
    p.add_argument("--embed", type=int, default=96, help="word-embedding size")
    p.add_argument("--hidden", type=int, default=96, help="hidden units per direction")
    p.add_argument("--batch-size", type=int, default=32, help="snippets per training step")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    p.add_argument("--maxlen", type=int, default=60, help="longer snippets keep their first maxlen tokens")
    p.add_argument("--bow-epochs", type=int, default=8, help="epochs of the bag-of-words baseline")
    p.add_argument("--repeats", type=int, default=3,
                   help="runs with seeds seed, seed+1, ...: each a new split and new weights, so the comparison "
                        "with the bag of words is measured against the run-to-run spread")
    args = p.parse_args(argv)
    if args.quick:
        args.embed, args.hidden, args.bow_epochs, args.epochs, args.repeats = 16, 16, 2, min(args.epochs, 3), 1
    dev = device(args.device)
    clock = Stopwatch()
    runs = [run(args, args.seed + r, dev) for r in range(args.repeats)]
    first = runs[0]
    acc = np.array([r["test_acc"] for r in runs])
    bow = np.array([r["bow_acc"] for r in runs])
    gain = acc - bow  # paired: both models on the same split
    spread = float(gain.std(ddof=1)) if len(runs) > 1 else float("nan")
    print(f"trained {len(runs)} run(s) in {clock():.0f}s")
    name = f"bi{args.cell.upper()}"
    if len(runs) > 1:
        if gain.mean() > spread:
            verdict = f"beats the bag of words by {gain.mean():+.3f}, more than the run-to-run spread ({spread:.3f})"
        elif gain.mean() > 0:
            verdict = (f"ahead of the bag of words by {gain.mean():+.3f}, which is within the run-to-run spread "
                       f"({spread:.3f}): not a reliable win")
        else:
            verdict = (f"falls short of the bag of words by {-gain.mean():.3f} on average (run-to-run spread "
                       f"{spread:.3f})")
        print(f"over {len(runs)} seeds: {name} {acc.mean():.3f} ± {acc.std(ddof=1):.3f}, bag of words "
              f"{bow.mean():.3f} ± {bow.std(ddof=1):.3f}; {name} {verdict}")
    print(f"RESULT sentiment: test accuracy {acc.mean():.3f} ({name}, {len(first['test_labels'])} test snippets"
          f"{f', mean of {len(runs)} seeds' if len(runs) > 1 else ''}) vs majority-class baseline "
          f"{np.mean([r['majority_acc'] for r in runs]):.3f}, bag-of-words logistic regression {bow.mean():.3f}")
    png = os.path.join(args.out, "training_curve.png")
    # the marked epoch is the one whose weights are kept: the best validation accuracy
    mg.plot.plot_history(first["history"], png, ylabel="cross-entropy", best="val accuracy",
                         title=f"sentence polarity, {name}, seed {args.seed} (test accuracy {first['test_acc']:.3f})")
    print(f"training curve written to {png}")
    png = os.path.join(args.out, "confusion_matrix.png")
    mg.plot.plot_confusion(first["test_labels"], first["test_pred"], png, labels=["negative", "positive"],
                           normalize="true", title=f"{name}, seed {args.seed}, {len(first['test_pred'])} test snippets")
    print(f"confusion matrix of the test set written to {png}")
    return save_metrics(args.out, {"test_accuracy": float(acc.mean()), "test_accuracies": acc.tolist(),
                                   "majority_accuracy": float(np.mean([r["majority_acc"] for r in runs])),
                                   "bag_of_words_accuracy": float(bow.mean()), "bag_of_words_accuracies": bow.tolist(),
                                   "gain_over_bag_of_words": float(gain.mean()), "gain_spread": spread,
                                   "best_val_accuracy": first["best_val"],
                                   **{k.replace(" ", "_"): v for k, v in first["history"].items()}})


if __name__ == "__main__":
    main()
