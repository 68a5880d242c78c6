"""An RNN from scratch: the tutorial's NumPy class with BPTT by hand, the same model in
minigrad (gradients checked), and what JIT compilation buys, measured.

(a) The tutorial's ``SimpleRNN`` class, NumPy only, one sequence at a time in column
    vectors (x_t (I, 1), h_t (H, 1)):

        h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)        y_t = W_hy h_t + b_y

    The tutorial stops at the forward pass; ``backward`` adds backpropagation through
    time by hand and ``sgd_step`` a plain gradient step. Task: echo the input from
    ``--delay`` steps back (x_t uniform in [-1, 1], target x_{t-delay}, 0 before the
    start), which only a network that carries information from step to step can do.
    Trained by SGD, one sequence per step; baseline: predicting 0, the targets' mean.

(b) The same model in minigrad, twice: ``rnn.RNNCell`` called step by step (autograd
    derives the backward from the ops) and ``rnn.RNN``, the fused layer (the whole
    recurrence and its BPTT in one kernel call), each with an ``nn.Linear`` read-out.
    From the class's weights, in float64: their gradients are checked against finite
    differences (``mg.gradcheck``) and against the hand-written BPTT; a few SGD steps
    taken by both end at the same weights.

(c) One forward + backward of the fused model, timed on minigrad's "numpy" backend
    (vectorised), "numba" (loop kernels compiled by numba's JIT) and "python" (the very
    same loop functions, not compiled), and by the hand-written class: medians of
    ``--repeats`` calls, at the trained size and at a larger one. The numba backend
    compiles each kernel on its first call and caches the machine code on disk; that
    first call is timed apart, in fresh processes: with an empty cache (compiling) and
    with the cache filled (loading).

    python examples/from_scratch.py [--epochs 20] [--delay 2] [--out results/from_scratch]

Prints the training, the gradient checks and a timing table; writes training.png and
timings.png. Takes about 30 s on 2 CPU cores, a third of it numba compiling in a fresh
process with an empty cache.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import timeit

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim

from _common import Stopwatch, device, parser, save_metrics, seed_everything


# ------------------------------------------------------------ (a) NumPy
class SimpleRNN:
    """The tutorial's class: ``__init__`` and ``forward`` as it writes them (``forward`` also
    keeps what backward needs); ``backward`` and ``sgd_step`` added."""

    def __init__(self, input_dim, hidden_dim, output_dim):
        # 初始化权重和偏置 (initialise the weights and biases)
        self.Wxh = np.random.randn(hidden_dim, input_dim) * 0.01
        self.Whh = np.random.randn(hidden_dim, hidden_dim) * 0.01
        self.Why = np.random.randn(output_dim, hidden_dim) * 0.01
        self.bh = np.zeros((hidden_dim, 1))
        self.by = np.zeros((output_dim, 1))

    def forward(self, inputs):
        h = np.zeros((self.Whh.shape[0], 1))  # 初始化隐藏状态 (initial hidden state)
        self.inputs, self.hs = inputs, [h]  # added: the inputs and every h_t, for backward
        y = []
        for t in range(len(inputs)):
            h = np.tanh(np.dot(self.Wxh, inputs[t]) + np.dot(self.Whh, h) + self.bh)
            y_t = np.dot(self.Why, h) + self.by
            y.append(y_t)
            self.hs.append(h)  # added
        return y, h

    def backward(self, dys):
        """BPTT: given dL/dy_t (O, 1) for every step, the gradient of every parameter.

        Walking back from the last step, the gradient reaching h_t has two sources, the
        output at t and the step after it (which used h_t):
            dh_t = W_hy^T dy_t + W_hh^T da_{t+1}
            da_t = (1 - h_t^2) * dh_t                      (through the tanh)
        and each parameter collects the sum over steps of its local gradient:
            dW_hy += dy_t h_t^T    db_y += dy_t
            dW_xh += da_t x_t^T    dW_hh += da_t h_{t-1}^T    db_h += da_t
        """
        grads = {name: np.zeros_like(getattr(self, name)) for name in ("Wxh", "Whh", "Why", "bh", "by")}
        da_next = np.zeros_like(self.hs[0])
        for t in reversed(range(len(self.inputs))):
            h, h_prev = self.hs[t + 1], self.hs[t]
            grads["Why"] += np.dot(dys[t], h.T)
            grads["by"] += dys[t]
            dh = np.dot(self.Why.T, dys[t]) + np.dot(self.Whh.T, da_next)
            da = (1 - h * h) * dh
            grads["Wxh"] += np.dot(da, self.inputs[t].T)
            grads["Whh"] += np.dot(da, h_prev.T)
            grads["bh"] += da
            da_next = da
        return grads

    def sgd_step(self, grads, lr):
        for name, g in grads.items():
            setattr(self, name, getattr(self, name) - lr * g)


def mse_and_grads(y, targets):
    """L = mean over steps and outputs of (y_t - target_t)^2, and dL/dy_t = 2 (y_t - target_t) / (T O)."""
    n = len(y) * y[0].size
    return (sum(float(((yt - dt) ** 2).sum()) for yt, dt in zip(y, targets)) / n,
            [2 * (yt - dt) / n for yt, dt in zip(y, targets)])


def echo_task(rng, steps, delay):
    """inputs x_t (1, 1) uniform in [-1, 1] and targets x_{t-delay} (0 for t < delay), T = steps."""
    x = rng.uniform(-1, 1, (steps, 1, 1))
    d = np.zeros_like(x)
    d[delay:] = x[:-delay]
    return list(x), list(d)


def train_numpy(args):
    """SGD on one sequence at a time, ``--epochs`` passes over a fixed training set; the mean
    loss on held-out sequences after each epoch."""
    rng = np.random.default_rng(args.seed)
    train = [echo_task(rng, args.seq_len, args.delay) for _ in range(args.sequences)]
    held_out = [echo_task(rng, args.seq_len, args.delay) for _ in range(200)]
    model = SimpleRNN(1, args.hidden, 1)
    baseline = (args.seq_len - args.delay) / args.seq_len / 3  # E[x^2] = 1/3 on the steps with a target
    print(f"=== (a) the NumPy class, BPTT by hand: echo the input from {args.delay} steps back "
          f"({args.sequences} training sequences of {args.seq_len} steps, hidden {args.hidden}, SGD lr {args.lr})")
    print(f"baseline (predict 0, the targets' mean): MSE {baseline:.4f}")
    losses, val_losses, clock = [], [], Stopwatch()
    for epoch in range(args.epochs):
        for i in rng.permutation(len(train)):
            x, d = train[i]
            y, _ = model.forward(x)
            loss, dys = mse_and_grads(y, d)
            model.sgd_step(model.backward(dys), args.lr)
            losses.append(loss)
        val_losses.append(float(np.mean([mse_and_grads(model.forward(x)[0], d)[0] for x, d in held_out])))
        print(f"epoch {epoch + 1:3d}  train loss {np.mean(losses[-len(train):]):.5f}  "
              f"held-out loss {val_losses[-1]:.5f}  ({clock():.1f}s)")
    png = os.path.join(args.out, "training.png")
    per_step = [(k / len(train), v) for k, v in enumerate(losses, 1)]
    mg.plot.plot_history({"loss": per_step, "held-out loss": val_losses,
                          # one point per epoch, like the held-out curve (which is then drawn as it is, not smoothed)
                          "predicting 0 (loss)": [(e, baseline) for e in range(args.epochs + 1)]}, png,
                         best=None, xlabel="epoch", ylabel="MSE", logy=True,
                         title=f"the tutorial's RNN, trained by hand: echo from {args.delay} steps back")
    print(f"held-out loss {val_losses[-1]:.5f} vs {baseline:.4f} for predicting 0; training curve written to {png}")
    return model, {"final_loss": val_losses[-1], "baseline_loss": baseline, "val_loss_per_epoch": val_losses,
                   "train_loss_per_epoch": [float(np.mean(losses[k:k + len(train)]))
                                            for k in range(0, len(losses), len(train))]}


# ----------------------------------------------------------- (b) minigrad
class CellModel(nn.Module):
    """The same model from ``rnn.RNNCell``, one call per step; x (T, B, I) -> y (T, B, O)."""

    recurrent = rnn.RNNCell

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.rnn = self.recurrent(input_size, hidden_size)
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h, ys = None, []
        for t in range(x.shape[0]):
            h = self.rnn(x[t], h)
            ys.append(self.out(h))
        return mg.stack(ys)


class FusedModel(CellModel):
    """The same model from ``rnn.RNN``: the whole recurrence in one fused kernel call."""

    recurrent = rnn.RNN

    def forward(self, x):
        hs, _ = self.rnn(x)  # (T, B, H)
        return self.out(hs)


def from_numpy(cls, np_model, dtype=mg.float64):
    """A minigrad model with the NumPy class's weights. The class has one bias b_h where the
    cell has two (b_ih + b_hh): b_ih = b_h, b_hh = 0, and both get b_h's gradient."""
    H, I = np_model.Wxh.shape
    model = cls(I, H, np_model.Why.shape[0]).to(dtype=dtype)
    suffix = "_l0" if cls is FusedModel else ""  # a layer's parameters are per layer: weight_ih_l0, ...
    weights = {f"rnn.weight_ih{suffix}": np_model.Wxh, f"rnn.weight_hh{suffix}": np_model.Whh,
               f"rnn.bias_ih{suffix}": np_model.bh[:, 0], f"rnn.bias_hh{suffix}": np.zeros(H),
               "out.weight": np_model.Why, "out.bias": np_model.by[:, 0]}
    model.load_state_dict({k: np.asarray(v, dtype=np.dtype(dtype)) for k, v in weights.items()})
    return model


