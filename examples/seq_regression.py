"""Sequence regression with stacked SimpleRNNs, written in Keras: random targets, then sunspots.

The tutorial's model, exactly as it writes it in Keras (only the imports changed, to
``rnn.keras``)::

    model = Sequential()
    model.add(SimpleRNN(units=50, input_shape=(10, 1), return_sequences=True))  # (N, 10, 50)
    model.add(SimpleRNN(units=1))                                               # (N, 1): a tanh unit
    model.compile(optimizer='rmsprop', loss='mse')

Part 1, the tutorial's data: x uniform in [0, 1) of shape (1000, 10, 1), y uniform in
[0, 1) of shape (1000, 1), independent of x, fitted for 500 epochs. There is nothing to
learn: the best prediction of a y that x says nothing about is its mean, whose MSE is
the variance of y (1/12 = 0.083). A 2,652-parameter network can still push the
*training* loss far below that by memorising 1,000 points; a fresh draw of the same
random data (the held-out loss) shows what was really learned.

Part 2, a real series: the monthly sunspot numbers 1749-1983
(``rnn.datasets.load_sunspots()``, 2,820 months), 10 months -> the next month; 70% of the months
train, the next 10% validate (early stopping), the last 20% test. The same model,
against the last value ("next month = this month") and a linear autoregression on the
same 10 months fitted by least squares (AR(10)).

    python examples/seq_regression.py [--epochs 500] [--sunspot-epochs 100] [--out results/seq_regression]

Prints both parts' losses against their baselines; writes the training curves
(random_targets.png, sunspots_training.png) and the test forecasts (sunspots_test.png).
Takes about 20 s on 2 CPU cores.
"""
import os

import numpy as np

import minigrad as mg
import rnn
from rnn.keras.callbacks import EarlyStopping, ReduceLROnPlateau
from rnn.keras.layers import SimpleRNN
from rnn.keras.models import Sequential

from _common import Stopwatch, device, parser, save_metrics, seed_everything

WINDOW = 10  # the tutorial's input_shape=(10, 1): ten steps of one feature


def tutorial_model():
    """The tutorial's model and compile step, line for line."""
    # 创建 RNN 模型 (build the RNN model)
    model = Sequential()
    model.add(SimpleRNN(units=50, input_shape=(10, 1), return_sequences=True))
    model.add(SimpleRNN(units=1))

    # 编译模型 (compile the model)
    model.compile(optimizer='rmsprop', loss='mse')
    return model


