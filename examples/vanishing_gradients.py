"""Vanishing gradients, measured: how much of the loss's gradient reaches each earlier step?

Task: a model reads T = 200 characters of Shakespeare and predicts the next one from its
last hidden state h_T only. For every step t we measure ||dL/dh_t||, the gradient that
BPTT carries back to step t. If it has shrunk to 1e-10 of its size at the end, the
input at step t cannot teach the model anything: that is the vanishing gradient the
tutorials talk about, and the reason LSTMs and GRUs were invented.

Models (hidden size 64, the same inputs, the same read-out): a vanilla tanh RNN, an
LSTM with PyTorch's default initialisation, an LSTM whose forget-gate bias starts at
1 (``forget_bias=1.0``), and a GRU. Each is measured twice: as initialised, and after
a short training run as a character language model (``--epochs`` passes over the
first 40,000 characters, ``rnn.TBPTT``).

How the gradients are caught. The fused layers keep no per-step tensors, but the
composed path (``rnn.LSTM(..., fused=False)``) builds every h_t as a tensor of its own
and keeps them in ``layer.step_states``; a hook on every h_t records its gradient as
backward passes through it::

    h.register_hook(lambda g, t=t: norms.__setitem__(t, np.linalg.norm(g.numpy())))

Hooks fire with the *total* gradient of the loss w.r.t. that tensor (every path
through later steps summed). Everything runs in float64 so that tiny gradients show
up as tiny numbers rather than as 0.

    python examples/vanishing_gradients.py [--epochs 4] [--steps 200] [--out results/vanishing_gradients]

Prints a table of ||dL/dh_{T-k}|| / ||dL/dh_T|| for several k, before and after
training, and plots the curves on a log scale; a few seconds on 2 CPU cores.
"""
import os

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, data_path, device, parser, save_metrics, seed_everything

# name -> (layer class, extra constructor arguments)
MODELS = {
    "RNN (tanh)": (rnn.RNN, {}),
    "LSTM": (rnn.LSTM, {}),
    "LSTM, forget_bias=1": (rnn.LSTM, {"forget_bias": 1.0}),
    "GRU": (rnn.GRU, {}),
}


class CharModel(nn.Module):
    """ids (T, B) -> next-character logits (T, B, V): Embedding -> one recurrent layer -> Linear."""

    def __init__(self, layer_cls, vocab_size, embed, hidden, **kwargs):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = layer_cls(embed, hidden, **kwargs)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(out), state


def gradient_profile(model, ids):
    """||dL/dh_t|| for t = 0..T-1, where L = cross-entropy of ids[T] predicted from h_{T-1} alone.

    ids: (T + 1,) character ids. The model's recurrent layer is copied into a float64
    layer on the composed path (``fused=False``), which keeps every step's hidden state
    as a tensor of its own in ``layer.step_states``; a hook on each records its gradient.
    Returns norms (T,).
    """
    src = model.rnn
    layer = type(src)(src.input_size, src.hidden_size, fused=False, dtype=mg.float64)
    layer.load_state_dict(src.state_dict())
    x = mg.tensor(model.embed.weight.numpy()[ids[:-1]], dtype=mg.float64)[:, None]  # (T, 1, E): a batch of one
    out, _ = layer(x)
    steps = len(ids) - 1
    norms = np.zeros(steps)
    for t, h in enumerate(layer.step_states[0]):  # one layer, one direction: T tensors (1, H)
        # Called during backward with dL/dh_t, once every later step has added its part.
        h.register_hook(lambda g, t=t: norms.__setitem__(t, np.linalg.norm(g.numpy())))
    head = nn.Linear(layer.hidden_size, model.head.out_features, dtype=mg.float64)
    head.load_state_dict(model.head.state_dict())
    loss = nn.functional.cross_entropy(head(out[-1]), mg.tensor(ids[-1:]))
    loss.backward()
    return norms


def train_briefly(model, stream, epochs, bptt, name, clock):
    """A few epochs of character language modelling with TBPTT; returns the loss per update."""
    params = list(model.parameters())
    opt = optim.Adam(params, lr=3e-3)
    loss_fn = lambda logits, y: nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    trainer = rnn.TBPTT(model, loss_fn, opt, k1=bptt, clip_norm=1.0)
    losses = []
    dev = params[0].device
    for epoch in range(1, epochs + 1):
        trainer.reset_state()
        for x, y in rnn.data.lm_chunks(stream, bptt):
            losses += trainer.step(mg.tensor(x, device=dev), mg.tensor(y, device=dev))
        print(f"  {name:20s} epoch {epoch}  loss {np.mean(losses[-10:]):.3f}  ({clock():.1f}s)")
    return losses