def minigrad_grads(model, x, d):
    """(loss, {NumPy name: gradient in the class's shapes}) after one forward and backward."""
    model.zero_grad()
    loss = nn.functional.mse_loss(model(mg.tensor(x, dtype=mg.float64)), mg.tensor(d, dtype=mg.float64))
    loss.backward()
    g = {n.split(".")[-1]: p.grad.numpy() for n, p in model.named_parameters()}
    g = {k.replace("_l0", ""): v for k, v in g.items()}
    return loss.item(), {"Wxh": g["weight_ih"], "Whh": g["weight_hh"], "bh": g["bias_ih"][:, None],
                         "Why": g["weight"], "by": g["bias"][:, None]}


def check_gradients(np_model, args):
    """Gradcheck both minigrad models, compare their gradients with the hand-written BPTT, and
    take a few SGD steps with both: the largest differences found."""
    print("\n=== (b) the same model in minigrad, float64, from the class's weights")
    rng = np.random.default_rng(args.seed + 1)
    x, d = echo_task(rng, args.seq_len, args.delay)
    y, _ = np_model.forward(x)
    np_loss, dys = mse_and_grads(y, d)
    np_grads = np_model.backward(dys)
    xs, ds = np.stack(x)[:, :, 0][:, None], np.stack(d)[:, :, 0][:, None]  # (T, B=1, 1)
    found = {}
    for cls in (CellModel, FusedModel):
        model = from_numpy(cls, np_model)
        inputs = mg.tensor(xs[:6], dtype=mg.float64), mg.tensor(ds[:6], dtype=mg.float64)  # 6 steps: quick
        passed = mg.gradcheck(lambda *params: nn.functional.mse_loss(model(inputs[0]), inputs[1]),
                              list(model.parameters()))
        loss, grads = minigrad_grads(model, xs, ds)
        diff = max(float(np.abs(grads[k] - np_grads[k]).max()) for k in np_grads)
        scale = max(float(np.abs(g).max()) for g in np_grads.values())
        print(f"{cls.__name__:10s} gradcheck (finite differences): {'passed' if passed else 'FAILED'}; "
              f"loss {loss:.12f} vs NumPy's {np_loss:.12f}; largest gradient difference from the hand-written "
              f"BPTT {diff:.1e} (gradients up to {scale:.1e})")
        found[cls.__name__] = {"gradcheck": bool(passed), "max_grad_diff": diff, "loss_diff": abs(loss - np_loss)}
    # SGD with both, from the same weights: same updates, same weights after them
    np_copy = SimpleRNN.__new__(SimpleRNN)
    np_copy.__dict__ = {k: v.copy() for k, v in np_model.__dict__.items() if isinstance(v, np.ndarray)}
    model = from_numpy(FusedModel, np_copy)
    # b_hh stays 0: b_ih alone plays b_h (stepping both would move b_ih + b_hh twice as far)
    opt = optim.SGD([p for n, p in model.named_parameters() if n != "rnn.bias_hh_l0"], lr=args.lr)
    for _ in range(20):
        x, d = echo_task(rng, args.seq_len, args.delay)
        y, _ = np_copy.forward(x)
        np_copy.sgd_step(np_copy.backward(mse_and_grads(y, d)[1]), args.lr)
        minigrad_grads(model, np.stack(x)[:, :, 0][:, None], np.stack(d)[:, :, 0][:, None])
        opt.step()
    state = model.state_dict()
    pairs = (("rnn.weight_ih_l0", np_copy.Wxh), ("rnn.weight_hh_l0", np_copy.Whh), ("rnn.bias_ih_l0", np_copy.bh[:, 0]),
             ("out.weight", np_copy.Why), ("out.bias", np_copy.by[:, 0]))
    weight_diff = max(float(np.abs(state[k] - v).max()) for k, v in pairs)
    print(f"20 SGD steps each (NumPy by hand, minigrad's fused model): largest weight difference {weight_diff:.1e}")
    found["sgd_weight_diff"] = weight_diff
    return found


