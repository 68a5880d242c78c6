"""Time-series forecasting with a stacked LSTM written Keras-style, on two real series.

Task: given the last `window` observations, forecast what comes next; the tutorials'
stock-price example, done honestly (statistics from training data only, a test period
strictly after the training period, and a naive forecast to beat).

Data (``rnn.datasets``; copies in examples/data/):
  * stock: AAPL daily close, 2007-01-03 .. 2016-03-01 (stockdata.csv, 2,306 trading
    days). Target: tomorrow's close from the last 30 closes.
  * co2: weekly CO2 at Mauna Loa in ppm, 1958 .. 2001 (co2_weekly.csv, 2,284 weeks;
    the 59 missing weeks are filled by linear interpolation). Target: the next 26
    weeks (half a year) at once, from the last 104 weeks.

Model, exactly Keras's ``Sequential([LSTM(32, return_sequences=True), LSTM(32),
Dense(horizon)])``::

    nn.Sequential(rnn.LSTM(1, 32, batch_first=True, return_sequences=True),    # (B, T, 32)
                  rnn.LSTM(32, 32, batch_first=True, return_sequences=False),  # (B, 32)
                  nn.Linear(32, horizon))                                      # (B, horizon)

trained with ``rnn.train.fit(...)`` (Adam; the step size halved when the validation
loss stalls, early stopping with the best weights kept), which returns a Keras-like
``History``.

Each window is expressed relative to its last value (log-price differences for the
stock, ppm differences for CO2): levels the training period never reached (AAPL went
from $11 to over $100 in these nine years; CO2 keeps rising) would otherwise be
outside everything the network has seen. The naive forecast "the future equals the last value seen" is then exactly a
prediction of 0, so the network has to earn every bit of improvement over it.

    python examples/forecast.py [--series both|stock|co2] [--epochs 40] [--out results/forecast]

Prints the per-epoch losses (from ``fit``) and, per series, the test error against
the naive last-value forecast (and, for CO2, the seasonal naive forecast "same as a
year ago plus a year's growth"); writes training-curve PNGs and a forecast plot.
Takes about 15 seconds on 2 CPU cores.
"""
import os

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, device, parser, save_metrics, seed_everything


def relative_windows(series, window, horizon):
    """Windows of the series, each made relative to its last value.

    Returns x (M, window, 1) = series[s .. s+window-1] - series[s+window-1],
    y (M, horizon) = the following ``horizon`` values minus that same last value,
    and last (M,), the value subtracted (to turn forecasts back into levels).
    """
    x, y = rnn.data.sliding_windows(series, window, horizon=horizon)
    y = y.reshape(len(y), horizon)  # (M, 1) or (M, horizon, 1) -> (M, horizon)
    last = x[:, -1, 0]
    return x - last[:, None, None], y - last[:, None], last


def split_by_time(n_series, window, horizon, val_fraction, test_fraction):
    """Window indices for train / validation / test, split where their *targets* lie.

    ``chronological_split`` cuts the series itself. A window belongs to a part when all
    its target steps fall inside that part; its inputs may reach back into the past,
    as they would in real use. No value that is a validation or test target is ever a
    training target, even for multi-step horizons.
    """
    train, val, test = rnn.data.chronological_split(n_series, val_fraction, test_fraction)
    starts = np.arange(n_series - window - horizon + 1)
    first, final = starts + window, starts + window + horizon - 1  # the target steps of each window
    return (starts[final <= train[-1]],
            starts[(first >= val[0]) & (final <= val[-1])],
            starts[(first >= test[0]) & (final <= test[-1])])


def stacked_lstm(hidden, horizon):
    """Keras: Sequential([LSTM(hidden, return_sequences=True), LSTM(hidden), Dense(horizon)])."""
    return nn.Sequential(
        rnn.LSTM(1, hidden, batch_first=True, return_sequences=True),       # (B, T, 1) -> (B, T, H)
        rnn.LSTM(hidden, hidden, batch_first=True, return_sequences=False),  # -> (B, H): the last step only
        nn.Linear(hidden, horizon),                                          # -> (B, horizon)
    )


def print_epoch():
    """A ``fit`` callback printing one line per epoch (``verbose=1`` would draw tqdm bars
    as well, which clutter a log file); it never asks to stop."""
    epoch = [0]

    def callback(model, logs):
        epoch[0] += 1
        print(f"epoch {epoch[0]:3d}  loss {logs['loss']:.4f}  val_loss {logs['val_loss']:.4f}  lr {logs['lr']:.1e}  "
              f"({logs['time']:.1f}s)")
        return False

    return callback


