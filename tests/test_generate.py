"""rnn.generate / generate_text / sample_logits: greedy is argmax, draws follow softmax(z / T)
over the top k, runs are reproducible, and bad input is refused with a clear error; and
examples/text_generation.py --compare-torch trains the same model in PyTorch."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import nn
from tests.test_examples import run_example  # runs examples/<name>.py --quick, returns metrics.json

REPO = Path(__file__).resolve().parent.parent


class TableLM(nn.Module):
    """A model whose logits we control: the logits after id i are row i of ``table`` (V, V),
    whatever came before. The state counts the steps read; the model records its mode and
    whether a graph was being recorded at each call."""

    def __init__(self, table):
        super().__init__()
        self.embed = nn.Embedding(*np.shape(table))
        self.embed.weight = nn.Parameter(np.asarray(table, dtype=np.float64), dtype=mg.float64)
        self.calls = []

    def forward(self, ids, state=None):
        self.calls.append((self.training, mg.is_grad_enabled(), tuple(ids.shape)))
        steps = (0 if state is None else state) + ids.shape[0]
        return self.embed(ids), steps


class TinyLM(nn.Module):
    """Embedding -> LSTM -> Linear: the CharLM of examples/text_generation.py, small."""

    def __init__(self, V=7, H=12):
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(V, 5), rnn.LSTM(5, H), nn.Linear(H, V)
        self.drop = nn.Dropout(0.5)  # so eval mode matters
        with mg.no_grad():  # large read-out weights: the argmax then depends on the state, not only on biases
            self.head.weight = nn.Parameter(self.head.weight.numpy() * 20)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.drop(self.embed(ids)), state)
        return self.head(out), state


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def chi_square(counts, p):
    """Pearson's statistic of observed counts against probabilities p (cells with p > 0)."""
    expected = counts.sum() * p
    keep = p > 0
    return float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())


def chi_square_bound(cells):
    """A bound the statistic of a correct sampler exceeds with probability well under 1e-4
    (mean df, standard deviation sqrt(2 df); df + 6 sd)."""
    df = cells - 1
    return df + 6 * np.sqrt(2 * df)


Z = np.array([1.5, -0.5, 0.3, 2.0, 0.0, -2.0])  # the logits every frequency test draws from


def draw_counts(temperature, top_k=None, n=40_000, seed=1):
    """Counts of n draws from Z: the same row in n parallel sequences (prompt (1, n), one new id each)."""
    model = TableLM(np.tile(Z, (len(Z), 1)))
    ids = rnn.generate(model, np.zeros((1, n), dtype=np.int64), 1, temperature=temperature, top_k=top_k,
                       rng=np.random.default_rng(seed))
    return np.bincount(ids[0], minlength=len(Z))


# ------------------------------------------------------------------ greedy
def test_greedy_follows_the_argmax_step_by_step():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(6, 6))
    ids = rnn.generate(TableLM(table), [2, 4], 12, temperature=0)
    expected, prev = [], 4
    for _ in range(12):
        prev = int(np.argmax(table[prev]))
        expected.append(prev)
    assert ids.tolist() == expected and ids.dtype == np.int64


def test_greedy_on_an_lstm_equals_feeding_the_argmax_back_by_hand():
    mg.manual_seed(3)
    model = TinyLM()
    ids = rnn.generate(model, [1, 2, 3], 15, temperature=0)
    model.eval()
    with mg.no_grad():
        logits, state = model(mg.tensor(np.array([[1], [2], [3]])))
        by_hand = []
        for _ in range(15):
            by_hand.append(int(np.argmax(logits.numpy()[-1, 0])))
            logits, state = model(mg.tensor(np.array([[by_hand[-1]]])), state)
    assert ids.tolist() == by_hand
    assert len(set(by_hand)) > 1  # not a degenerate model that repeats one id


def test_top_k_1_is_greedy_even_with_ties_and_any_temperature():
    table = np.array([[0.0, 3.0, 3.0, 1.0], [2.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0], [4.0, 1.0, 4.0, 4.0]])
    model = TableLM(table)
    greedy = rnn.generate(model, [0], 20, temperature=0)
    for temperature in (0.5, 1.0, 3.0):
        assert rnn.generate(model, [0], 20, temperature=temperature, top_k=1, rng=7).tolist() == greedy.tolist()
    assert greedy.tolist()[:4] == [1, 0, 1, 0]  # ties go to the lower id, as argmax picks them


