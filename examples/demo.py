"""Demo: forecast the sunspot number 6 months ahead with a small LSTM trained by minigrad.

Real data (monthly mean sunspot numbers, 1749-1983, ~11-year cycle). Each example is
a window of the previous 24 months, read by an LSTM one month at a time; a linear
layer turns its last hidden state into a forecast of the sunspot number 6 months
after the window (``--horizon``). The series is split in time: the first 80% trains,
the rest validates, so validation is a genuine forecast of years the model never saw.

    python examples/demo.py [--epochs 12] [--horizon 6] [--out results/demo] [--device cuda] [--quick]

Prints the loss per epoch and the validation error against the naive forecast "the
same as the last month seen", and writes two PNGs (the training curves; the forecast
over the observed series) and metrics.json. About 15 s on 2 CPU cores, most of it the
first run's compilation of numba's kernels (cached on disk for later runs:
``python -m minigrad.warmup`` compiles them ahead of time).
"""
import os

import numpy as np

import minigrad as mg
import rnn
from _common import Stopwatch, device, parser, save_metrics, seed_everything
from minigrad import nn, optim

class Forecaster(nn.Module):
    """LSTM over the window (batch_first: (B, T, 1)), then y = W h_T + b."""

    def __init__(self, hidden_size=32):
        super().__init__()
        self.lstm = rnn.LSTM(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])  # h_n: (layers * directions, B, H); the last layer's state


def main(argv=None):
    p = parser(__doc__, "demo", epochs=12)
    p.add_argument("--hidden", type=int, default=32, help="LSTM hidden units")
    p.add_argument("--window", type=int, default=24, help="months the LSTM reads before each forecast")
    p.add_argument("--horizon", type=int, default=6, help="forecast this many months ahead")
    p.add_argument("--batch-size", type=int, default=64, help="windows per training step")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate (cosine-annealed to 0)")
    args = p.parse_args(argv)
    if args.quick:  # seconds: a smaller LSTM, two epochs
        args.epochs, args.hidden = min(args.epochs, 2), 8
    dev = device(args.device)
    seed_everything(args.seed)

    series = rnn.datasets.load_sunspots().values.astype(np.float32)  # (2820,), 1749-01 .. 1983-12
    split = int(0.8 * len(series))
    scale = series[:split].max()  # scale by training data only: no peeking at the future
    # inputs: 24 months; target: the month `horizon` months after the window's end
    x_all, y_all = rnn.data.sliding_windows(series / scale, args.window, horizon=args.horizon)
    y_all = y_all[:, -1] if args.horizon > 1 else y_all  # (N, 1)
    n_train = split - args.window - args.horizon + 1
    x_train, y_train = mg.tensor(x_all[:n_train]), mg.tensor(y_all[:n_train])
    x_val, y_val = mg.tensor(x_all[n_train:]), mg.tensor(y_all[n_train:])

    model = Forecaster(args.hidden).to(dev)  # the data stays on the host; each batch moves
    opt = optim.Adam(model.parameters(), lr=args.lr)
    schedule = optim.CosineAnnealingLR(opt, T_max=args.epochs)  # large steps first, fine ones at the end
    print(model)
    print(f"{model.num_parameters()} parameters; {len(x_train)} training windows, {len(x_val)} validation windows")

    history = {"train loss": [], "val loss": []}
    clock = Stopwatch()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = mg.random.generator().permutation(len(x_train))
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            loss = nn.functional.mse_loss(model(x_train[batch].to(dev)), y_train[batch].to(dev))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        schedule.step()
        model.eval()
        with mg.no_grad():
            val = nn.functional.mse_loss(model(x_val.to(dev)), y_val.to(dev)).item()
        history["train loss"].append(total / len(x_train))
        history["val loss"].append(val)
        print(f"epoch {epoch:3d}  train mse {history['train loss'][-1]:.5f}  val mse {val:.5f}")

    with mg.no_grad():
        pred = model(x_val.to(dev)).numpy()[:, 0] * scale
    truth = y_val.numpy()[:, 0] * scale
    naive = x_val.numpy()[:, -1, 0] * scale  # "in `horizon` months = this month"
    mae, naive_mae = np.abs(pred - truth).mean(), np.abs(naive - truth).mean()
    where = f"backend {mg.get_backend().name!r}" if dev == "cpu" else f"device {dev!r}"
    print(f"trained in {clock():.1f}s on {where}")
    print(f"validation MAE {mae:.2f} sunspots, {args.horizon} months ahead "
          f"(naive 'same as the last month' forecast: {naive_mae:.2f})")
    png = os.path.join(args.out, "training_curve.png")
    mg.plot.plot_history(history, png, ylabel="MSE (scaled)", logy=True,
                         title=f"sunspot forecaster (LSTM, H={args.hidden}, {args.window} months in, "
                               f"{args.horizon} ahead)")
    forecast_png = os.path.join(args.out, "forecast.png")
    shown = split - 120  # the last ten training years, then the validation years
    mg.plot.plot_predictions(series[shown:], {"naive (last month seen)": naive, "LSTM": pred}, forecast_png,
                             x=1749 + np.arange(shown, len(series)) / 12, split=1749 + split / 12,
                             start=n_train + args.window + args.horizon - 1 - shown, xlabel="year",
                             ylabel="sunspot number", title=f"sunspots {args.horizon} months ahead: validation years")
    print(f"training curve written to {png}; forecast to {forecast_png}")
    save_metrics(args.out, {"train_loss": history["train loss"], "val_loss": history["val loss"], "val_mae": mae,
                            "naive_mae": naive_mae, "seconds": clock()})
    return history, mae, naive_mae


if __name__ == "__main__":
    main()