def plot_profiles(profiles, path, steps):
    """Two panels (at init, after training): ||dL/dh_{T-k}|| / ||dL/dh_T|| against k, log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharey=True)
    for ax, stage in zip(axes, ("at initialisation", "after training")):
        for name, norms in profiles[stage].items():
            rel = norms[::-1] / norms[-1]  # index k: k steps before the end
            ax.semilogy(np.arange(steps), np.maximum(rel, 1e-300), label=name, linewidth=1.6)
        ax.set_title(stage)
        ax.set_xlabel("k (steps before the last)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("||dL/dh_{T-k}|| / ||dL/dh_T||")
    axes[0].legend()
    fig.suptitle(f"gradient reaching earlier steps, T = {steps}, loss on the last step only")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv=None):
    p = parser(__doc__, "vanishing_gradients", epochs=4)
    p.add_argument("--steps", type=int, default=200, help="sequence length T")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--embed", type=int, default=16)
    p.add_argument("--train-chars", type=int, default=40_000)
    p.add_argument("--bptt", type=int, default=50)
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.train_chars, args.epochs = 120, 8_000, 1
    seed_everything(args.seed)

    with open(data_path("tinyshakespeare.txt"), encoding="utf-8") as f:
        text = f.read()
    vocab = rnn.data.Vocab.from_text(text, specials=())
    train_stream = rnn.data.batchify(vocab.encode(text[:args.train_chars]), 32)
    probe = vocab.encode(text[-(args.steps + 1):])  # T + 1 characters the training never saw
    ks = [k for k in (1, 5, 10, 25, 50, 100, 150, 199) if k < args.steps]

    clock = Stopwatch()
    profiles = {"at initialisation": {}, "after training": {}}
    curves = {}
    for name, (layer_cls, kwargs) in MODELS.items():
        mg.manual_seed(args.seed)  # the same embedding, so the same input vectors, for every model
        model = CharModel(layer_cls, len(vocab), args.embed, args.hidden, **kwargs).to(device(args.device))
        profiles["at initialisation"][name] = gradient_profile(model, probe)
        curves[f"{name} loss"] = train_briefly(model, train_stream, args.epochs, args.bptt, name, clock)
        profiles["after training"][name] = gradient_profile(model, probe)

    ratios = {}
    for stage, by_model in profiles.items():
        print(f"\n||dL/dh_(T-k)|| / ||dL/dh_T||, {stage} (T = {args.steps}):")
        print(f"{'k':>22s}" + "".join(f"{k:>10d}" for k in ks))
        for name, norms in by_model.items():
            rel = norms[::-1] / norms[-1]
            ratios[(stage, name)] = rel
            print(f"{name:>22s}" + "".join(f"{rel[k]:10.1e}" for k in ks))

    k = 50 if args.steps > 50 else ks[-1]
    rnn_r = ratios[("after training", "RNN (tanh)")][k]
    lstm_r = ratios[("after training", "LSTM")][k]
    print(f"\n(measured in {clock():.1f}s)")
    print(f"RESULT vanishing_gradients: after training, gradient ratio at k={k}: RNN {rnn_r:.1e}, LSTM {lstm_r:.1e}, "
          f"GRU {ratios[('after training', 'GRU')][k]:.1e} (at initialisation: RNN "
          f"{ratios[('at initialisation', 'RNN (tanh)')][k]:.1e}, LSTM {ratios[('at initialisation', 'LSTM')][k]:.1e}, "
          f"LSTM forget_bias=1 {ratios[('at initialisation', 'LSTM, forget_bias=1')][k]:.1e})")
    png = plot_profiles(profiles, os.path.join(args.out, "gradient_norms.png"), args.steps)
    print(f"gradient curves written to {png}")
    png = mg.plot_curves(curves, os.path.join(args.out, "training_curve.png"), xlabel="update",
                         ylabel="cross-entropy (nats/char)", title="the short language-model training")
    print(f"training curve written to {png}")
    # ratio[stage][model][k] = ||dL/dh_(T-k)|| / ||dL/dh_T||, for k = 0 .. T-1
    return save_metrics(args.out, {"k": k, "ratio": {stage: {name: ratios[(stage, name)] for name in MODELS}
                                                       for stage in profiles}})


if __name__ == "__main__":
    main()