# --------------------------------------------------------- the distribution
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_draws_follow_softmax_of_logits_over_temperature(temperature):
    counts = draw_counts(temperature)
    p = softmax(Z / temperature)
    assert chi_square(counts, p) < chi_square_bound(len(Z))
    # the test can tell temperatures apart: the same draws are far from the untempered softmax
    if temperature != 1.0:
        assert chi_square(counts, softmax(Z)) > 50 * chi_square_bound(len(Z))


def test_low_temperature_concentrates_on_the_argmax_and_high_flattens():
    cold, hot = draw_counts(0.1), draw_counts(10.0)
    assert cold[np.argmax(Z)] / cold.sum() > 0.99
    assert hot.min() / hot.sum() > 0.1  # every id is drawn often at T = 10 (six ids, p between 0.12 and 0.21)


def test_top_k_draws_only_the_k_largest_renormalised():
    k = 3
    counts = draw_counts(1.0, top_k=k)
    kept = np.argsort(-Z)[:k]
    assert set(np.flatnonzero(counts)) == set(kept.tolist())  # never one of the others
    p = np.zeros_like(Z)
    p[kept] = softmax(Z[kept])
    assert chi_square(counts, p) < chi_square_bound(k)
    assert draw_counts(1.0, top_k=100).min() > 0  # k above V keeps them all


def test_sample_logits_batches_rows_independently():
    logits = np.array([[0.0, 0.0, 9.0], [9.0, 0.0, 0.0]])
    ids = rnn.sample_logits(np.tile(logits, (500, 1)), 1.0, rng=0)
    assert (ids[::2] == 2).mean() > 0.99 and (ids[1::2] == 0).mean() > 0.99
    assert rnn.sample_logits(np.array([1.0, 5.0, 2.0]), 0) == 1  # one row: one id


def test_a_seed_reproduces_the_draws_and_minigrad_seed_is_the_default():
    mg.manual_seed(5)
    model = TinyLM()
    a = rnn.generate(model, [0, 1], 30, rng=11)
    b = rnn.generate(model, [0, 1], 30, rng=np.random.default_rng(11))
    assert a.tolist() == b.tolist()
    assert rnn.generate(model, [0, 1], 30, rng=12).tolist() != a.tolist()
    mg.manual_seed(9)
    c = rnn.generate(model, [0, 1], 30)
    mg.manual_seed(9)
    assert rnn.generate(model, [0, 1], 30).tolist() == c.tolist()


def test_returned_state_continues_where_the_call_stopped():
    mg.manual_seed(2)
    model = TinyLM()
    whole = rnn.generate(model, [3, 1], 12, temperature=0)
    first, state = rnn.generate(model, [3, 1], 5, temperature=0, return_state=True)
    rest = rnn.generate(model, first[-1:], 7, temperature=0, state=state)
    assert first.tolist() + rest.tolist() == whole.tolist()


def test_batched_prompts_generate_each_column_as_alone():
    mg.manual_seed(4)
    model = TinyLM()
    prompts = np.array([[1, 4], [2, 5], [3, 6]])  # (T=3, B=2)
    both = rnn.generate(model, prompts, 6, temperature=0)
    assert both.shape == (6, 2)
    for b in range(2):
        assert both[:, b].tolist() == rnn.generate(model, prompts[:, b], 6, temperature=0).tolist()


# ---------------------------------------------------------- mode and graph
def test_runs_in_eval_mode_without_a_graph_and_restores_the_mode():
    model = TableLM(np.eye(4))
    model.train()
    rnn.generate(model, [1], 3, temperature=0)
    assert model.calls == [(False, False, (1, 1))] * 3  # the prompt, then one id at a time; the last is not fed
    assert model.training
    model.eval()
    rnn.generate(model, [1], 2)
    assert not model.training


def test_dropout_is_off_while_generating():
    mg.manual_seed(6)
    model = TinyLM()
    model.train()
    runs = {tuple(rnn.generate(model, [0, 1, 2], 10, temperature=0)) for _ in range(3)}
    assert len(runs) == 1  # with dropout on, greedy runs would differ