def forecast(name, series, window, horizon, args, transform=None):
    """Fit the stacked LSTM on one series; return the model's, and the baselines', test errors.

    transform: applied to the series before windowing (log for prices), undone on the
    forecasts, so errors are reported in the series' own unit.
    """
    level = series if transform is None else transform[0](series)
    x, y, last = relative_windows(level, window, horizon)
    tr, va, te = split_by_time(len(series), window, horizon, val_fraction=0.1, test_fraction=0.2)
    if args.quick:
        tr = tr[-300:]
    # Statistics of the training windows only: the test period must stay unseen.
    sx = rnn.data.Standardizer().fit(x[tr].reshape(-1, 1))
    sy = rnn.data.Standardizer().fit(y[tr].reshape(-1, 1))
    xs, ys = sx.transform(x), sy.transform(y)

    mg.manual_seed(args.seed)
    model = stacked_lstm(args.hidden, horizon).to(device(args.device))  # fit moves each batch there
    print(f"\n=== {name}: {len(tr)} train / {len(va)} validation / {len(te)} test windows of {window} steps, "
          f"forecasting {horizon} step(s)")
    print(model)
    # Keras's callbacks, minigrad style: halve the step size when the validation loss stalls
    # for 3 epochs, stop when it has not improved for `patience`, and keep the best weights.
    opt = optim.Adam(model.parameters(), lr=args.lr)
    plateau = optim.ReduceLROnPlateau(opt, factor=0.5, patience=3)
    stop = rnn.train.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    history = rnn.train.fit(model, xs[tr], ys[tr], loss="mse", optimizer=opt, epochs=args.epochs, batch_size=32,
                            validation_data=(xs[va], ys[va]), clip_norm=1.0, scheduler=plateau,
                            callbacks=[print_epoch(), stop], verbose=0)
    print(f"best validation loss {min(history.history['val_loss']):.4f} "
          f"(epoch {int(np.argmin(history.history['val_loss'])) + 1}; those weights are kept)")
    model.eval()
    with mg.no_grad():
        # (M, horizon), relative to the last value
        pred = sy.inverse_transform(model(mg.tensor(xs[te], device=args.device)).numpy())

    def to_level(rel):
        z = rel + last[te][:, None]
        return z if transform is None else transform[1](z)

    truth, model_fc, naive_fc = to_level(y[te]), to_level(pred), to_level(np.zeros_like(pred))
    result = {"history": history, "truth": truth, "model": model_fc, "naive": naive_fc,
              "model_mae": float(np.abs(model_fc - truth).mean()), "naive_mae": float(np.abs(naive_fc - truth).mean()),
              "test_starts": te}
    return result


def stock(args):
    series = rnn.datasets.load_stocks("AAPL").values  # daily closes (2306,), oldest first
    r = forecast("AAPL close, next day", series, args.window_stock, 1, args, transform=(np.log, np.exp))
    # Direction: did the model at least call up/down days better than a coin?
    up_true = r["truth"][:, 0] > r["naive"][:, 0]
    up_pred = r["model"][:, 0] > r["naive"][:, 0]
    r["direction_acc"] = float((up_true == up_pred).mean())
    r["always_up_acc"] = float(up_true.mean())
    # How big are the moves it predicts? Near 0: it has learned little more than the average drift.
    r["predicted_move_std"] = float(np.log(r["model"] / r["naive"]).std())
    r["actual_move_std"] = float(np.log(r["truth"] / r["naive"]).std())
    print(f"AAPL test period: next-day MAE ${r['model_mae']:.3f} (LSTM) vs ${r['naive_mae']:.3f} (naive: tomorrow = "
          f"today); up/down called right {r['direction_acc']:.1%} (always 'up': {r['always_up_acc']:.1%}); "
          f"predicted daily moves have std {r['predicted_move_std']:.3%}, actual ones {r['actual_move_std']:.2%}")
    print(f"RESULT forecast stock: test MAE {r['model_mae']:.3f} USD vs naive last-value {r['naive_mae']:.3f} USD "
          f"(ratio {r['model_mae'] / r['naive_mae']:.3f})")
    return r


