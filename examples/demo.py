"""Demo: forecast next month's sunspot number with a small network trained by minigrad.

Real data (monthly mean sunspot numbers, 1749-1983, ~11-year cycle). Each example is
a window of the previous 24 months; the target is the next month. The series is
split in time: the first 80% trains, the rest validates, so validation is a genuine
forecast of years the model never saw.

    python examples/demo.py [--epochs 30] [--out results/demo]

Prints the loss per epoch and the validation error against a naive "same as last
month" forecast, and writes a training-curve PNG.
"""
import argparse
import csv
import os
import time

import numpy as np

import minigrad as mg
from minigrad import nn, optim

HERE = os.path.dirname(os.path.abspath(__file__))


def load_sunspots():
    with open(os.path.join(HERE, "data", "sunspots_monthly.csv")) as f:
        return np.array([float(row["sunspots"]) for row in csv.DictReader(f)], dtype=np.float32)


def windows(series, width):
    """(N, width) inputs and (N, 1) next-step targets from a 1-D series."""
    idx = np.arange(width)[None, :] + np.arange(len(series) - width)[:, None]
    return series[idx], series[width:, None]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--window", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--out", default=os.path.join("results", "demo"))
    args = p.parse_args(argv)
    mg.manual_seed(0)

    series = load_sunspots()
    split = int(0.8 * len(series))
    scale = series[:split].max()  # scale by training data only: no peeking at the future
    x_all, y_all = windows(series / scale, args.window)
    n_train = split - args.window
    x_train, y_train = mg.tensor(x_all[:n_train]), mg.tensor(y_all[:n_train])
    x_val, y_val = mg.tensor(x_all[n_train:]), mg.tensor(y_all[n_train:])

    model = nn.Sequential(nn.Linear(args.window, 64), nn.Tanh(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = optim.Adam(model.parameters(), lr=args.lr)
    schedule = optim.CosineAnnealingLR(opt, T_max=args.epochs)  # large steps first, fine ones at the end
    print(model)
    print(f"{model.num_parameters()} parameters; {len(x_train)} training windows, {len(x_val)} validation windows")

    history = {"train loss": [], "val loss": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = mg.random.generator().permutation(len(x_train))
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            loss = nn.functional.mse_loss(model(x_train[batch]), y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        schedule.step()
        model.eval()
        with mg.no_grad():
            val = nn.functional.mse_loss(model(x_val), y_val).item()
        history["train loss"].append(total / len(x_train))
        history["val loss"].append(val)
        if epoch == 1 or epoch % 5 == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  train mse {history['train loss'][-1]:.5f}  val mse {val:.5f}")

    with mg.no_grad():
        pred = model(x_val).numpy()[:, 0] * scale
    truth = y_val.numpy()[:, 0] * scale
    naive = x_val.numpy()[:, -1] * scale  # "next month = this month"
    mae, naive_mae = np.abs(pred - truth).mean(), np.abs(naive - truth).mean()
    print(f"trained in {time.perf_counter() - start:.1f}s on backend {mg.get_backend().name!r}")
    print(f"validation MAE {mae:.2f} sunspots (naive last-month forecast: {naive_mae:.2f})")
    png = mg.plot_curves(history, os.path.join(args.out, "training_curve.png"),
                         title="sunspot forecaster (MLP, 24-month window)", ylabel="MSE (scaled)", logy=True)
    print(f"training curve written to {png}")
    return history, mae, naive_mae


if __name__ == "__main__":
    main()