# ---------------------------------------------------------------- text
def test_generate_text_with_a_vocab():
    vocab = rnn.data.Vocab.from_text("abcab", level="char", specials=())
    table = np.full((3, 3), -5.0)
    a, b, c = (vocab.stoi[ch] for ch in "abc")
    table[a, b] = table[b, c] = table[c, a] = 5.0  # a -> b -> c -> a
    text = rnn.generate_text(TableLM(table), vocab, "ca", 7, temperature=0)
    assert text == "ca" + "bcabcab"
    words = rnn.data.Vocab(["the", "cat", "sat"], specials=())
    t = np.full((3, 3), -5.0)
    t[words.stoi["the"], words.stoi["cat"]] = t[words.stoi["cat"], words.stoi["sat"]] = 5.0
    t[words.stoi["sat"], words.stoi["the"]] = 5.0
    assert rnn.generate_text(TableLM(t), words, ["the"], 3, temperature=0, join=" ") == "the cat sat the"


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=-0.5), "temperature must be a finite number >= 0"),
    (dict(temperature=float("nan")), "temperature must be a finite number >= 0"),
    (dict(top_k=0), "top_k must be None or an int >= 1"),
    (dict(top_k=2.5), "top_k must be None or an int >= 1"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rnn.generate(TableLM(np.eye(3)), [0], 2, **kwargs)


def test_bad_prompts_are_refused_before_the_model_runs():
    model = TableLM(np.eye(3))
    with pytest.raises(ValueError, match="prompt_ids must be a non-empty"):
        rnn.generate(model, [], 2)
    with pytest.raises(ValueError, match=r"ids outside the vocabulary \(valid: 0..2\): \[3, 7\]"):
        rnn.generate(model, [0, 3, 7], 2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        rnn.generate(model, [-1], 2)
    with pytest.raises(TypeError, match="must be integer ids"):
        rnn.generate(model, [0.5], 2)
    with pytest.raises(ValueError, match="n .* must be an int >= 0"):
        rnn.generate(model, [0], -1)
    assert model.calls == []
    vocab = rnn.data.Vocab.from_text("abc", specials=())
    with pytest.raises(ValueError, match=r"not in the vocabulary .*\['Z'\]"):
        rnn.generate_text(model, vocab, "aZ", 3)
    with pytest.raises(ValueError, match="the prompt is empty"):
        rnn.generate_text(model, vocab, "", 3)
    with pytest.raises(ValueError, match="the vocabulary has 4 tokens but the model's embedding takes 3"):
        rnn.generate_text(model, rnn.data.Vocab.from_text("abcd", specials=()), "a", 3)


def test_nan_logits_are_an_error_not_a_draw():
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        rnn.sample_logits(np.array([[0.0, np.nan, 1.0]]), 1.0, rng=0)
    with pytest.raises(ValueError, match="all -inf"):
        rnn.sample_logits(np.array([[-np.inf, -np.inf]]), 1.0, rng=0)
    # -inf marks an impossible id; it is never drawn
    assert set(rnn.sample_logits(np.tile([[0.0, -np.inf, 0.0]], (200, 1)), 1.0, rng=0).tolist()) == {0, 2}


# ------------------------------------------- examples/text_generation.py --compare-torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
def test_text_generation_compare_torch_trains_the_same_model_in_both(tmp_path):
    metrics, out = run_example("text_generation", tmp_path, "--epochs", "1", "--compare-torch")
    assert "minigrad's training time is" in out
    m = metrics["compare_torch"]
    ours, theirs = m["minigrad"], m["torch"]
    assert theirs["framework"].startswith("PyTorch") and ours["framework"].startswith("minigrad")
    assert ours["updates"] == theirs["updates"] > 20
    for r in (ours, theirs):
        assert r["train_seconds"] > 0 and r["wall_seconds"] >= r["train_seconds"] and r["threads"] >= 1
        assert 0 < r["median_update_s"] < r["train_seconds"]
        assert 2.0 < r["val_loss"] < np.log(65)  # learned something: below the uniform guess over the characters
    # same initial weights, data, updates, optimizer and schedule: the same model, up to float32 rounding
    assert abs(ours["val_loss"] - theirs["val_loss"]) < 1e-3
    assert (tmp_path / "compare_torch.png").stat().st_size > 0


def test_compare_torch_without_torch_says_so_before_training(monkeypatch):
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import text_generation
    finally:
        sys.path.remove(str(REPO / "examples"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(SystemExit, match="PyTorch is not installed here"):
        text_generation.main(["--quick", "--compare-torch", "--out", "unused"])
    monkeypatch.undo()
    with pytest.raises(SystemExit, match="needs a fresh run, not --resume"):
        text_generation.main(["--quick", "--compare-torch", "--resume", "--out", "unused"])
