"""The Keras code of the tutorials in seeds/ (000, 001, 003, 004), each as a function of the
names it imports, so that the very same body runs on rnn.keras (tests/test_keras_seeds.py)
and on Keras itself (``python tests/keras_seeds.py`` records Keras's numbers). Each seed's
own bugs are fixed minimally, each fix marked ``# fix:``; everything else is the seed's.
Lines marked ``# harness:`` are the tests' additions (fixed starting weights, results).
"""
import os

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "data")


def start_weights(model, seed=0):
    """The same starting weights in any framework: U(-0.1, 0.1), shapes from the model."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.1, 0.1, np.shape(w)).astype(np.float32) for w in model.get_weights()])


def seed_000(tf, np=np):
    """Text generation: SimpleRNN(relu) + Dense softmax, Adam, sparse cross-entropy, accuracy."""
    data = ['the quick brown fox jumps over the lazy dog']
    vocab = {'the': 0, 'quick': 1, 'brown': 2, 'fox': 3, 'jumps': 4, 'over': 5, 'lazy': 6, 'dog': 7}
    data = [[vocab[word] for word in sentence.split()] for sentence in data]  # fix: words, not characters
    # fix: X = data[:-1] of one sentence is empty; the inputs are windows of 3 word ids and
    # the targets the word after each
    X = np.array([data[0][i:i + 3] for i in range(len(data[0]) - 3)])[..., None]
    y = np.array([data[0][i + 3] for i in range(len(data[0]) - 3)])
    model = tf.keras.Sequential([
        tf.keras.layers.SimpleRNN(units=128, input_shape=(None, 1), activation='relu'),
        tf.keras.layers.Dense(units=len(vocab), activation='softmax')
    ])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    start_weights(model)  # harness
    history = model.fit(X, y, epochs=10, verbose=0)  # harness: verbose=0, and the history kept
    return history.history


def seed_001(Sequential, SimpleRNN, np=np):
    """Stacked SimpleRNN regression on random data: RMSprop, MSE, 500 epochs."""
    model = Sequential()
    model.add(SimpleRNN(units=50, input_shape=(10, 1), return_sequences=True))
    model.add(SimpleRNN(units=1))
    model.compile(optimizer='rmsprop', loss='mse')
    x = np.random.random((1000, 10, 1))
    y = np.random.random((1000, 1))
    history = model.fit(x, y, epochs=500, verbose=0)  # harness: the history kept
    return history.history


TRAIN_SENTENCES = 3000  # harness: seed 003 trains on this many sentences (of 8,662), to run in seconds


def load_polarity(num_words=10000, n_test=2000, seed=0):
    """Pang & Lee's sentence polarity data (examples/data/rt-polaritydata) as Keras's imdb.load_data
    gives IMDB: lists of word ids (1 = start, 2 = out of vocabulary, words from 3 by frequency);
    ``TRAIN_SENTENCES`` for training, ``n_test`` others held out."""
    texts, labels = [], []
    for label, name in ((1, "rt-polarity.pos"), (0, "rt-polarity.neg")):
        with open(os.path.join(DATA, "rt-polaritydata", name), encoding="utf-8", errors="replace") as f:
            for line in f:
                texts.append(line.lower().split())
                labels.append(label)
    order = np.random.default_rng(seed).permutation(len(texts))
    texts, labels = [texts[i] for i in order], np.array(labels)[order]
    counts = {}
    for words in texts[n_test:]:
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))[:num_words - 3]
    index = {w: i + 3 for i, w in enumerate(ranked)}
    seqs = [[1] + [index.get(w, 2) for w in words] for words in texts]
    train = slice(n_test, n_test + TRAIN_SENTENCES)
    return (seqs[train], labels[train]), (seqs[:n_test], labels[:n_test])


def seed_003(Sequential, Embedding, LSTM, Dense, pad_sequences, np=np):
    """Sentiment: Embedding + two LSTMs + Dense sigmoid, Adam, binary cross-entropy."""
    (x_train, y_train), (x_test, y_test) = load_polarity(num_words=10000)  # fix: local data, not a download
    x_train = pad_sequences(x_train, maxlen=40)  # fix: pad to one length (np.array of ragged lists fails)
    x_test = pad_sequences(x_test, maxlen=40)
    # fix: np.expand_dims(x, axis=2) dropped: an Embedding takes (N, T) ids
    model = Sequential()
    model.add(Embedding(10000, 128, input_length=40))  # fix: input_length is the padded length, not 1
    model.add(LSTM(128, return_sequences=True))
    model.add(LSTM(128))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    history = model.fit(x_train, y_train, epochs=5, batch_size=128, verbose=0)  # harness: verbose=0
    return history.history, model.evaluate(x_test, y_test, verbose=0)  # harness: the test score


def load_prices(column="AAPL", every=5, count=160):
    """Every 5th closing price of one stock from examples/data/stockdata.csv (a short series)."""
    path = os.path.join(DATA, "stockdata.csv")
    with open(path, encoding="utf-8") as f:
        names = [n.strip('"') for n in f.readline().strip().split(",")]
    table = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=names.index(column))
    return table[::every][:count]


def windows(series, steps=10):
    """(inputs (N, steps, 1), targets (N, 1)): each run of ``steps`` values and the value after it."""
    x = np.array([series[i:i + steps] for i in range(len(series) - steps)])
    return x.reshape(len(x), steps, 1), series[steps:].reshape(-1, 1)


def seed_004(Sequential, SimpleRNN, Dense, np=np):
    """Stock forecasting: SimpleRNN(50) + Dense(1), Adam, MSE, batch size 1, 100 epochs."""
    prices = load_prices()  # fix: pd.read_csv('stock_prices.csv')['price'] -> the local price series
    prices = prices.reshape(-1, 1)
    prices = (prices - np.mean(prices)) / np.std(prices)
    train_size = int(len(prices) * 0.8)
    train, test = prices[:train_size], prices[train_size:]
    x_train, y_train = windows(train)  # fix: fit(train) has no targets: windows of 10 prices -> the next
    x_test, y_test = windows(test)
    model = Sequential()
    model.add(SimpleRNN(50, input_shape=(None, 1)))
    model.add(Dense(1))
    model.compile(loss='mean_squared_error', optimizer='adam')
    model.fit(x_train, y_train, epochs=100, batch_size=1, verbose=0)  # fix: (x, y); harness: verbose=0
    predictions = model.predict(x_test)  # fix: predict on the test windows (with their feature axis)
    return float(np.mean((predictions - y_test) ** 2)), float(np.mean((x_test[:, -1] - y_test) ** 2))


if __name__ == "__main__":  # Keras's own numbers, on its torch backend
    import json
    import sys
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import types
    which = sys.argv[1:] or ["000", "001", "003", "004"]
    out = {}
    for s in which:
        keras.utils.set_random_seed(0)
        if s == "000":
            out[s] = seed_000(types.SimpleNamespace(keras=keras))
        elif s == "001":
            out[s] = {"loss_last": seed_001(keras.models.Sequential, keras.layers.SimpleRNN)["loss"][-1]}
        elif s == "003":
            h, score = seed_003(keras.models.Sequential, keras.layers.Embedding, keras.layers.LSTM,
                                keras.layers.Dense, keras.utils.pad_sequences)
            out[s] = {"history": h, "test": score}
        elif s == "004":
            out[s] = dict(zip(("test_mse", "persistence_mse"), seed_004(keras.models.Sequential,
                                                                       keras.layers.SimpleRNN, keras.layers.Dense)))
        print(s, json.dumps(out[s]), flush=True)
