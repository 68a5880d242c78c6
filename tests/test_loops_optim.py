"""Fused optimizer-step loop kernels vs the numpy reference.

Each case runs several steps with every option on copies of the same parameter and
state, on "numba" (compiled) and "python" (the same loops interpreted), and compares the
parameter *and* every state array with numpy's after each step.
"""
import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.backends import get_backend

pytestmark = pytest.mark.skipif(not mg.available_backends()["numba"]["available"], reason="numba not installed")
LOOP_BACKENDS = ["numba", "python"]
DTYPES = [np.float32, np.float64]
# Relative tolerance per dtype. fastmath lets LLVM contract a * b + c into one FMA and
# replace / sqrt by reciprocal estimates plus a Newton step: an ulp or two per step.
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
SHAPES = [(1,), (7,), (13, 17)]
STEPS = 4


def test_numba_implements_the_optimizer_steps_itself():
    reuses = mg.available_backends()["numba"]["reuses"]
    assert not {"sgd_step", "adam_step", "rmsprop_step", "adagrad_step"} & set(reuses)


def _run(kernel_name, name, dtype, shape, state_names, make_args, grad_layout="contiguous", seed=0):
    """Run STEPS steps on numpy and on backend ``name``; compare p and the states after each."""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(dtype)
    # second moments are >= 0; RMSprop's running mean starts at 0 (so that sq - gavg^2 >= 0)
    states0 = {s: (np.abs(rng.standard_normal(shape)) if s in ("v", "vmax", "sq", "acc") else
                   np.zeros(shape) if s == "gavg" else rng.standard_normal(shape) * 0.1).astype(dtype)
               for s in state_names}
    runs = {}
    for backend in ("numpy", name):
        k = get_backend(backend)
        p = p0.copy()
        states = {s: a.copy() for s, a in states0.items()}
        grng = np.random.default_rng(seed + 1)
        history = []
        for step in range(1, STEPS + 1):
            g = grng.standard_normal(shape).astype(dtype)
            if grad_layout == "transposed" and g.ndim > 1:
                g = np.ascontiguousarray(g.T).T  # same values, not C-contiguous
            elif grad_layout == "strided":
                g = np.stack([g, g], axis=-1)[..., 0]
            getattr(k, kernel_name)(p, g, *make_args(states, step))
            history.append((p.copy(), {s: a.copy() for s, a in states.items()}))
        runs[backend] = history
    rtol = RTOL[np.dtype(dtype)]
    for step, ((p_ref, st_ref), (p, st)) in enumerate(zip(runs["numpy"], runs[name]), 1):
        assert p.dtype == np.dtype(dtype) and np.isfinite(p).all()
        np.testing.assert_allclose(p, p_ref, rtol=rtol, atol=rtol, err_msg=f"p after step {step}")
        for s in st_ref:
            np.testing.assert_allclose(st[s], st_ref[s], rtol=rtol, atol=rtol, err_msg=f"{s} after step {step}")


# (momentum, dampening, nesterov, weight_decay, maximize)
SGD_OPTIONS = [(0.0, 0.0, False, 0.0, False), (0.0, 0.0, False, 0.01, True), (0.9, 0.0, False, 0.0, False),
               (0.9, 0.3, False, 0.01, False), (0.9, 0.0, True, 0.0, False), (0.5, 0.0, True, 0.05, True)]


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("opts", SGD_OPTIONS, ids=str)
def test_sgd_step(name, dtype, shape, opts):
    momentum, dampening, nesterov, wd, maximize = opts
    states = ["buf"] if momentum else []

    def args(st, step):  # the buffer is filled on the first step ("first"), then updated
        return (st.get("buf"), 0.05, momentum, dampening, nesterov, wd, maximize, step == 1)
    _run("sgd_step", name, dtype, shape, states, args)


