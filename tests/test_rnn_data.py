"""rnn.data: vocabularies, streams, windows, padding, bucketing."""
import numpy as np
import pytest

from rnn import data


def test_char_vocab_round_trip_and_unknowns():
    v = data.Vocab.from_text("hello world")
    assert v.itos[:2] == ["<pad>", "<unk>"] and v.itos[2] == "l"  # most frequent first
    ids = v.encode("hello")
    assert ids.dtype == np.int64 and v.decode(ids) == "hello"
    assert v.encode("hz")[1] == v.unk_index


def test_word_vocab_min_freq_max_size_and_strict_encoding():
    text = "the cat sat on the mat . the end"
    v = data.Vocab.from_text(text, level="word", min_freq=2)
    assert v.itos == ["<pad>", "<unk>", "the"]
    assert data.tokenize("It's GOOD!") == ["it's", "good", "!"]
    small = data.Vocab(data.tokenize(text), max_size=4)
    assert len(small) == 4
    strict = data.Vocab(["a", "b"], specials=())
    with pytest.raises(KeyError, match="'c' is not in the vocabulary"):
        strict.encode(["a", "c"])


def test_batchify_columns_are_contiguous_streams():
    s = data.batchify(np.arange(23), 4)
    assert s.shape == (5, 4)
    np.testing.assert_array_equal(s[:, 1], np.arange(5, 10))
    chunks = list(data.lm_chunks(s, 3))
    x, y = chunks[0]
    np.testing.assert_array_equal(y, s[1:4]) and np.testing.assert_array_equal(x, s[0:3])
    assert [c[0].shape[0] for c in chunks] == [3, 1]  # 4 input steps in total: 3 + 1
    with pytest.raises(ValueError, match="too few"):
        data.batchify(np.arange(3), 4)


def test_sliding_windows_shapes_and_values():
    series = np.arange(10.0)
    x, y = data.sliding_windows(series, window=3)
    assert x.shape == (7, 3, 1) and y.shape == (7, 1)
    np.testing.assert_array_equal(x[2, :, 0], [2, 3, 4]) and np.testing.assert_array_equal(y[2], [5])
    multi = np.stack([np.arange(10.0), -np.arange(10.0)], axis=1)
    x, y = data.sliding_windows(multi, window=4, horizon=2, stride=3, target_columns=1)
    assert x.shape == (2, 4, 2) and y.shape == (2, 2, 1)
    np.testing.assert_array_equal(y[1, :, 0], [-7, -8])
    with pytest.raises(ValueError, match="shorter than window"):
        data.sliding_windows(series, window=10)


def test_pad_sequences_and_lengths():
    padded, lengths = data.pad_sequences([[1, 2, 3], [4], [5, 6]])
    np.testing.assert_array_equal(padded, [[1, 2, 3], [4, 0, 0], [5, 6, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 2])
    padded, lengths = data.pad_sequences([np.ones((5, 2)), np.ones((2, 2))], maxlen=3, truncating="pre", dtype=np.float32)
    assert padded.shape == (2, 3, 2) and padded.dtype == np.float32
    np.testing.assert_array_equal(lengths, [3, 2])
    with pytest.raises(ValueError, match="empty sequences"):
        data.pad_sequences([[1], []])


def test_bucket_batches_group_similar_lengths_and_cover_everything():
    lengths = np.array([5, 1, 9, 2, 8, 1, 7, 3])
    batches = data.bucket_batches(lengths, 2, rng=np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    spreads = [np.ptp(lengths[b]) for b in batches]
    assert max(spreads) <= 2  # sorted neighbours


def test_minibatches_and_split_and_standardizer():
    a, b = np.arange(10), np.arange(10) * 2
    seen = np.concatenate([x for x, _ in data.minibatches(a, b, batch_size=3, rng=np.random.default_rng(1))])
    assert sorted(seen.tolist()) == list(range(10))
    assert sum(1 for _ in data.minibatches(a, b, batch_size=3, drop_last=True)) == 3
    tr, va, te = data.chronological_split(10, 0.2, 0.1)
    assert tr.tolist() == list(range(7)) and va.tolist() == [7, 8] and te.tolist() == [9]
    s = data.Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(s.transform([[2.0, 5.0]]), [[0.0, 0.0]])
    np.testing.assert_allclose(s.inverse_transform(s.transform([[3.0, 5.0]])), [[3.0, 5.0]], rtol=1e-6)
