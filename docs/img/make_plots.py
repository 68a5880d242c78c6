"""Draw the pictures of docs/plotting.md into docs/img/ (small PNGs, 80 dpi).

    python docs/img/make_plots.py

The data is synthetic but shaped like the real thing (a noisy per-step loss, a
validation loss that turns up when the model starts to overfit, a seasonal series,
two pairs of classes that look alike); the benchmark times are those of the README's
table. A fixed seed makes every run draw the same pictures.
"""
import os
from types import SimpleNamespace

import numpy as np

import minigrad as mg

HERE = os.path.dirname(os.path.abspath(__file__))
DPI = 80
rng = np.random.default_rng(7)


def history():
    """A 12-epoch run as a History holds it: Keras's epochs from 0, one loss per batch."""
    epochs, batches = 12, 60
    x = np.array([e + (b + 1) / batches for e in range(epochs) for b in range(batches)])
    step_loss = 0.35 + 1.6 * np.exp(-x / 1.8) + 0.12 * rng.standard_normal(len(x)) * np.exp(-x / 8)
    ends = np.arange(1, epochs + 1)
    val_loss = 0.42 + 1.5 * np.exp(-ends / 1.8) + 0.004 * np.maximum(0, ends - 6) ** 2  # overfits after ~7
    lr = [1e-3 if e < 8 else 5e-4 for e in range(epochs)]  # halved on a plateau
    acc = 0.93 - 0.45 * np.exp(-ends / 2.0)
    val_acc = 0.88 - 0.45 * np.exp(-ends / 2.0) - 0.002 * np.maximum(0, ends - 7) ** 2
    return SimpleNamespace(epoch=list(range(epochs)), history={
        "loss": [step_loss[x <= e].mean() for e in ends], "accuracy": list(acc), "val_loss": list(val_loss),
        "val_accuracy": list(val_acc), "lr": lr, "time": [3.1] * epochs},
        batch_history={"epoch": list(x), "loss": list(step_loss)})


def predictions():
    """A weekly series with a trend and a yearly cycle; (N, 26) forecasts over its last 2 years."""
    T, H, n_test = 364, 26, 104
    t = np.arange(T)
    y = 330 + 0.03 * t + 3 * np.sin(2 * np.pi * t / 52) + 0.3 * rng.standard_normal(T)
    dates = np.datetime64("1990-01-07") + 7 * t
    N = n_test - H + 1  # origins whose 26 targets all lie in the test part
    start = T - n_test  # row 0's first step forecasts the first test week
    rows = start + np.arange(N)[:, None] + np.arange(H)[None, :]
    model = y[rows] + 0.05 * np.sqrt(np.arange(1, H + 1)) * rng.standard_normal((N, H)) + 0.02 * np.arange(1, H + 1)
    seasonal = y[T - n_test + H - 52:T - 52] + 52 * 0.03  # a year ago plus a year's trend, 26 weeks ahead
    return y, {"model": model, "seasonal naive": seasonal}, dates, dates[start]


def confusion():
    """4 activities, two pairs of which look alike (walk/run, sit/stand): logits (N, 4)."""
    n = 600
    true = rng.integers(0, 4, n)
    logits = rng.standard_normal((n, 4))
    logits[np.arange(n), true] += 2.2
    logits[np.arange(n), true ^ 1] += 1.3  # the look-alike class of each pair
    return true, logits, ["walk", "run", "sit", "stand"]


def benchmark():
    """The README's kernel table (64x512, float32) as benchmark records."""
    times = {"tanh": (87.6e-6, 14.1e-6, 195e-3, 18.5e-6), "relu backward": (102e-6, 8.87e-6, 5e-3, 9.84e-6),
             "softmax": (112e-6, 67.1e-6, 210e-3, 72.3e-6), "adam step": (74.7e-6, 19.6e-6, 34e-3, 22.3e-6)}
    return [dict(suite="kernels", case=case, backend=b, shape=[64, 512], dtype="float32", seconds=s)
            for case, row in times.items() for b, s in zip(("numpy", "numba", "python", "cython"), row)]


def main():
    out = lambda name: os.path.join(HERE, name)  # noqa: E731
    mg.plot.plot_history(history(), out("plot_history.png"), dpi=DPI, title="a 12-epoch run")
    y, preds, dates, split = predictions()
    mg.plot.plot_predictions(y, preds, out("plot_predictions.png"), x=dates, split=split, horizons=(1, 26),
                             ylabel="ppm", dpi=DPI, title="weekly series, forecasts 1 and 26 weeks ahead")
    true, logits, labels = confusion()
    mg.plot.plot_confusion(true, logits, out("plot_confusion.png"), labels=labels, normalize="true", dpi=DPI,
                           title="activity classifier, test set")
    mg.plot.plot_benchmark(benchmark(), out("plot_benchmark.png"), baseline="numpy", dpi=DPI,
                           title="kernels, 64x512 float32: speed-up over numpy")
    for name in sorted(os.listdir(HERE)):
        if name.startswith("plot_") and name.endswith(".png"):
            print(f"{name}: {os.path.getsize(out(name)) // 1024} KB")


if __name__ == "__main__":
    main()
