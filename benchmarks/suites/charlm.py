"""char-LM suite: one training step of the text-generation model, minigrad vs PyTorch on the CPU.

The model of ``examples/text_generation.py`` at the size the tutorials train: Embedding
65 -> 64, one LSTM layer of 256, Linear 256 -> 65; a batch of B = 32 windows of T = 100
characters, full BPTT, mean cross-entropy, gradient clipping at norm 5, Adam at 2e-3.
A step is forward, backward, clipping, the optimizer step and ``loss.item()``: what a
training loop does per batch.

minigrad runs here, once per CPU backend asked for (``--backends``; the interpreted
python backend is left out: minutes per step); PyTorch runs in a child process of its
own with ``torch.set_num_threads`` = this machine's cores (``harness.ChildProcess``: two
frameworks' spinning thread pools in one process slow each other, see the rnn suite),
and its rounds take turns with minigrad's, after ``SETTLE_S`` for the other's threads
to go quiet. Reported: ms per step, steps per second, and PyTorch's time / minigrad's.

For benchmarks, unset this machine's ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` in that
command only (users do not have them); the JSON records which OpenBLAS kernel ran.
"""
import os
import sys

import numpy as np

from .. import harness
from . import rnn as rnn_suite

NAME = "charlm"
DESCRIPTION = "char-LSTM training step (Embedding 65->64, LSTM 256, Linear, B=32, T=100, Adam, clip 5) vs PyTorch"
MODEL = dict(vocab=65, embed=64, hidden=256, batch=32, steps=100, lr=2e-3, clip=5.0)
GOAL = 1.3  # minigrad's steps/s over PyTorch's


def _data(m, seed=0):
    """A fixed batch: (T, B) random characters and their (T, B) targets."""
    rng = np.random.default_rng(seed)
    shape = (m["steps"], m["batch"])
    return rng.integers(0, m["vocab"], shape), rng.integers(0, m["vocab"], shape)


def minigrad_model(device="cpu", m=None):
    """The model on ``device`` (the active backend's kernels on the CPU), fresh from seed 0:
    ``(step(x, y), evaluate(x, y))`` for (T, B) int arrays of characters and next characters,
    each returning the mean loss; ``step`` also trains (backward, clipping, Adam)."""
    import minigrad as mg
    import rnn
    from minigrad import nn, optim
    m = m or MODEL
    mg.manual_seed(0)

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(m["vocab"], m["embed"])
            self.lstm = rnn.LSTM(m["embed"], m["hidden"])
            self.head = nn.Linear(m["hidden"], m["vocab"])

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.head(out)

    model = CharLSTM().to(device)
    opt = optim.Adam(model.parameters(), lr=m["lr"])
    params = list(model.parameters())

    def loss_of(x, y):
        return mg.cross_entropy(model(x).reshape(-1, m["vocab"]), y.reshape(-1))

    def step(x, y):
        loss = loss_of(x, y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, m["clip"])
        opt.step()
        return loss.item()  # (on a GPU: the step's one device -> host copy, which also synchronises)

    def evaluate(x, y):
        with mg.no_grad():
            return loss_of(x, y).item()
    return step, evaluate


def torch_model(m=None):
    """The same model, step and evaluation in PyTorch (CPU), fresh from seed 0."""
    import torch
    m = m or MODEL
    torch.manual_seed(0)
    embed, lstm, head = (torch.nn.Embedding(m["vocab"], m["embed"]), torch.nn.LSTM(m["embed"], m["hidden"]),
                         torch.nn.Linear(m["hidden"], m["vocab"]))
    params = [p for mod in (embed, lstm, head) for p in mod.parameters()]
    opt = torch.optim.Adam(params, lr=m["lr"])

    def loss_of(x, y):
        logits = head(lstm(embed(torch.from_numpy(x)))[0])
        return torch.nn.functional.cross_entropy(logits.reshape(-1, m["vocab"]), torch.from_numpy(y).reshape(-1))

    def step(x, y):
        loss = loss_of(x, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, m["clip"])
        opt.step()
        return loss.item()

    def evaluate(x, y):
        with torch.no_grad():
            return loss_of(x, y).item()
    return step, evaluate


def _on_fixed_batch(step, m):
    tokens, targets = _data(m or MODEL)
    return lambda: step(tokens, targets)


def minigrad_step(device="cpu", m=None):
    """One training step of the model on ``device`` on a fixed batch: a zero-argument callable."""
    return _on_fixed_batch(minigrad_model(device, m)[0], m)