# (weight_decay, decoupled, amsgrad, maximize)
ADAM_OPTIONS = list(itertools.product([0.0, 0.02], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("opts", ADAM_OPTIONS, ids=str)
def test_adam_step(name, dtype, shape, opts):
    wd, decoupled, amsgrad, maximize = opts
    states = ["m", "v"] + (["vmax"] if amsgrad else [])

    def args(st, step):
        return (st["m"], st["v"], st.get("vmax"), step, 1e-2, 0.9, 0.999, 1e-8, wd, decoupled, maximize)
    _run("adam_step", name, dtype, shape, states, args)


# (weight_decay, momentum, centered, maximize)
RMSPROP_OPTIONS = list(itertools.product([0.0, 0.02], [0.0, 0.9], [False, True], [False, True]))


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("opts", RMSPROP_OPTIONS, ids=str)
def test_rmsprop_step(name, dtype, shape, opts):
    wd, momentum, centered, maximize = opts
    states = ["sq"] + (["buf"] if momentum else []) + (["gavg"] if centered else [])

    def args(st, step):
        return (st["sq"], st.get("buf"), st.get("gavg"), 1e-2, 0.9, 1e-8, wd, momentum, maximize)
    _run("rmsprop_step", name, dtype, shape, states, args)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("opts", [(0.0, False), (0.05, True)], ids=str)
def test_adagrad_step(name, dtype, shape, opts):
    wd, maximize = opts

    def args(st, step):
        return (st["acc"], 0.1 / (1 + (step - 1) * 0.01), 1e-10, wd, maximize)
    _run("adagrad_step", name, dtype, shape, ["acc"], args)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("grad_layout", ["transposed", "strided"])
def test_steps_accept_a_non_contiguous_gradient(name, grad_layout):
    shape = (5, 7)
    _run("adam_step", name, np.float32, shape, ["m", "v"],
         lambda st, step: (st["m"], st["v"], None, step, 1e-2, 0.9, 0.999, 1e-8, 0.0, False, False),
         grad_layout=grad_layout)
    _run("sgd_step", name, np.float64, shape, ["buf"],
         lambda st, step: (st["buf"], 0.1, 0.9, 0.0, True, 0.0, False, step == 1), grad_layout=grad_layout)


@pytest.mark.parametrize("dtype", DTYPES)
def test_steps_numba_at_vector_sizes(dtype):
    """(64, 509): full SIMD blocks plus a remainder, on the compiled backend only."""
    shape = (64, 509)
    _run("adam_step", "numba", dtype, shape, ["m", "v", "vmax"],
         lambda st, step: (st["m"], st["v"], st["vmax"], step, 1e-3, 0.9, 0.999, 1e-8, 0.01, True, False))
    _run("rmsprop_step", "numba", dtype, shape, ["sq", "buf", "gavg"],
         lambda st, step: (st["sq"], st["buf"], st["gavg"], 1e-3, 0.99, 1e-8, 0.0, 0.9, False))
    _run("sgd_step", "numba", dtype, shape, ["buf"],
         lambda st, step: (st["buf"], 0.1, 0.9, 0.1, False, 1e-4, False, step == 1))
    _run("adagrad_step", "numba", dtype, shape, ["acc"], lambda st, step: (st["acc"], 0.01, 1e-10, 0.0, False))


def test_non_contiguous_parameter_is_left_to_numpy_with_the_same_result():
    """A parameter that is a transposed view cannot be updated through a flat view: the
    kernel hands it to the numpy reference, in place, with the same result."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((6, 4))
    grads = [rng.standard_normal((4, 6)) for _ in range(3)]
    out = {}
    for name in ("numpy", "numba"):
        k = get_backend(name)
        p = base.copy().T  # (4, 6) view, not C-contiguous
        m, v = np.zeros((4, 6)), np.zeros((4, 6))
        for step, g in enumerate(grads, 1):
            k.adam_step(p, g, m, v, None, step, 1e-2, 0.9, 0.999, 1e-8, 0.0, False, False)
        out[name] = p
    np.testing.assert_allclose(out["numba"], out["numpy"], rtol=1e-12)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
def test_training_with_each_optimizer_matches_numpy(name):
    """Through the optimizer classes: a few steps of a small linear model."""
    makers = [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
              lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
              lambda ps: optim.AdamW(ps, lr=0.05),
              lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
              lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=1e-3)]
    for make in makers:
        weights = {}
        for backend in ("numpy", name):
            mg.manual_seed(0)
            layer = nn.Linear(5, 3)
            opt = make(layer.parameters())
            x = mg.randn(4, 5)
            with mg.backend(backend):
                for _ in range(3):
                    opt.zero_grad()
                    (layer(x) ** 2).mean().backward()
                    opt.step()
            weights[backend] = layer.weight.numpy().copy()
        np.testing.assert_allclose(weights[name], weights["numpy"], rtol=1e-5, atol=1e-6)
