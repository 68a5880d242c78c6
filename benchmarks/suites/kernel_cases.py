"""The kernel suite's cases: each kernel of the kernel set with realistic inputs.

A case names the kernel, its family (for the plots) and builds the kernel's argument
tuple for a (rows, cols) shape; ``kernels.py`` times the cases, ``kernels_plot.py``
draws them.
"""
import dataclasses
import inspect
from typing import Callable, Optional

import numpy as np

SEED = 1234


# ------------------------------------------------------------------ cases
@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark case.

    ``build(shape, dtype, rng)`` returns the kernel's argument tuple for a (rows, cols)
    ``shape``; ``work(shape)`` estimates inner-loop iterations (it caps the python
    backend); ``flops(shape)``, if given, makes throughput GFLOP/s instead of elements/s.
    ``inplace`` kernels (optimizer steps) are checked on their first argument.
    ``resolve(backend_name, backend)`` overrides how the callable is found (used for
    the hand-written matmul loop, which is not in the kernel set).
    """
    name: str
    kernel: str
    family: str
    build: Callable
    work: Callable = lambda s: s[0] * s[1]
    flops: Optional[Callable] = None
    inplace: bool = False
    check: bool = True
    resolve: Optional[Callable] = None


def _randn(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _x(scale=1.0):
    return lambda s, dt, rng: (_randn(rng, s, dt, scale),)


def _saved_g(saved):
    """Inputs for a fused backward kernel: (what forward saved, upstream gradient g)."""
    def build(s, dt, rng):
        x = _randn(rng, s, dt, 2.0)
        return saved(x), _randn(rng, s, dt)
    return build


def _np_tanh(x):
    return np.tanh(x)


def _np_sigmoid(x):
    return (0.5 * np.tanh(0.5 * x) + 0.5).astype(x.dtype)


def _np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


def _np_log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(x.dtype)


def _targets(rng, n, c):
    return rng.integers(0, c, size=n).astype(np.int64)


def _vocab(s):
    """Embedding/scatter size: a quarter as many rows as lookups, so indices repeat ~4x."""
    return max(1, s[0] // 4)


def _scatter_args(s, dt, rng):
    v = _vocab(s)
    idx = rng.integers(0, v, size=s[0]).astype(np.int64)  # repeated indices: must accumulate
    return (v, s[1]), idx, _randn(rng, s, dt), dt, True


def _embedding_args(s, dt, rng):
    v = _vocab(s)
    return rng.integers(0, v, size=s[0]).astype(np.int64), _randn(rng, s, dt), v, None


def _sgd_args(s, dt, rng):
    # lr, momentum, dampening, nesterov, weight_decay, maximize, first
    return _randn(rng, s, dt), _randn(rng, s, dt), _randn(rng, s, dt), 0.01, 0.9, 0.0, False, 0.0, False, False


def _adam_args(s, dt, rng):
    g = _randn(rng, s, dt)
    # m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled (AdamW), maximize
    return (_randn(rng, s, dt), g, 0.1 * g, (g * g).astype(dt), None, 10, 1e-3, 0.9, 0.999, 1e-8,
            0.01, True, False)


def _rmsprop_args(s, dt, rng):
    g = _randn(rng, s, dt)
    # sq, buf (None: no momentum), gavg (None: not centered), lr, alpha, eps, weight_decay, momentum, maximize
    return _randn(rng, s, dt), g, (g * g).astype(dt), None, None, 1e-2, 0.99, 1e-8, 0.0, 0.0, False


def _adagrad_args(s, dt, rng):
    g = _randn(rng, s, dt)
    # acc, clr, eps, weight_decay, maximize
    return _randn(rng, s, dt), g, (g * g).astype(dt), 0.01, 1e-10, 0.0, False


def _matmul_args(s, dt, rng):
    """x (N, C) @ W (C, C): a Linear layer's forward with as many outputs as inputs."""
    return _randn(rng, s, dt), _randn(rng, (s[1], s[1]), dt, 1 / np.sqrt(s[1]))


# Names tried, in order, for the hand-written matmul loop (it is not part of the kernel set).
HAND_MATMUL_NAMES = ("matmul_loop", "matmul_hand", "hand_matmul", "naive_matmul", "matmul_naive")