def torch_step(m=None):
    """The same step in PyTorch (CPU)."""
    return _on_fixed_batch(torch_model(m)[0], m)


def torch_child(model_json):
    """The child side: build the PyTorch step, greet, then answer timed rounds."""
    import json
    try:
        import torch
    except ImportError as e:
        harness.reply({"error": str(e)})
        return
    torch.set_num_threads(os.cpu_count() or 1)
    step = torch_step(json.loads(model_json))
    harness.reply({"torch": torch.__version__, "threads": torch.get_num_threads(), "loss": step()})
    harness.answer_commands(lambda: step)


def run(config):
    import json

    import minigrad as mg
    m = dict(MODEL)
    fns, before, last = {}, {}, {}
    available = mg.available_backends()
    for name in config.backends:
        info = available.get(name, {})
        if name == "python" or not info.get("available") or info.get("device") != "cpu":
            continue
        label = f"minigrad[{name}]"
        fns[label] = minigrad_step("cpu", m)
        before[label] = rnn_suite.settling("minigrad", last, (lambda n: lambda: mg.set_backend(n))(name))
    child = None
    try:
        child = harness.ChildProcess([sys.executable, "-m", "benchmarks.suites.charlm", "--torch-child",
                                      json.dumps(m)], os.path.join(config.out_dir, "charlm-torch.log"),
                                     "the PyTorch process")
        config.log(f"[charlm] PyTorch {child.info['torch']} with {child.info['threads']} threads")
        fns["torch"], before["torch"] = child.remote(), rnn_suite.settling("torch", last)
    except (RuntimeError, OSError) as e:
        config.log(f"[charlm] no PyTorch column: {e}")
    previous = mg.get_backend().name
    try:
        t = harness.measure(fns, repeats=config.repeats, min_round_s=config.min_round_s,
                            max_seconds=config.max_seconds * 4, before_round=before)
    finally:
        mg.set_backend(previous)
        if child is not None:
            child.close()
    base = t["torch"].median if "torch" in t else None
    shape = (m["batch"], m["steps"], m["embed"], m["hidden"])
    paths = {impl: rnn_suite.recurrent_path(impl[9:-1], "lstm", m["batch"], m["hidden"])
             for impl in t if impl.startswith("minigrad[")}
    records = [harness.record(NAME, "train step", impl, shape, "float32", timing, ms_per_step=timing.median * 1e3,
                              steps_per_s=1 / timing.median,
                              speed_vs_torch=None if base is None else base / timing.median,
                              recurrent_path=paths.get(impl))
               for impl, timing in t.items()]
    config.log("[charlm] " + ", ".join(f"{k} {v.median * 1e3:.1f} ms" for k, v in t.items()))
    for impl, path in paths.items():
        if path:
            config.log(f"[charlm] {impl}: the LSTM recurrence runs {path}")
    return records


def report(records):
    if not records:
        return "charlm: no records"
    rows = [[r["backend"], f"{r['ms_per_step']:.1f}", f"{r['steps_per_s']:.1f}",
             "-" if r["speed_vs_torch"] is None else harness.fmt_ratio(r["speed_vs_torch"])] for r in records]
    lines = ["char-LSTM training step (B=32, T=100, Embedding 65->64, LSTM 256, Linear 256->65, Adam, clip 5), "
             "median of the rounds; xtorch = PyTorch's time / this one's",
             harness.format_table(["impl", "ms/step", "steps/s", "xtorch"], rows)]
    for r in records:
        if r["backend"].startswith("minigrad") and r["speed_vs_torch"] is not None:
            ok = r["speed_vs_torch"] >= GOAL
            lines.append(f"  [{'met' if ok else 'NOT met'}] {r['backend']} >= {GOAL}x PyTorch's steps/s: "
                         f"{r['speed_vs_torch']:.2f}x")
    return "\n".join(lines)


def plot(records, out_dir):
    plt = harness.pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    names = [r["backend"] for r in records]
    ax.barh(names, [r["steps_per_s"] for r in records], color=[harness.color(n, i) for i, n in enumerate(names)])
    ax.set_xlabel("training steps per second")
    ax.set_title("char-LSTM step (B=32, T=100, H=256), CPU", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return [harness.save_figure(fig, out_dir, "charlm.png")]


if __name__ == "__main__" and sys.argv[1:2] == ["--torch-child"]:
    torch_child(sys.argv[2])
