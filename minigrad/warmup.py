"""Compile the numba kernels ahead of time: ``python -m minigrad.warmup``.

numba compiles each loop kernel the first time it is called with new argument types
(about 10 s for what a training run uses) and keeps the machine code in its disk cache,
so only a program's first run pays. This runs small versions of what training does
(elementwise ops and their gradients, reductions, losses, every optimizer, RNN/LSTM/GRU
layers in each configuration, forward and backward, in float32 and float64) so that the
first real run loads everything from the cache instead:

    python -m minigrad.warmup                     # everything, float32 and float64
    python -m minigrad.warmup --parts recurrent   # only the recurrent layers
    python -m minigrad.warmup --dtypes float32

It prints how many kernels it compiled and how long that took; a second run compiles
none. The cache lives next to minigrad's sources (or under ``NUMBA_CACHE_DIR``).
"""
import argparse
import os
import sys
import time

import numpy as np

PARTS = ("ops", "optim", "recurrent")


def _ops(mg, dtype):
    """Elementwise, reductions, shapes, losses, matmul: forward and backward."""
    from minigrad import nn
    rng = np.random.default_rng(0)
    a = mg.tensor(rng.standard_normal((4, 6)), dtype=dtype, requires_grad=True)
    b = mg.tensor(rng.random((4, 6)) + 0.5, dtype=dtype, requires_grad=True)
    y = (a + b) * (a - b) / b + a ** 2 + b.sqrt() + b.log() + a.exp() + a.abs() + a.tanh() + a.sigmoid()
    y = y + a.relu() + mg.leaky_relu(a) + a.clip(-1, 1) + mg.maximum(a, b) + mg.minimum(a, b)
    y = y + mg.where(a > 0, a, b) + mg.softmax(a, axis=-1) + mg.log_softmax(a, axis=-1)
    z = y.sum() + y.mean(axis=0).sum() + y.max(axis=1).sum() + y.min() + y.var(axis=1).sum()
    z = z + (a @ b.T).sum() + nn.functional.linear(a, b).sum() + mg.dropout(a, 0.5, training=True).sum()
    labels = mg.tensor(rng.integers(0, 6, 4))
    z = z + mg.cross_entropy(a, labels) + mg.mse_loss(a, b) + mg.l1_loss(a, b)
    z = z + mg.binary_cross_entropy_with_logits(a, (b > 1).astype(dtype))
    table = mg.tensor(rng.standard_normal((10, 3)), dtype=dtype, requires_grad=True)
    z = z + mg.embedding(mg.tensor(rng.integers(0, 10, (2, 5))), table).sum()
    z.backward()


def _optim(mg, dtype):
    """One step of every optimizer, with clipping."""
    from minigrad import nn, optim
    for make in (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
                 lambda p: optim.Adam(p, lr=1e-3), lambda p: optim.Adam(p, lr=1e-3, amsgrad=True),
                 lambda p: optim.AdamW(p, lr=1e-3), lambda p: optim.RMSprop(p, lr=1e-3, momentum=0.9, centered=True),
                 lambda p: optim.Adagrad(p, lr=1e-2)):
        model = nn.Linear(5, 3).to(dtype=dtype)
        opt = make(model.parameters())
        x = mg.tensor(np.ones((2, 5)), dtype=dtype)
        model(x).sum().backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


def _recurrent(mg, dtype):
    """RNN, LSTM and GRU layers: one and two layers, both directions, padded batches."""
    import rnn
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((3, 5, 4)), dtype=dtype, requires_grad=True)  # (B, T, F)
    for layer in (rnn.RNN, rnn.LSTM, rnn.GRU):
        for kwargs in (dict(), dict(num_layers=2, bidirectional=True)):
            net = layer(4, 6, batch_first=True, **kwargs).to(dtype=dtype)
            out, _ = net(x)
            out.sum().backward()
            out, _ = net(x, lengths=[5, 3, 2])
            out.sum().backward()


_WORK = {"ops": _ops, "optim": _optim, "recurrent": _recurrent}


def warmup(backend="numba", parts=PARTS, dtypes=("float32", "float64"), verbose=True):
    """Run the warm-up workloads on ``backend``; returns (kernels compiled, seconds)."""
    os.environ.setdefault("MINIGRAD_QUIET_COMPILE", "1")  # this reports the compilation itself
    import minigrad as mg
    from minigrad.backends.loops import _first_compile
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"warmup: unknown part(s) {unknown}; parts are {', '.join(PARTS)}")
    start, before = time.perf_counter(), _first_compile.compiles()
    with mg.backend(backend):
        for dtype in dtypes:
            for part in parts:
                if verbose:
                    print(f"  {part} ({dtype}) ...", flush=True)
                _WORK[part](mg, getattr(mg, dtype))
    return _first_compile.compiles() - before, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m minigrad.warmup", description=__doc__.strip().splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS, help="which workloads to run")
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=("float32", "float64"),
                   help="the dtypes to compile for")
    args = p.parse_args(argv)
    import minigrad as mg
    info = mg.available_backends().get("numba")
    if not (info and info["available"]):
        print(f"minigrad.warmup: the numba backend is not available here ({info and info['reason']}); "
              "nothing to compile", file=sys.stderr)
        return 1
    print(f"compiling minigrad's numba kernels for {', '.join(args.parts)} in {', '.join(args.dtypes)}:")
    compiled, seconds = warmup("numba", args.parts, args.dtypes)
    print(f"compiled {compiled} kernels in {seconds:.1f} s" if compiled else
          f"nothing to compile: every kernel was already in the cache ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
