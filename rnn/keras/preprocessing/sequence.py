"""pad_sequences: lists of different lengths -> one (N, maxlen) array, as Keras does it."""
import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) each sequence to ``maxlen`` (default: the longest) and stack them.

    ``padding="pre"`` (Keras's default) puts the fill ``value`` before each sequence,
    "post" after it; ``truncating`` says which end of a too-long sequence is dropped. The
    items of a sequence may be numbers or equal-shaped arrays (the result is then
    (N, maxlen, ...)). Use ``Embedding(mask_zero=True)`` or ``Masking`` after it so that
    the recurrent layers skip the padding.
    """
    for label, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {label} must be 'pre' or 'post', got {v!r}")
    seqs = [np.asarray(s) for s in sequences]
    if maxlen is not None and (not isinstance(maxlen, (int, np.integer)) or maxlen < 0):
        raise ValueError(f"pad_sequences: maxlen must be a non-negative int or None, got {maxlen!r}")
    lengths = [len(s) for s in seqs]
    maxlen = max(lengths, default=0) if maxlen is None else int(maxlen)
    tail = next((s.shape[1:] for s in seqs if len(s)), ())
    for i, s in enumerate(seqs):
        if len(s) and s.shape[1:] != tail:
            raise ValueError(f"pad_sequences: sequence {i} has items of shape {s.shape[1:]}, the others {tail}")
    out = np.full((len(seqs), maxlen) + tail, value, dtype=dtype)
    kind = np.dtype(dtype).kind
    for i, s in enumerate(seqs):
        if not len(s) or not maxlen:
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if kind in "iu" and s.dtype.kind == "f" and not np.all(s == np.round(s)):
            raise ValueError(f"pad_sequences: sequence {i} holds non-integer values but dtype={dtype!r}")
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, -len(s):] = s
    return out