# -------------------------------------------------------------- part 1
def random_targets(args):
    """The tutorial's training run on its random data, plus a held-out draw of the same data."""
    model = tutorial_model()

    # 训练模型 (train the model)
    x = np.random.random((1000, 10, 1))
    y = np.random.random((1000, 1))
    x_new, y_new = np.random.random((1000, 10, 1)), np.random.random((1000, 1))  # added: data never trained on
    history = model.fit(x, y, epochs=args.epochs, verbose=0, validation_data=(x_new, y_new))  # added: the History,
    #                                                     --epochs (500 by default) and the held-out loss per epoch
    loss, held_out = history.history["loss"], history.history["val_loss"]
    var, var_new = float(y.var()), float(y_new.var())
    print(f"=== random targets: {args.epochs} epochs of 1000 random sequences; "
          f"{model.count_params()} parameters")
    for e in sorted({0, 9, len(loss) // 4, len(loss) // 2, len(loss) - 1} & set(range(len(loss)))):
        print(f"epoch {e + 1:4d}  loss {loss[e]:.4f}  held-out loss {held_out[e]:.4f}")
    print(f"variance of y: {var:.4f} (training), {var_new:.4f} (held-out): the MSE of predicting the mean")
    verdict = "points memorised, not a rule" if loss[-1] < 0.9 * var else "no better than the mean yet"
    print(f"training loss {loss[-1]:.4f} = {loss[-1] / var:.0%} of the variance ({verdict}); "
          f"held-out loss {held_out[-1]:.4f} = {held_out[-1] / var_new:.0%} of its variance")
    png = os.path.join(args.out, "random_targets.png")
    done = len(loss)
    mg.plot.plot_history({"loss": loss, "held-out loss": held_out,
                          "variance of y: predicting the mean (loss)": [(1, var), (done, var)]},
                         png, best=None, xlabel="epoch", ylabel="MSE", logy=True,
                         title="random targets: memorised, not learned")
    print(f"training curve written to {png}")
    return {"train_loss": loss[-1], "heldout_loss": held_out[-1], "y_variance": var, "heldout_y_variance": var_new,
            "train_loss_per_epoch": loss, "heldout_loss_per_epoch": held_out}


# -------------------------------------------------------------- part 2
def autoregression(x_train, y_train, x):
    """AR(10): the least-squares linear prediction from the same 10 values (and a constant)."""
    design = lambda a: np.concatenate([a[:, :, 0], np.ones((len(a), 1))], axis=1)  # noqa: E731
    coef, *_ = np.linalg.lstsq(design(x_train), y_train[:, 0], rcond=None)
    return design(x) @ coef


def sunspots(args):
    series, months = rnn.datasets.load_sunspots()  # (2820,) monthly means and their months, oldest first
    train, val, test = rnn.data.chronological_split(len(series), val_fraction=0.1, test_fraction=0.2)
    # SimpleRNN(1) ends in a tanh, so outputs lie in (-1, 1): divide by 1.25x the training
    # maximum, which leaves room for a cycle 25% stronger than any seen in training.
    scale = 1.25 * series[train].max()
    x, y = rnn.data.sliding_windows(series / scale, WINDOW)  # (M, 10, 1), (M, 1): 10 months -> the next
    target = np.arange(len(y)) + WINDOW  # the month each window forecasts; it decides the window's part
    tr, va, te = (np.isin(target, part) for part in (train, val, test))
    if args.quick:
        tr &= target >= train[-1] - 400
    mg.manual_seed(args.seed)
    model = tutorial_model()
    print(f"\n=== sunspots, next month from the last {WINDOW}: {tr.sum()} train / {va.sum()} validation / "
          f"{te.sum()} test windows ({months[target[te][0]]} .. {months[-1]} tested)")
    # Keras's callbacks: halve RMSprop's step when the validation loss stalls, stop when it has
    # not improved for 20 epochs, and keep the best weights.
    history = model.fit(x[tr], y[tr], epochs=args.sunspot_epochs, verbose=0, validation_data=(x[va], y[va]),
                        callbacks=[ReduceLROnPlateau(factor=0.5, patience=5),
                                   EarlyStopping(patience=20, restore_best_weights=True)])
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    print(f"{len(val_loss)} epochs; best validation loss {val_loss[best]:.5f} at epoch {best + 1} (those weights kept)")
    truth = y[te, 0] * scale
    forecasts = {"SimpleRNN x2": model.predict(x[te], verbose=0)[:, 0] * scale,
                 "last value": x[te, -1, 0] * scale,
                 "AR(10)": autoregression(x[tr], y[tr], x[te]) * scale}
    mae = {name: float(np.abs(f - truth).mean()) for name, f in forecasts.items()}
    mse = {name: float(((f - truth) ** 2).mean()) for name, f in forecasts.items()}
    for name in forecasts:
        print(f"  {name:13s} test MAE {mae[name]:6.2f}  RMSE {np.sqrt(mse[name]):6.2f}  (sunspot number)")
    png = os.path.join(args.out, "sunspots_training.png")
    mg.plot.plot_history(history, png, ylabel="MSE (scaled series)", logy=True,
                         title="sunspots: the tutorial's model, 10 months -> the next")
    print(f"training curve written to {png}")
    shown = slice(target[te][0] - 36, None)  # three years before the test period, then all of it
    png = os.path.join(args.out, "sunspots_test.png")
    mg.plot.plot_predictions(series[shown], forecasts, png, x=months[shown], split=months[target[te][0]],
                             ylabel="monthly sunspot number", figsize=(10, 4),
                             title="sunspots, one month ahead: the test period")
    print(f"forecast plot written to {png}")
    return {"model_mae": mae["SimpleRNN x2"], "naive_mae": mae["last value"], "ar_mae": mae["AR(10)"],
            "model_mse": mse["SimpleRNN x2"], "naive_mse": mse["last value"], "ar_mse": mse["AR(10)"],
            "val_loss": val_loss, "best_epoch": best + 1, "test_windows": int(te.sum())}


def main(argv=None):
    p = parser(__doc__, "seq_regression", epochs=500)
    p.add_argument("--sunspot-epochs", type=int, default=100,
                   help="most epochs on the sunspots (early stopping usually ends sooner)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.sunspot_epochs = min(args.epochs, 20), min(args.sunspot_epochs, 3)
    if device(args.device) != "cpu":
        raise SystemExit("--device cuda: seq_regression.py trains on the CPU only (a 2,652-parameter model has "
                         "nothing to gain from a GPU)")
    seed_everything(args.seed)
    os.makedirs(args.out, exist_ok=True)
    clock = Stopwatch()
    random = random_targets(args)
    spots = sunspots(args)
    print(f"done in {clock():.0f}s")
    print(f"RESULT seq_regression: sunspots test MAE {spots['model_mae']:.2f} (SimpleRNN x2) vs last value "
          f"{spots['naive_mae']:.2f}, AR(10) {spots['ar_mae']:.2f}; random targets: held-out MSE "
          f"{random['heldout_loss']:.4f} vs the variance {random['heldout_y_variance']:.4f} (training MSE "
          f"{random['train_loss']:.4f})")
    return save_metrics(args.out, {"random": random, "sunspots": spots})


if __name__ == "__main__":
    main()