# ------------------------------------------------------------- (c) timing
def fused_step(hidden, steps, seed=0):
    """One forward + backward of the fused float32 model on one sequence: a function to time."""
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    model = from_numpy(FusedModel, SimpleRNN(1, hidden, 1), dtype=mg.float32)
    x = mg.tensor(rng.uniform(-1, 1, (steps, 1, 1)), dtype=mg.float32)
    d = mg.tensor(rng.uniform(-1, 1, (steps, 1, 1)), dtype=mg.float32)

    def step():
        model.zero_grad()
        nn.functional.mse_loss(model(x), d).backward()
    return step


def numpy_step(hidden, steps, seed=0):
    """One forward + backward of the tutorial's class (float64, as it computes)."""
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    model = SimpleRNN(1, hidden, 1)
    x, d = list(rng.uniform(-1, 1, (steps, 1, 1))), list(rng.uniform(-1, 1, (steps, 1, 1)))

    def step():
        y, _ = model.forward(x)
        model.backward(mse_and_grads(y, d)[1])
    return step


def median_time(fn, repeats):
    """Median seconds of ``repeats`` calls of fn (after one call that is not counted)."""
    fn()
    return float(np.median(timeit.repeat(fn, number=1, repeat=repeats)))


def first_call(backend, hidden, steps):
    """Run in a fresh process: seconds of the first forward + backward, and the median of the next three."""
    with mg.backend(backend):
        step = fused_step(hidden, steps)
        t0 = time.perf_counter()
        step()
        first = time.perf_counter() - t0
        then = median_time(step, 3)
    print(json.dumps({"first": first, "then": then}))


