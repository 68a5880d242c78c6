"""Sampling from a language model: new text, one token at a time.

The model is anything with the signature that ``rnn.TBPTT`` trains,

    model(ids (T, B), state) -> (logits (T, B, V), new_state)       state None = zeros

(``examples/text_generation.py``'s CharLM, for one). ``generate`` reads the prompt in
one call, which leaves the state that summarises it, then repeats: take the logits z of
the last step, draw the next id from

    p_i = exp(z_i / temperature) / sum_j exp(z_j / temperature)    over the top_k largest z_i

and feed that id back in as the next input. Temperature 1 samples the model as trained;
below 1 sharpens p (safer, more repetitive text), above 1 flattens it; temperature 0 is
the limit, argmax ("greedy"). top_k=k renormalises p over the k most likely ids only,
so a rare, implausible id can never be drawn.

Generation runs in eval mode (dropout off) and records no graph; the model's mode is
restored afterwards. Draws come from ``rng``: a numpy Generator, a seed, or by default
minigrad's generator, so ``mg.manual_seed`` makes a whole script reproducible.
"""
import numbers

import numpy as np

import minigrad as mg
from minigrad import nn


def sample_logits(logits, temperature=1.0, top_k=None, rng=None):
    """Draw one id per row of ``logits`` (B, V) (or (V,): one id); returns int64 ids (B,) (or a scalar).

    temperature 0 returns the argmax (the first one among ties) and draws nothing.
    top_k keeps the k largest logits of each row (ties broken towards the lower id, as
    argmax breaks them, so top_k=1 is exactly greedy); a k above V keeps them all.
    """
    temperature, top_k = _check_options("sample_logits", temperature, top_k)
    z = np.asarray(logits.numpy() if isinstance(logits, mg.Tensor) else logits, dtype=np.float64)
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ValueError(f"sample_logits: logits must be (V,) or (B, V) with V >= 1, got shape {z.shape}")
    if np.isnan(z).any() or np.isposinf(z).any() or np.isneginf(z).all(axis=-1).any():
        raise ValueError("sample_logits: the logits contain NaN or +inf, or a row that is all -inf: there is no "
                         "distribution to sample from")
    rows = z.reshape(-1, z.shape[-1])
    if temperature == 0:
        ids = rows.argmax(axis=1)
    else:
        ids = _draw(rows / temperature, top_k, _generator(rng))
    return ids[0] if z.ndim == 1 else ids


def _draw(z, top_k, rng):
    """Inverse-CDF draw of one id per row from softmax(z), restricted to each row's top_k."""
    B, V = z.shape
    if top_k is not None and top_k < V:
        # a stable sort of -z puts the first of equal logits first, as argmax picks it
        dropped = np.argsort(-z, axis=1, kind="stable")[:, top_k:]
        z = z.copy()
        np.put_along_axis(z, dropped, -np.inf, axis=1)
    p = np.exp(z - z.max(axis=1, keepdims=True))  # (B, V); the largest term is exp(0) = 1: no overflow
    cdf = np.cumsum(p, axis=1)
    u = rng.random(B) * cdf[:, -1]
    # the first id whose cumulative mass exceeds u; ids of probability 0 add no mass, so are never chosen
    return np.minimum((cdf <= u[:, None]).sum(axis=1), V - 1).astype(np.int64)


