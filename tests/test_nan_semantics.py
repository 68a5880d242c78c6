"""NaN and inf through every op, forward and backward, on every backend: NaN in, NaN out, as PyTorch.

Each op runs on a (2, 5) tensor whose first row holds NaN, +-inf, +-0 and large values;
the loss weighs every output with a fixed finite weight, so the upstream gradient is
finite and every NaN or inf in a gradient comes from the op's own backward. Every
backend must give numpy's values (NaN and inf in the same places), and numpy's must be
PyTorch's, except where the contract documents a different gradient at NaN.
"""
import numpy as np
import pytest

import minigrad as mg
from tests.conftest import CPU_BACKENDS, _torch

NAN, INF = np.nan, np.inf
SPECIAL = np.array([[NAN, INF, -INF, 0.0, -0.0], [1.5, -2.5, 100.0, -100.0, 1e-3]])
WEIGHT = np.random.default_rng(0).uniform(0.5, 1.5, (2, 5))
W_MM = np.random.default_rng(1).standard_normal((5, 3))
TARGETS = np.array([1, 3])


def _flip(x):
    return x.flip(1) if isinstance(x, mg.Tensor) else _torch.flip(x, (1,))


# name -> (minigrad function, torch function or None when only the backends are compared)
def _torch_fns():
    if _torch is None:
        return {}
    F = _torch.nn.functional
    T = _torch
    return {
        "neg": lambda x: -x, "exp": T.exp, "log": T.log, "sqrt": T.sqrt, "abs": T.abs, "tanh": T.tanh,
        "sigmoid": T.sigmoid, "relu": T.relu, "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
        "clip": lambda x: T.clamp(x, -1.0, 2.0), "clip_lo": lambda x: T.clamp(x, min=-1.0),
        "clip_hi": lambda x: T.clamp(x, max=2.0), "square": lambda x: x ** 2, "cube_div": lambda x: x ** 3 / 3.0,
        "add_mul": lambda x: x * _flip(x) + x, "maximum": lambda x: T.maximum(x, _flip(x)),
        "minimum": lambda x: T.minimum(x, _flip(x)), "sum": lambda x: x.sum(dim=1),
        "mean": lambda x: x.mean(dim=1), "var": lambda x: x.var(dim=1, unbiased=False),
        "max_forward": lambda x: x.amax(dim=1), "softmax": lambda x: T.softmax(x, 1),
        "log_softmax": lambda x: T.log_softmax(x, 1),
        "matmul": lambda x: x @ T.tensor(W_MM, dtype=x.dtype),
        "cross_entropy": lambda x: F.cross_entropy(x, T.tensor(TARGETS), reduction="none"),
        "bce": lambda x: F.binary_cross_entropy_with_logits(x, T.full_like(x, 0.25), reduction="none"),
        "mse": lambda x: F.mse_loss(x, T.zeros_like(x), reduction="none"),
    }


CASES = {
    "neg": lambda x: -x, "exp": mg.exp, "log": mg.log, "sqrt": mg.sqrt, "abs": mg.abs, "tanh": mg.tanh,
    "sigmoid": mg.sigmoid, "relu": mg.relu, "leaky_relu": lambda x: mg.leaky_relu(x, 0.1),
    "clip": lambda x: mg.clip(x, -1.0, 2.0), "clip_lo": lambda x: mg.clip(x, min=-1.0),
    "clip_hi": lambda x: mg.clip(x, max=2.0), "square": lambda x: x ** 2, "cube_div": lambda x: x ** 3 / 3.0,
    "add_mul": lambda x: x * _flip(x) + x, "maximum": lambda x: mg.maximum(x, _flip(x)),
    "minimum": lambda x: mg.minimum(x, _flip(x)), "sum": lambda x: x.sum(axis=1),
    "mean": lambda x: x.mean(axis=1), "var": lambda x: x.var(axis=1),
    "max_forward": lambda x: x.max(axis=1), "min_forward": lambda x: x.min(axis=1),
    "softmax": lambda x: mg.softmax(x, axis=1), "log_softmax": lambda x: mg.log_softmax(x, axis=1),
    "matmul": lambda x: x @ mg.tensor(W_MM, dtype=x.dtype),
    "cross_entropy": lambda x: mg.cross_entropy(x, TARGETS, reduction="none"),
    "bce": lambda x: mg.binary_cross_entropy_with_logits(x, mg.full_like(x, 0.25), reduction="none"),
    "mse": lambda x: mg.mse_loss(x, mg.zeros_like(x), reduction="none"),
}
# The gradient of max/min at a NaN result: 0 here (a NaN equals nothing), while PyTorch
# hands it to the NaN elements. Values agree; only these gradients are not compared.
TORCH_GRADIENT_DIFFERS = {"max_forward", "min_forward"}
# Binary cross-entropy of an infinite logit: +inf here at both ends, PyTorch NaN at -inf.
TORCH_FORWARD_AT_NEG_INF_DIFFERS = {"bce"}