def hand_matmul(backend_name, backend):
    """The backend's hand-written matmul loop as f(a, b) -> a @ b, or None if it has none.

    numpy has no loop: it answers with its BLAS matmul, which is the baseline the loop
    is compared with. Other backends are searched for a public kernel with one of
    HAND_MATMUL_NAMES, then for a loop kernel (``backend.loops``) with "matmul" in its
    name taking (a, b, out).
    """
    if backend_name == "numpy":
        return backend.matmul
    for attr in HAND_MATMUL_NAMES:
        f = getattr(backend, attr, None)
        if callable(f):
            return f
    loops = getattr(backend, "loops", None)
    for name in sorted(vars(loops) if loops is not None else ()):
        f = getattr(loops, name)
        if "matmul" not in name or not callable(f):
            continue
        try:
            params = inspect.signature(getattr(f, "py_func", f)).parameters
        except (TypeError, ValueError):
            continue
        if len(params) == 3:
            def run_loop(a, b, _loop=f):
                out = np.zeros((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
                _loop(a, b, out)
                return out
            run_loop.__name__ = f"loops.{name}"
            return run_loop
    return None


A = "activation"
AB = "activation backward"
R = "reduction"
RB = "reduction backward"
SM = "softmax"
L = "loss"
IX = "gather/scatter"
MM = "matmul"
RND = "random"
OPT = "optimizer"

CASES = [
    Case("tanh", "tanh", A, _x(2.0)),
    Case("sigmoid", "sigmoid", A, _x(2.0)),
    Case("relu", "relu", A, _x()),
    Case("tanh_backward", "tanh_backward", AB, _saved_g(_np_tanh)),
    Case("sigmoid_backward", "sigmoid_backward", AB, _saved_g(_np_sigmoid)),
    Case("relu_backward", "relu_backward", AB, _saved_g(lambda x: x)),
    Case("leaky_relu_backward", "leaky_relu_backward", AB,
         lambda s, dt, rng: _saved_g(lambda x: x)(s, dt, rng) + (0.01,)),
    Case("clip_backward", "clip_backward", AB,
         lambda s, dt, rng: _saved_g(lambda x: x)(s, dt, rng) + (-1.0, 1.0)),
    Case("sum(all)", "sum", R, lambda s, dt, rng: (_randn(rng, s, dt), None, False)),
    Case("sum(axis=0)", "sum", R, lambda s, dt, rng: (_randn(rng, s, dt), (0,), False)),
    Case("sum(axis=-1)", "sum", R, lambda s, dt, rng: (_randn(rng, s, dt), (1,), False)),
    Case("max(axis=-1)", "max", R, lambda s, dt, rng: (_randn(rng, s, dt), (1,), False)),
    Case("var(axis=-1)", "var", R, lambda s, dt, rng: (_randn(rng, s, dt), (1,), 0, False)),
    Case("sum_to_shape(bias)", "sum_to_shape", R, lambda s, dt, rng: (_randn(rng, s, dt), (s[1],))),
    Case("sumsq", "sumsq", R, _x()),
    Case("minmax_backward", "minmax_backward", RB,
         lambda s, dt, rng: (lambda x: (x, x.max(axis=1), _randn(rng, s[0], dt), (1,), False))(_randn(rng, s, dt))),
    Case("var_backward", "var_backward", RB,
         lambda s, dt, rng: (_randn(rng, s, dt), _randn(rng, s[0], dt), (1,), 0, False)),
    Case("softmax", "softmax", SM, lambda s, dt, rng: (_randn(rng, s, dt, 3.0), 1)),
    Case("log_softmax", "log_softmax", SM, lambda s, dt, rng: (_randn(rng, s, dt, 3.0), 1)),
    Case("softmax_backward", "softmax_backward", SM,
         lambda s, dt, rng: (_np_softmax(_randn(rng, s, dt, 3.0)), _randn(rng, s, dt), 1)),
    Case("log_softmax_backward", "log_softmax_backward", SM,
         lambda s, dt, rng: (_np_log_softmax(_randn(rng, s, dt, 3.0)), _randn(rng, s, dt), 1)),
    Case("cross_entropy", "cross_entropy", L,
         lambda s, dt, rng: (_randn(rng, s, dt, 3.0), _targets(rng, *s), -100, 0.0)),
    Case("cross_entropy_backward", "cross_entropy_backward", L,
         lambda s, dt, rng: (_np_log_softmax(_randn(rng, s, dt, 3.0)), _targets(rng, *s),
                             _randn(rng, s[0], dt), -100, 0.0)),
    Case("embedding_backward", "embedding_backward", IX, _embedding_args),
    Case("scatter_add(repeats)", "scatter_add", IX, _scatter_args),
    Case("matmul", "matmul", MM, _matmul_args,
         work=lambda s: s[0] * s[1] * s[1], flops=lambda s: 2 * s[0] * s[1] * s[1]),
    Case("matmul(hand loop)", "matmul", MM, _matmul_args,
         work=lambda s: s[0] * s[1] * s[1], flops=lambda s: 2 * s[0] * s[1] * s[1], resolve=hand_matmul),
    Case("dropout_mask", "dropout_mask", RND,
         lambda s, dt, rng: (s, 0.1, np.random.default_rng(SEED), dt), check=False),
    Case("sgd_step(momentum)", "sgd_step", OPT, _sgd_args, inplace=True),
    Case("adam_step", "adam_step", OPT, _adam_args, inplace=True),
    Case("rmsprop_step", "rmsprop_step", OPT, _rmsprop_args, inplace=True),
    Case("adagrad_step", "adagrad_step", OPT, _adagrad_args, inplace=True),
]
FAMILIES = list(dict.fromkeys(c.family for c in CASES))


def find_case(name):
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(f"no kernel case {name!r}; cases: {', '.join(c.name for c in CASES)}")


def select_cases(names=None):
    """The cases named (by case name or kernel name), in suite order; all of them for None."""
    if not names:
        return list(CASES)
    wanted = set(names)
    unknown = wanted - {c.name for c in CASES} - {c.kernel for c in CASES}
    if unknown:
        raise KeyError(f"unknown kernel case(s) {sorted(unknown)}; cases: {', '.join(c.name for c in CASES)}")
    return [c for c in CASES if c.name in wanted or c.kernel in wanted]