def generate(model, prompt_ids, n, *, temperature=1.0, top_k=None, state=None, rng=None, return_state=False):
    """Generate ``n`` ids after ``prompt_ids``; returns them, int64, (n,) or (n, B).

    prompt_ids: integer ids, (T,) for one sequence or (T, B) for B sequences side by
        side (time first, as the model reads them); T >= 1, since the first new id is
        drawn from the logits of the prompt's last step.
    n: how many new ids (0 returns an empty array after reading the prompt).
    temperature, top_k: as in ``sample_logits``; rng: a numpy Generator, an int seed, or
        None for minigrad's generator (``mg.manual_seed`` fixes it).
    state: the model's state to start from (None: zeros), e.g. from an earlier call.
    return_state: also return the state after reading the prompt and every new id but
        the last (n = 0: after the prompt); ``generate(model, ids[-1:], m, state=that_state)``
        continues the text exactly where this call stopped.
    """
    temperature, top_k = _check_options("generate", temperature, top_k)
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise ValueError(f"generate: n (how many ids to generate) must be an int >= 0, got {n!r}")
    prompt = np.asarray(prompt_ids.numpy() if isinstance(prompt_ids, mg.Tensor) else prompt_ids)
    single = prompt.ndim == 1
    if prompt.ndim not in (1, 2) or prompt.size == 0 or (prompt.ndim == 2 and 0 in prompt.shape):
        raise ValueError(f"generate: prompt_ids must be a non-empty (T,) or (T, B) array of ids, got shape "
                         f"{prompt.shape}: the first new id is drawn from the prompt's last step")
    if not np.issubdtype(prompt.dtype, np.integer):
        raise TypeError(f"generate: prompt_ids must be integer ids, got dtype {prompt.dtype}")
    prompt = prompt.reshape(len(prompt), -1).astype(np.int64)
    vocab_size = _input_vocab_size(model)
    _check_ids(prompt, vocab_size, "the prompt")
    rng = _generator(rng)
    device = next((p.device for p in model.parameters()), "cpu")
    out = np.empty((n, prompt.shape[1]), dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            logits, state = _run(model, prompt, state, device)
            if vocab_size is not None and logits.shape[-1] > vocab_size:
                raise ValueError(f"generate: the model's logits have {logits.shape[-1]} classes but its input "
                                 f"embedding only {vocab_size} ids: a drawn id could not be fed back")
            if vocab_size is None:
                _check_ids(prompt, logits.shape[-1], "the prompt")
            for t in range(n):
                out[t] = sample_logits(logits[-1], temperature, top_k, rng)
                if t + 1 < n:
                    logits, state = _run(model, out[t:t + 1], state, device)
    finally:
        model.train(was_training)
    out = out[:, 0] if single else out
    return (out, state) if return_state else out


def generate_text(model, vocab, prompt, n, *, temperature=1.0, top_k=None, state=None, rng=None, join=""):
    """``generate`` with a ``rnn.data.Vocab``: the prompt followed by ``n`` generated tokens, as text.

    prompt: a string (each character one token: character vocabularies) or a sequence of
        tokens (words). join: what goes between tokens, "" for characters, " " for words.
    """
    tokens = list(prompt)  # a string's characters, or the tokens given
    if not tokens:
        raise ValueError("generate_text: the prompt is empty; give at least one token (the first new token is drawn "
                         "from what the model predicts after the prompt)")
    if vocab.unk_index is None:
        missing = sorted({t for t in tokens if t not in vocab}, key=str)
        if missing:
            raise ValueError(f"generate_text: the prompt has tokens that are not in the vocabulary (and it has no "
                             f"<unk>): {missing[:10]}")
    embedded = _input_vocab_size(model)
    if embedded is not None and embedded != len(vocab):
        raise ValueError(f"generate_text: the vocabulary has {len(vocab)} tokens but the model's embedding takes "
                         f"{embedded} ids: not the vocabulary this model was trained with")
    new = generate(model, vocab.encode(tokens), n, temperature=temperature, top_k=top_k, state=state, rng=rng)
    return join.join(tokens + vocab.decode(new, join=None))


# ---------------------------------------------------------------- plumbing
def _run(model, ids, state, device):
    """One call of the model on ids (t, B); checks what it returns."""
    result = model(mg.tensor(ids, device=device), state)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"generate: the model must return (logits, state), got {type(result).__name__}")
    logits, state = result
    if logits.ndim != 3 or tuple(logits.shape[:2]) != ids.shape:
        raise ValueError(f"generate: the model's logits must be (T, B, V) = ({ids.shape[0]}, {ids.shape[1]}, V) "
                         f"for ids of shape {ids.shape}, got shape {tuple(logits.shape)}")
    return logits.numpy(), state


def _input_vocab_size(model):
    """The number of ids the model reads: its first Embedding's rows, or None without one."""
    return next((m.num_embeddings for m in model.modules() if isinstance(m, nn.Embedding)), None)


def _check_ids(ids, vocab_size, what):
    bad = ids[(ids < 0) | (ids >= vocab_size)] if vocab_size is not None else ids[ids < 0]
    if bad.size:
        valid = f"0..{vocab_size - 1}" if vocab_size is not None else ">= 0"
        raise ValueError(f"generate: {what} has ids outside the vocabulary (valid: {valid}): {sorted(set(bad.tolist()))[:10]}")


def _check_options(fname, temperature, top_k):
    if not isinstance(temperature, numbers.Real) or isinstance(temperature, bool) or not np.isfinite(temperature) \
            or temperature < 0:
        raise ValueError(f"{fname}: temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, numbers.Integral) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"{fname}: top_k must be None or an int >= 1, got {top_k!r}")
    return float(temperature), (None if top_k is None else int(top_k))


def _generator(rng):
    if rng is None:
        return mg.random.generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"generate: rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")