def co2(args):
    series, dates = rnn.datasets.load_co2(fill="interpolate")  # ppm (2284,): 59 missing weeks interpolated
    window, horizon = args.window_co2, args.horizon_co2
    r = forecast(f"CO2, next {horizon} weeks", series, window, horizon, args)
    # Seasonal naive with drift: week t+h looks like week t+h-52, shifted by the last year's growth.
    s = r["test_starts"][:, None] + window - 1  # index of the last observed week
    h = np.arange(1, horizon + 1)[None, :]
    seasonal = series[s + h - 52] + (series[s] - series[s - 52])
    r["seasonal_mae"] = float(np.abs(seasonal - r["truth"]).mean())
    r["seasonal"] = seasonal
    r["series"], r["dates"] = series, dates  # for the forecast plot
    print(f"CO2 test period: MAE over the {horizon} weeks ahead {r['model_mae']:.3f} ppm (LSTM) vs "
          f"{r['naive_mae']:.3f} (naive: last value) and {r['seasonal_mae']:.3f} (seasonal naive with drift)")
    print(f"RESULT forecast co2: test MAE {r['model_mae']:.3f} ppm vs naive last-value {r['naive_mae']:.3f} ppm, "
          f"seasonal naive {r['seasonal_mae']:.3f} ppm")
    return r


def plot_history(history, path, title):
    """The History's curves: loss per step and val_loss per epoch, the learning rate
    below (halved on each plateau), the epoch whose weights are kept marked."""
    mg.plot.plot_history(history, path, title=title, ylabel="MSE", logy=True)
    print(f"training curve written to {path}")


def plot_co2_forecasts(r, path, window, horizon):
    """The last two years before the test period and the test period itself: the observed
    CO2, and the forecasts made `horizon` weeks earlier by the LSTM and the two baselines."""
    first = r["test_starts"][0] + window  # the first week a test forecast is about
    shown = slice(first - 104, None)
    series, dates = r["series"][shown], r["dates"][shown]
    start = first - shown.start  # index in the shown part that row 0's first step forecasts
    mg.plot.plot_predictions(series, {"LSTM": r["model"], "seasonal naive with drift": r["seasonal"],
                                      "naive last value": r["naive"]}, path, x=dates, split=dates[start],
                             start=start, horizons=[horizon], ylabel="CO2 (ppm)",
                             title=f"Mauna Loa CO2: forecasts {horizon} weeks ahead (steps are weeks)")
    return path


def main(argv=None):
    p = parser(__doc__, "forecast", epochs=40)
    p.add_argument("--series", choices=["both", "stock", "co2"], default="both", help="which series to forecast")
    p.add_argument("--hidden", type=int, default=32, help="hidden units of each LSTM layer")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam's learning rate")
    p.add_argument("--patience", type=int, default=10, help="early stopping on the validation loss")
    p.add_argument("--window-stock", type=int, default=30, help="trading days the model reads per forecast")
    p.add_argument("--window-co2", type=int, default=104, help="weeks the model reads per forecast")
    p.add_argument("--horizon-co2", type=int, default=26, help="weeks ahead the CO2 forecast reaches")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.hidden, args.window_co2 = min(args.epochs, 2), 8, 60
    seed_everything(args.seed)
    os.makedirs(args.out, exist_ok=True)
    clock = Stopwatch()
    results = {}
    if args.series in ("both", "stock"):
        results["stock"] = r = stock(args)
        plot_history(r["history"], os.path.join(args.out, "stock_training_curve.png"),
                     "AAPL, next day (standardized log returns)")
    if args.series in ("both", "co2"):
        results["co2"] = r = co2(args)
        plot_history(r["history"], os.path.join(args.out, "co2_training_curve.png"),
                     f"CO2, {args.horizon_co2} weeks ahead (standardized)")
        png = plot_co2_forecasts(r, os.path.join(args.out, "co2_forecast.png"), args.window_co2, args.horizon_co2)
        print(f"forecast plot written to {png}")
    print(f"done in {clock():.0f}s")
    keep = ("model_mae", "naive_mae", "seasonal_mae", "direction_acc", "always_up_acc", "predicted_move_std",
            "actual_move_std")
    return save_metrics(args.out, {name: {"val_loss": r["history"].history["val_loss"],
                                          "horizon": r["model"].shape[1], **{k: r[k] for k in keep if k in r}}
                                   for name, r in results.items()})


if __name__ == "__main__":
    main()