def _weight(shape):
    """Finite, nonzero weights for an output of ``shape``: the upstream gradient."""
    return WEIGHT.reshape(-1)[:int(np.prod(shape))].reshape(shape)


def _run(fn, dtype, backend):
    x = mg.tensor(SPECIAL, dtype=dtype, requires_grad=True)
    with mg.backend(backend), np.errstate(all="ignore"):
        y = fn(x)
        (y * mg.tensor(_weight(y.shape), dtype=dtype)).sum().backward()
    return y.numpy(), x.grad.numpy()


def _same(actual, expected, dtype, what):
    """Equal within the dtype's tolerance, with NaN and +-inf in exactly the same places."""
    rtol = 2e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN positions")
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(expected), err_msg=f"{what}: +inf positions")
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(expected), err_msg=f"{what}: -inf positions")
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=rtol, atol=rtol, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", [n for n in CPU_BACKENDS if n != "numpy"])
def test_every_backend_gives_numpys_nan_and_inf(name, case, dtype):
    y, gx = _run(CASES[case], dtype, name)
    y_ref, gx_ref = _run(CASES[case], dtype, "numpy")
    _same(y, y_ref, dtype, f"{case} forward on {name}")
    _same(gx, gx_ref, dtype, f"{case} gradient on {name}")


@pytest.mark.skipif(_torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("case", sorted(_torch_fns()))
def test_numpy_backend_gives_torchs_nan_and_inf(case):
    y, gx = _run(CASES[case], np.float64, "numpy")
    x = _torch.tensor(SPECIAL, dtype=_torch.float64, requires_grad=True)
    yt = _torch_fns()[case](x)
    (yt * _torch.tensor(_weight(tuple(yt.shape)))).sum().backward()
    want = yt.detach().numpy()
    if case in TORCH_FORWARD_AT_NEG_INF_DIFFERS:
        assert np.isnan(want[SPECIAL == -INF]).all() and np.isposinf(y[SPECIAL == -INF]).all()
        want = np.where(SPECIAL == -INF, y, want)
    _same(y, want, np.float64, f"{case} forward vs torch")
    if case not in TORCH_GRADIENT_DIFFERS:
        _same(gx, x.grad.numpy(), np.float64, f"{case} gradient vs torch")


def test_relu_keeps_nan_and_passes_its_gradient_as_torch_does(backend):
    x = mg.tensor([NAN, -1.0, 0.0, 2.0], requires_grad=True)
    y = mg.relu(x)
    y.sum().backward()
    assert np.isnan(y.numpy()[0]) and list(y.numpy()[1:]) == [0.0, 0.0, 2.0]
    assert list(x.grad.numpy()) == [1.0, 0.0, 0.0, 1.0]


def test_max_gradient_at_a_nan_result_is_zero_on_every_backend(backend):
    x = mg.tensor([[1.0, NAN, 3.0], [3.0, 1.0, 3.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 0.0], [0.5, 0.0, 0.5]])


@pytest.mark.parametrize("mode", ["RNN_relu", "RNN_tanh", "LSTM", "GRU"])
def test_fused_recurrent_layers_propagate_nan_from_the_step_it_enters(backend, mode):
    """A NaN input feature at step 2 of sequence 0 makes that sequence's outputs NaN from
    step 2 on (relu included), leaves sequence 1 finite, and so does every gradient."""
    import rnn
    mg.manual_seed(0)
    layer = (rnn.RNN(3, 4, nonlinearity=mode[4:]) if mode.startswith("RNN") else getattr(rnn, mode)(3, 4))
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    x[2, 0, 1] = NAN
    xt = mg.tensor(x, requires_grad=True)
    out, _ = layer(xt)
    out.sum().backward()
    o = out.numpy()
    assert np.isnan(o[2:, 0]).all() and np.isfinite(o[:2, 0]).all() and np.isfinite(o[:, 1]).all()
    assert np.isfinite(xt.grad.numpy()[:, 1]).all()
    assert np.isnan(layer.weight_hh_l0.grad.numpy()).any()


# ------------------------------------------------------------ the sigmoid tail
@pytest.mark.parametrize("dtype, xs", [(np.float32, [-80.0, -60.0, -30.0, -17.0, -5.0]),
                                       (np.float64, [-700.0, -500.0, -100.0, -37.0, -5.0])])
def test_sigmoid_is_accurate_in_the_negative_tail(backend, dtype, xs):
    x = np.array(xs, dtype=dtype)
    exact = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    s = mg.sigmoid(mg.tensor(x, dtype=dtype)).numpy()
    np.testing.assert_allclose(s, exact, rtol=1e-5)
    log_s = mg.log(mg.sigmoid(mg.tensor(x, dtype=dtype))).numpy()
    assert np.isfinite(log_s).all()
    np.testing.assert_allclose(log_s, np.log(exact), rtol=1e-5)  # log sigma(x) = x - log(1 + e^x)
