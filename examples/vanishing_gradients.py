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

How the gradients are caught: ``rnn.inspect.hidden_grad_norms`` runs the layer's own
cell equations one step at a time on a float64 copy of its weights, so that every h_t
is a tensor of its own, keeps each one's gradient (``retain_grad``) and backpropagates
the loss once: h_t.grad is then the *total* gradient of the loss w.r.t. h_t (every path
through later steps summed). Float64, so that tiny gradients show up as tiny numbers
rather than as 0. During training the gradient norm of every layer is recorded after
each update's backward (``rnn.inspect.parameter_grad_norms(model, per="layer")``, after
clipping), and ``mg.plot.plot_grad_norms`` draws both.

    python examples/vanishing_gradients.py [--epochs 4] [--steps 200] [--out results/vanishing_gradients]

Prints a table of ||dL/dh_{T-k}|| / ||dL/dh_T|| for several k, before and after
training, and plots the curves on a log scale; a few seconds on 2 CPU cores.
"""
import os

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, device, parser, save_metrics, seed_everything

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

    ids: (T + 1,) character ids, read as a batch of one; measured in float64 on the CPU
    (a float64 copy of the read-out too). Returns norms (T,).
    """
    head = nn.Linear(model.rnn.hidden_size, model.head.out_features, dtype=mg.float64)
    head.load_state_dict(model.head.state_dict())
    x = mg.tensor(model.embed.weight.numpy()[ids[:-1]], dtype=mg.float64)[:, None]  # (T, 1, E)
    loss_fn = lambda out, y: nn.functional.cross_entropy(head(out[-1]), y)
    return rnn.inspect.hidden_grad_norms(model.rnn, x, loss_fn, mg.tensor(ids[-1:]), dtype=mg.float64)


def train_briefly(model, stream, epochs, bptt, name, clock):
    """A few epochs of character language modelling with TBPTT.

    Returns the loss per update and the recurrent layer's gradient norm per update."""
    params = list(model.parameters())
    opt = optim.Adam(params, lr=3e-3)
    loss_fn = lambda logits, y: nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    trainer = rnn.TBPTT(model, loss_fn, opt, k1=bptt, clip_norm=1.0)
    losses, grad_norms = [], []
    dev = params[0].device
    for epoch in range(1, epochs + 1):
        trainer.reset_state()
        for x, y in rnn.data.lm_chunks(stream, bptt):
            losses += trainer.step(mg.tensor(x, device=dev), mg.tensor(y, device=dev))
            # one update per chunk (k1 = bptt): its gradients are still in .grad
            grad_norms.append(rnn.inspect.parameter_grad_norms(model, per="layer")["rnn.l0"])
        print(f"  {name:20s} epoch {epoch}  loss {np.mean(losses[-10:]):.3f}  ({clock():.1f}s)")
    return losses, grad_norms


def main(argv=None):
    p = parser(__doc__, "vanishing_gradients", epochs=4)
    p.add_argument("--steps", type=int, default=200, help="sequence length T")
    p.add_argument("--hidden", type=int, default=64, help="hidden units of each recurrent layer")
    p.add_argument("--embed", type=int, default=16, help="character-embedding size")
    p.add_argument("--train-chars", type=int, default=40_000, help="characters of Shakespeare to train on")
    p.add_argument("--bptt", type=int, default=50, help="characters per TBPTT update")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.train_chars, args.epochs = 120, 8_000, 1
    seed_everything(args.seed)

    text = rnn.datasets.load_shakespeare()
    vocab = rnn.data.Vocab.from_text(text, specials=())
    train_stream = rnn.data.batchify(vocab.encode(text[:args.train_chars]), 32)
    probe = vocab.encode(text[-(args.steps + 1):])  # T + 1 characters the training never saw
    ks = [k for k in (1, 5, 10, 25, 50, 100, 150, 199) if k < args.steps]

    clock = Stopwatch()
    profiles = {"at initialisation": {}, "after training": {}}
    curves, layer_norms = {}, {}
    for name, (layer_cls, kwargs) in MODELS.items():
        mg.manual_seed(args.seed)  # the same embedding, so the same input vectors, for every model
        model = CharModel(layer_cls, len(vocab), args.embed, args.hidden, **kwargs).to(device(args.device))
        profiles["at initialisation"][name] = gradient_profile(model, probe)
        curves[f"{name} loss"], layer_norms[f"{name}: rnn"] = train_briefly(model, train_stream, args.epochs,
                                                                             args.bptt, name, clock)
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
    png = os.path.join(args.out, "gradient_norms.png")
    stages = list(profiles)
    mg.plot.plot_grad_norms({name: np.stack([profiles[s][name] for s in stages]) for name in MODELS}, layer_norms,
                            png, relative=True, stages=stages,
                            title=f"vanishing gradients: T = {args.steps}, loss on the last step only")
    print(f"gradient curves written to {png}")
    png = mg.plot_curves(curves, os.path.join(args.out, "training_curve.png"), xlabel="update",
                         ylabel="cross-entropy (nats/char)", title="the short language-model training")
    print(f"training curve written to {png}")
    # ratio[stage][model][k] = ||dL/dh_(T-k)|| / ||dL/dh_T||, for k = 0 .. T-1
    return save_metrics(args.out, {"k": k, "ratio": {stage: {name: ratios[(stage, name)] for name in MODELS}
                                                       for stage in profiles}})


if __name__ == "__main__":
    main()
