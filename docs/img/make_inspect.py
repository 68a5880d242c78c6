"""The pictures of docs/inspect.md, written next to this file.

    python docs/img/make_inspect.py

Deterministic (fixed seeds), a few seconds on one CPU core: small models, untrained
where initialisation makes the point, trained for a few dozen updates where training does.
"""
import os

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim
from rnn.inspect import gate_activations, hidden_grad_norms, parameter_grad_norms

HERE = os.path.dirname(os.path.abspath(__file__))
DPI = 80


def path(name):
    return os.path.join(HERE, name)


class TinyRNN(nn.Module):
    """Two steps of an RNN cell and a read-out: a graph small enough to read."""

    def __init__(self):
        super().__init__()
        self.cell = rnn.RNNCell(2, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        h = None
        for t in range(x.shape[0]):
            h = self.cell(x[t], h)
        return self.head(h)


def graph_picture():
    mg.manual_seed(0)
    model = TinyRNN()
    loss = mg.mse_loss(model(mg.randn(2, 4, 2)), mg.zeros(4, 1))
    print(mg.plot.graph_text(loss, model))
    mg.plot.draw_graph(loss, path("inspect_graph.png"), params=model, engine="matplotlib", dpi=DPI,
                       figsize=(7.5, 7.5), title="two steps of an RNN cell, a read-out, an MSE loss")


class Forecaster(nn.Module):
    """A two-layer LSTM reading a noisy sine wave, predicting its next value."""

    def __init__(self, hidden=16):
        super().__init__()
        self.rnn = rnn.LSTM(1, hidden, num_layers=2)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def sine_batch(rng, steps=60, batch=16):
    """x (T, B, 1) a noisy sine with random phase and frequency, y (T, B, 1) its next value."""
    t = np.arange(steps + 1)[:, None]
    wave = np.sin(rng.uniform(0.15, 0.35, batch) * t + rng.uniform(0, 2 * np.pi, batch))
    wave = wave + 0.05 * rng.standard_normal(wave.shape)
    return mg.tensor(wave[:-1, :, None]), mg.tensor(wave[1:, :, None])


def train_forecaster(updates=80):
    """The model after a little training, and each layer's gradient norm at every update."""
    mg.manual_seed(1)
    rng = np.random.default_rng(1)
    model = Forecaster()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    norms, losses = {}, []
    for _ in range(updates):
        x, y = sine_batch(rng)
        opt.zero_grad()
        loss = mg.mse_loss(model(x), y)
        loss.backward()
        for layer, n in parameter_grad_norms(model, per="layer").items():
            norms.setdefault(layer, []).append(n)
        opt.step()
        losses.append(loss.item())
    print("forecaster loss, updates 1-10, 11-20, ...:", np.round(np.mean(np.reshape(losses, (-1, 10)), axis=1), 4))
    return model, norms


def grad_norms_picture(layer_norms):
    """||dL/dh_t|| at initialisation for four layers reading the same 80 steps, the loss
    on the last output only; next to it the per-layer gradient norms of the training run."""
    x = mg.tensor(np.random.default_rng(2).standard_normal((80, 1, 4)))
    readout = mg.tensor(np.random.default_rng(3).standard_normal((1, 32)), dtype=mg.float64)
    profiles = {}
    for name, make in (("RNN (tanh)", lambda: rnn.RNN(4, 32)), ("LSTM", lambda: rnn.LSTM(4, 32)),
                       ("LSTM, forget_bias=1", lambda: rnn.LSTM(4, 32, forget_bias=1.0)),
                       ("GRU", lambda: rnn.GRU(4, 32))):
        mg.manual_seed(4)
        profiles[name] = hidden_grad_norms(make(), x, lambda out: (out[-1] * readout).sum(), dtype=mg.float64)
        print(f"{name:20s} ||dL/dh_0|| / ||dL/dh_T-1|| = {profiles[name][0] / profiles[name][-1]:.1e}")
    mg.plot.plot_grad_norms(profiles, layer_norms, path("inspect_grad_norms.png"), relative=True, dpi=DPI,
                            figsize=(10, 3.8))


def hidden_pictures(model):
    """Gates of the trained first layer on one sequence; then the same layer with its
    weights multiplied by 6, whose gates saturate."""
    layer = rnn.LSTM(1, 16)  # the stack's first layer on its own (same parameter names)
    layer.load_state_dict({k: v for k, v in model.rnn.state_dict().items() if k.endswith("_l0")})
    x, _ = sine_batch(np.random.default_rng(5), steps=80, batch=1)
    states = gate_activations(layer, x)
    for k in "ifo":
        print(f"trained gate {k}: 5%, 50%, 95% quantiles {np.percentile(states[k], [5, 50, 95]).round(2)}")
    mg.plot.plot_hidden_states(states, path("inspect_hidden.png"), keys=["h", "i", "f", "o", "c"], dpi=DPI,
                               figsize=(8, 7.5), title="LSTM layer 0 on a sine wave, after 80 updates")
    for p in layer.parameters():
        p.data = p.data * 6
    states = gate_activations(layer, x)
    saturated = {k: float(np.mean((states[k] < 0.05) | (states[k] > 0.95))) for k in "ifo"}
    print("fraction of gate values below 0.05 or above 0.95, weights x6:", saturated)
    mg.plot.plot_hidden_states(states, path("inspect_saturated.png"), keys=["h", "i", "f", "o"], dpi=DPI,
                               figsize=(8, 6), title="the same layer with its weights x6: saturated gates")


def main():
    graph_picture()
    model, layer_norms = train_forecaster()
    grad_norms_picture(layer_norms)
    hidden_pictures(model)
    for name in sorted(os.listdir(HERE)):
        if name.startswith("inspect_") and name.endswith(".png"):
            print(f"{name}: {os.path.getsize(path(name)) // 1024} KB")


if __name__ == "__main__":
    main()
