"""Sequence data helpers: vocabularies, language-model streams, forecasting windows,
padding with lengths, bucketing by length, mini-batches, scaling.

Everything returns numpy arrays; wrap them with ``mg.tensor`` at the point of use.
"""
import collections
import re

import numpy as np

from minigrad.random import generator


# ------------------------------------------------------------ vocabularies
class Vocab:
    """A bijection between tokens (characters or words) and integer ids.

    ``specials`` come first (by default ``<pad>`` = 0, so zero-padding means padding,
    and ``<unk>`` = 1 for tokens never seen). Remaining tokens are ordered by
    frequency, then alphabetically, so the same text always gives the same ids.
    """

    def __init__(self, tokens, min_freq=1, max_size=None, specials=("<pad>", "<unk>")):
        counts = collections.Counter(tokens)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                        key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[:max(0, max_size - len(specials))]
        self.itos = list(specials) + ranked
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.counts = counts
        self.unk_index = self.stoi.get("<unk>")
        self.pad_index = self.stoi.get("<pad>")

    @classmethod
    def from_text(cls, text, level="char", **kwargs):
        """Build from raw text, by characters or by words (see ``tokenize``)."""
        return cls(list(text) if level == "char" else tokenize(text), **kwargs)

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def encode(self, tokens):
        """Token sequence (or a string, for character vocabularies) -> int64 ids."""
        if self.unk_index is None:
            missing = [t for t in tokens if t not in self.stoi]
            if missing:
                raise KeyError(f"Vocab.encode: token {missing[0]!r} is not in the vocabulary (and it has no <unk>)")
            return np.fromiter((self.stoi[t] for t in tokens), dtype=np.int64)
        return np.fromiter((self.stoi.get(t, self.unk_index) for t in tokens), dtype=np.int64)

    def decode(self, ids, join=""):
        """Ids -> tokens, joined with ``join`` (use " " for words); None to get a list."""
        out = [self.itos[int(i)] for i in np.asarray(ids).reshape(-1)]
        return out if join is None else join.join(out)

    def __repr__(self):
        return f"Vocab({len(self)} tokens: {self.itos[:8]}{' ...' if len(self) > 8 else ''})"


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text):
    """Lower-case words and single punctuation marks: "It's good!" -> ["it's", "good", "!"]."""
    return _WORD.findall(text.lower())


# ------------------------------------------------------ language modelling
def batchify(ids, batch_size):
    """Cut one long id stream into ``batch_size`` parallel streams: (T, B), column b is stream b.

    The tail that does not fill a whole column is dropped. Each column then reads on
    continuously from one batch to the next, which is what lets a stateful model
    carry its hidden state across batches (truncated BPTT).
    """
    ids = np.asarray(ids)
    steps = len(ids) // batch_size
    if steps < 2:
        raise ValueError(f"batchify: {len(ids)} tokens are too few for batch_size={batch_size}")
    return np.ascontiguousarray(ids[:steps * batch_size].reshape(batch_size, steps).T)


def lm_chunks(stream, seq_len):
    """Yield (inputs, targets), each (<= seq_len, B), from a (T, B) stream; targets are inputs shifted by one."""
    for start in range(0, len(stream) - 1, seq_len):
        n = min(seq_len, len(stream) - 1 - start)
        yield stream[start:start + n], stream[start + 1:start + 1 + n]


# ------------------------------------------------------------- forecasting
def sliding_windows(series, window, horizon=1, stride=1, target_columns=None):
    """Inputs of ``window`` steps and the ``horizon`` steps that follow.

    series: (N,) or (N, F). Returns X (M, window, F) and Y (M, horizon, F') — or
    (M, F') when horizon == 1 — where F' counts ``target_columns`` (all by default).
    """
    s = np.asarray(series)
    if s.ndim == 1:
        s = s[:, None]
    if window < 1 or horizon < 1 or stride < 1:
        raise ValueError(f"sliding_windows: window, horizon and stride must be >= 1, got {window}, {horizon}, {stride}")
    starts = np.arange(0, len(s) - window - horizon + 1, stride)
    if len(starts) == 0:
        raise ValueError(f"sliding_windows: a series of {len(s)} steps is shorter than window + horizon "
                         f"({window} + {horizon})")
    x = s[starts[:, None] + np.arange(window)]
    cols = slice(None) if target_columns is None else np.atleast_1d(target_columns)
    y = s[starts[:, None] + window + np.arange(horizon)][:, :, cols]
    return x, (y[:, 0] if horizon == 1 else y)


def chronological_split(n, val_fraction=0.2, test_fraction=0.0):
    """Index ranges (train, val, test) in time order: the model is judged on the future only."""
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    n_train = n - n_val - n_test
    if n_train <= 0:
        raise ValueError(f"chronological_split: no training data left from {n} items")
    return np.arange(n_train), np.arange(n_train, n_train + n_val), np.arange(n_train + n_val, n)


class Standardizer:
    """x -> (x - mean) / std, with statistics fitted on training data only (per feature)."""

    def fit(self, x, axis=0):
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=axis)
        self.std = x.std(axis=axis)
        self.std = np.where(self.std > 0, self.std, 1.0)  # a constant feature stays put instead of dividing by 0
        return self

    def transform(self, x):
        return ((np.asarray(x) - self.mean) / self.std).astype(np.float32)

    def inverse_transform(self, x):
        return np.asarray(x) * self.std + self.mean


# ---------------------------------------------------- variable-length batches
def pad_sequences(sequences, maxlen=None, padding_value=0, dtype=None, truncating="post"):
    """Pad a list of sequences (each (L_i,) or (L_i, F)) at the end into one array.

    Returns (padded (B, T[, F]), lengths (B,)), with T = maxlen or the longest length.
    Padding goes after each sequence ("post"), which is the layout ``rnn.LSTM(...,
    lengths=)`` expects; ``truncating`` says which end a too-long sequence loses.
    """
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    seqs = [np.asarray(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequences: no sequences given")
    if any(len(s) == 0 for s in seqs):
        raise ValueError("pad_sequences: empty sequences have no last step; drop them first")
    t = maxlen if maxlen is not None else max(len(s) for s in seqs)
    feature_shape = seqs[0].shape[1:]
    out = np.full((len(seqs), t) + feature_shape, padding_value, dtype=dtype or seqs[0].dtype)
    lengths = np.empty(len(seqs), dtype=np.int64)
    for i, s in enumerate(seqs):
        if s.shape[1:] != feature_shape:
            raise ValueError(f"pad_sequences: sequence {i} has feature shape {s.shape[1:]}, expected {feature_shape}")
        s = s[:t] if truncating == "post" else s[-t:]
        out[i, :len(s)] = s
        lengths[i] = len(s)
    return out, lengths


def bucket_batches(lengths, batch_size, shuffle=True, rng=None):
    """Index batches whose sequences have similar lengths (less padding, less wasted work).

    Sorts by length, cuts into batches of ``batch_size``, and (if ``shuffle``) shuffles
    the order of the batches and breaks ties randomly, so every epoch differs.
    """
    lengths = np.asarray(lengths)
    rng = rng or generator()
    noise = rng.random(len(lengths)) if shuffle else np.zeros(len(lengths))
    order = np.lexsort((noise, lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def minibatches(*arrays, batch_size, shuffle=True, drop_last=False, rng=None):
    """Yield aligned mini-batches (tuples of slices) of equally long arrays."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"minibatches: arrays have different lengths {[len(a) for a in arrays]}")
    order = (rng or generator()).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        yield tuple(a[idx] for a in arrays)