def fresh_process_first_call(backend, hidden, steps, cache_dir):
    """``first_call`` in a new interpreter whose numba cache is ``cache_dir``."""
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import from_scratch; from_scratch.first_call({backend!r}, {hidden}, {steps})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_CACHE_DIR=cache_dir))
    if done.returncode:
        raise RuntimeError(f"first call on {backend} in a fresh process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_backends(args):
    print(f"\n=== (c) one forward + backward, float32 (the class: float64), median of {args.repeats} calls")
    backends = [b for b in ("numpy", "numba", "python") if mg.available_backends().get(b, {}).get("available")]
    sizes = [(args.hidden, args.seq_len), (args.time_hidden, args.time_steps)]
    records, table = [], []
    for hidden, steps in sizes:
        case = f"H={hidden}, T={steps}"
        row = {"case": case}
        for name in backends:
            with mg.backend(name):
                row[name] = median_time(fused_step(hidden, steps), args.repeats)
        row["NumPy class"] = median_time(numpy_step(hidden, steps), args.repeats)
        table.append(row)
        records += [{"case": case, "backend": k, "seconds": v} for k, v in row.items() if k != "case"]
    first = {}
    if args.compile_timing and "numba" in backends:
        hidden, steps = sizes[-1]
        with tempfile.TemporaryDirectory(prefix="from-scratch-numba-") as cache:
            first["numba, empty cache (compiles)"] = fresh_process_first_call("numba", hidden, steps, cache)
            first["numba, cache filled (loads)"] = fresh_process_first_call("numba", hidden, steps, cache)
        for name in ("numpy", "python"):
            first[name] = fresh_process_first_call(name, hidden, steps, tempfile.gettempdir())
    names = backends + ["NumPy class"]
    print(f"{'model size':16s}" + "".join(f"{n:>14s}" for n in names))
    for row in table:
        print(f"{row['case']:16s}" + "".join(f"{row[n] * 1e3:11.2f} ms" for n in names))
    for row in table:
        if "numba" in row and "python" in row:
            print(f"{row['case']}: numba is {row['python'] / row['numba']:.0f}x faster than the same loops uncompiled "
                  f"(python), {row['numpy'] / row['numba']:.1f}x numpy's")
    if first:
        print(f"first call in a fresh process ({sizes[-1][0]} hidden, {sizes[-1][1]} steps), then the next calls "
              "(median of 3):")
        for name, t in first.items():
            print(f"  {name:32s} first {t['first'] * 1e3:9.1f} ms   then {t['then'] * 1e3:8.2f} ms")
        compile_s = first["numba, empty cache (compiles)"]["first"] - first["numba, cache filled (loads)"]["first"]
        print(f"compiling the kernels this model uses took about {compile_s:.1f}s, once per machine (then cached)")
        records += [{"case": f"first call, H={sizes[-1][0]}", "backend": name, "seconds": t["first"]}
                    for name, t in first.items()]
    else:
        print("first-call (compile) timing: not measured (--quick, or numba is not available)")
    png = os.path.join(args.out, "timings.png")
    mg.plot.plot_benchmark(records, png, baseline="numpy", figsize=(9.5, 4.5),
                           title="one forward + backward, speed-up over the numpy backend")
    print(f"bar chart written to {png}")
    return {"steady": table, "first_call": first}


def main(argv=None):
    p = parser(__doc__, "from_scratch", epochs=20)
    p.add_argument("--sequences", type=int, default=1000,
                   help="training sequences; an epoch is one SGD step on each, in a new random order")
    p.add_argument("--delay", type=int, default=2, help="the task: echo the input from this many steps back")
    p.add_argument("--seq-len", type=int, default=20, help="steps per training sequence")
    p.add_argument("--hidden", type=int, default=16, help="hidden units of the trained model")
    p.add_argument("--lr", type=float, default=0.1, help="SGD step size")
    p.add_argument("--time-hidden", type=int, default=64, help="hidden units of the larger model timed in (c)")
    p.add_argument("--time-steps", type=int, default=100, help="sequence length of the larger model timed in (c)")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per backend (the median is reported)")
    p.add_argument("--no-compile-timing", dest="compile_timing", action="store_false",
                   help="skip timing the first calls in fresh processes (numba's compilation)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.sequences, args.time_hidden, args.time_steps, args.repeats = 1, 300, 32, 40, 3
        args.compile_timing = False
    if device(args.device) != "cpu":
        raise SystemExit("--device cuda: from_scratch.py compares the CPU backends (numpy, numba, python); it has "
                         "no GPU part")
    seed_everything(args.seed)
    os.makedirs(args.out, exist_ok=True)
    clock = Stopwatch()
    np_model, trained = train_numpy(args)
    checks = check_gradients(np_model, args)
    timings = time_backends(args)
    print(f"done in {clock():.0f}s")
    big = timings["steady"][-1]
    speed = f"numba {big['python'] / big['numba']:.0f}x the uncompiled loops" if "numba" in big else "numba n/a"
    print(f"RESULT from_scratch: echo loss {trained['final_loss']:.5f} vs {trained['baseline_loss']:.4f} for "
          f"predicting 0; gradients equal to the hand-written BPTT within {checks['FusedModel']['max_grad_diff']:.0e}; "
          f"{speed} ({big['case']})")
    return save_metrics(args.out, {"training": trained, "gradients": checks, "timing": timings,
                                   "config": {k: v for k, v in vars(args).items() if k != "out"}})


if __name__ == "__main__":
    main()
