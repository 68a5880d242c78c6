"""Parity with PyTorch (float64): forward values and gradients of ops and losses.

Skipped, not failed, when PyTorch is not installed.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import minigrad as mg  # noqa: E402
from conftest import assert_close  # noqa: E402

TOL = dict(rtol=1e-9, atol=1e-10)


def _rand(shape, seed, kind="normal"):
    rng = np.random.default_rng(seed)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "nonzero":
        return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if kind == "distinct":
        n = int(np.prod(shape, dtype=np.int64))
        return (rng.permutation(n) * 0.3 - n * 0.1).reshape(shape)
    return rng.standard_normal(shape)


def _compare(mg_fn, torch_fn, arrays, grad_mask=None):
    """Run both on the same float64 inputs, backprop the same random cotangent, compare."""
    grad_mask = grad_mask or [True] * len(arrays)
    m_in = [mg.tensor(a, dtype=mg.float64, requires_grad=r) for a, r in zip(arrays, grad_mask)]
    t_in = [torch.tensor(a, dtype=torch.float64, requires_grad=r) for a, r in zip(arrays, grad_mask)]
    m_out, t_out = mg_fn(*m_in), torch_fn(*t_in)
    assert m_out.shape == tuple(t_out.shape), (m_out.shape, tuple(t_out.shape))
    assert_close(m_out, t_out.detach().numpy(), np.float64, **TOL)
    g = np.random.default_rng(99).standard_normal(m_out.shape)
    m_out.backward(mg.tensor(g, dtype=mg.float64))
    t_out.backward(torch.tensor(g, dtype=torch.float64))
    for i, (m, t) in enumerate(zip(m_in, t_in)):
        if grad_mask[i]:
            assert m.grad is not None, f"input {i} got no gradient"
            assert_close(m.grad, t.grad.numpy(), np.float64, **TOL)


# name -> (minigrad fn, torch fn, [(shape, kind), ...])
OPS = {
    # arithmetic with broadcasting
    "add": (lambda a, b: a + b, lambda a, b: a + b, [((3, 1), "normal"), ((1, 4), "normal")]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [((4,), "normal"), ((2, 3, 4), "normal")]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [((2, 1, 3), "normal"), ((4, 1), "normal")]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [((3, 4), "normal"), ((4,), "nonzero")]),
    "pow_tensor": (lambda a, b: a ** b, lambda a, b: a ** b, [((3, 4), "positive"), ((3, 1), "normal")]),
    "pow_scalar": (lambda a: a ** 3 + abs(a) ** 1.5 + a ** -2, lambda a: a ** 3 + a.abs() ** 1.5 + a ** -2,
                   [((3, 4), "nonzero")]),
    "reflected": (lambda a: 2.0 - a + 1 / a + 2 ** a - 3 * a, lambda a: 2.0 - a + 1 / a + 2 ** a - 3 * a,
                  [((5,), "nonzero")]),
    "scalar_0d": (lambda a, b: a * b + b, lambda a, b: a * b + b, [((), "normal"), ((2, 3), "normal")]),
    "matmul_2d": (lambda a, b: a @ b, lambda a, b: a @ b, [((3, 4), "normal"), ((4, 5), "normal")]),
    "matmul_1d": (lambda a, b: a @ b, lambda a, b: a @ b, [((4,), "normal"), ((4,), "normal")]),
    "matmul_vec_mat": (lambda a, b: a @ b, lambda a, b: a @ b, [((4,), "normal"), ((2, 4, 3), "normal")]),
    "matmul_mat_vec": (lambda a, b: a @ b, lambda a, b: a @ b, [((2, 3, 4), "normal"), ((4,), "normal")]),
    "matmul_batched": (lambda a, b: a @ b, lambda a, b: a @ b, [((2, 3, 4), "normal"), ((2, 4, 5), "normal")]),
    "matmul_broadcast": (lambda a, b: a @ b, lambda a, b: a @ b, [((2, 1, 3, 4), "normal"), ((5, 4, 2), "normal")]),
    # unary
    "neg": (lambda a: -a, lambda a: -a, [((3, 4), "normal")]),
    "exp": (mg.exp, torch.exp, [((3, 4), "normal")]),
    "log": (mg.log, torch.log, [((3, 4), "positive")]),
    "sqrt": (mg.sqrt, torch.sqrt, [((3, 4), "positive")]),
    "abs": (mg.abs, torch.abs, [((3, 4), "nonzero")]),
    "tanh": (mg.tanh, torch.tanh, [((3, 4), "normal")]),
    "sigmoid": (mg.sigmoid, torch.sigmoid, [((3, 4), "normal")]),
    "relu": (mg.relu, torch.relu, [((3, 4), "nonzero")]),
    "leaky_relu": (lambda a: mg.leaky_relu(a, 0.1), lambda a: F.leaky_relu(a, 0.1), [((3, 4), "nonzero")]),
    "clip": (lambda a: mg.clip(a, -0.7, 0.9), lambda a: torch.clamp(a, -0.7, 0.9), [((4, 5), "normal")]),
    "clip_at_bounds": (lambda a: mg.clip(a, -1.0, 1.0), lambda a: torch.clamp(a, -1.0, 1.0),
                       [((5,), "bounds")]),
    "maximum": (mg.maximum, torch.maximum, [((3, 4), "normal"), ((4,), "normal")]),
    "minimum": (mg.minimum, torch.minimum, [((3, 1), "normal"), ((1, 4), "normal")]),
    "maximum_ties": (mg.maximum, torch.maximum, [((4,), "ties"), ((4,), "ties")]),
    "where": (lambda a, b: mg.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b),
              [((3, 4), "nonzero"), ((4,), "normal")]),
    # reductions
    "sum_all": (lambda a: a.sum(), lambda a: a.sum(), [((3, 4), "normal")]),
    "sum_axes": (lambda a: a.sum(axis=(0, 2), keepdims=True), lambda a: a.sum(dim=(0, 2), keepdim=True),
                 [((2, 3, 4), "normal")]),
    "mean_neg": (lambda a: a.mean(axis=-1), lambda a: a.mean(dim=-1), [((2, 3, 4), "normal")]),
    "max_axis": (lambda a: a.max(axis=1), lambda a: torch.amax(a, dim=1), [((3, 4), "distinct")]),
    "max_all_ties": (lambda a: a.max(), lambda a: a.max(), [((2, 3), "ties")]),
    "max_axis_ties": (lambda a: a.max(axis=0), lambda a: torch.amax(a, dim=0), [((4, 3), "ties")]),
    "min_axes": (lambda a: a.min(axis=(0, 1), keepdims=True), lambda a: torch.amin(a, dim=(0, 1), keepdim=True),
                 [((2, 3, 4), "distinct")]),
    "var": (lambda a: a.var(axis=1), lambda a: torch.var(a, dim=1, correction=0), [((3, 5), "normal")]),
    "var_unbiased": (lambda a: a.var(ddof=1), lambda a: torch.var(a, correction=1), [((3, 5), "normal")]),
    # shape / movement
    "reshape": (lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), [((2, 3, 4), "normal")]),
    "permute": (lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [((2, 3, 4), "normal")]),
    "transpose": (lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [((2, 3, 4), "normal")]),
    "T": (lambda a: a.T, lambda a: a.T, [((3, 4), "normal")]),
    "expand": (lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4), [((3, 1), "normal")]),
    "squeeze_unsqueeze": (lambda a: a.squeeze(1).unsqueeze(0), lambda a: a.squeeze(1).unsqueeze(0),
                          [((3, 1, 4), "normal")]),
    "flatten": (lambda a: a.flatten(1), lambda a: a.flatten(1), [((2, 3, 4), "normal")]),
    "flip": (lambda a: a.flip((0, 2)), lambda a: a.flip((0, 2)), [((2, 3, 4), "normal")]),
    "pad": (lambda a: mg.pad(a, ((0, 0), (1, 2), (3, 0)), value=0.5),
            lambda a: F.pad(a, (3, 0, 1, 2, 0, 0), value=0.5), [((2, 3, 4), "normal")]),
    # indexing, joining
    "getitem_slices": (lambda a: a[1:, ::2, None, -1], lambda a: a[1:, ::2, None, -1], [((3, 5, 4), "normal")]),
    "getitem_repeated": (lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]], [((3, 4), "normal")]),
    "getitem_pairs": (lambda a: a[mg.tensor([1, 1, 0]), mg.tensor([2, 2, 3])],
                      lambda a: a[torch.tensor([1, 1, 0]), torch.tensor([2, 2, 3])], [((3, 4), "normal")]),
    "getitem_mask": (lambda a: a[a > 0], lambda a: a[a > 0], [((3, 4), "nonzero")]),
    "getitem_ellipsis": (lambda a: a[..., 1], lambda a: a[..., 1], [((2, 3, 4), "normal")]),
    "cat": (lambda a, b: mg.cat([a, b, a], 1), lambda a, b: torch.cat([a, b, a], 1),
            [((2, 3), "normal"), ((2, 1), "normal")]),
    "stack": (lambda a, b: mg.stack([a, b], -1), lambda a, b: torch.stack([a, b], -1),
              [((2, 3), "normal"), ((2, 3), "normal")]),
    "split": (lambda a: mg.cat([p * (i + 1) for i, p in enumerate(a.split(2, 1))], 1),
              lambda a: torch.cat([p * (i + 1) for i, p in enumerate(a.split(2, 1))], 1), [((3, 5), "normal")]),
    "chunk": (lambda a: mg.stack([p.sum() * (i + 1) for i, p in enumerate(a.chunk(3))]),
              lambda a: torch.stack([p.sum() * (i + 1) for i, p in enumerate(a.chunk(3))]), [((7, 2), "normal")]),
    # nn ops
    "softmax": (lambda a: mg.softmax(a, 1), lambda a: F.softmax(a, 1), [((2, 5, 3), "normal")]),
    "log_softmax": (lambda a: mg.log_softmax(a), lambda a: F.log_softmax(a, -1), [((4, 5), "normal")]),
    "linear": (mg.linear, F.linear, [((2, 5, 3), "normal"), ((4, 3), "normal"), ((4,), "normal")]),
    "linear_nobias": (mg.linear, F.linear, [((5, 3), "normal"), ((4, 3), "normal")]),
    "mse": (mg.mse_loss, F.mse_loss, [((3, 4), "normal"), ((3, 4), "normal")]),
    "mse_sum": (lambda a, b: mg.mse_loss(a, b, "sum"), lambda a, b: F.mse_loss(a, b, reduction="sum"),
                [((3, 4), "normal"), ((3, 4), "normal")]),
    "l1_none": (lambda a, b: mg.l1_loss(a, b, "none"), lambda a, b: F.l1_loss(a, b, reduction="none"),
                [((3, 4), "normal"), ((3, 4), "normal")]),
    "bce_logits": (mg.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
                   [((3, 4), "normal"), ((3, 4), "prob")]),
    "bce_logits_weight_sum": (
        lambda a, b, w: mg.binary_cross_entropy_with_logits(a, b, weight=w, reduction="sum"),
        lambda a, b, w: F.binary_cross_entropy_with_logits(a, b, weight=w, reduction="sum"),
        [((6,), "normal"), ((6,), "prob"), ((6,), "positive")], [True, True, False]),
}


def _make(shape, kind, seed):
    if kind == "ties":
        return np.random.default_rng(seed).integers(0, 2, shape).astype(np.float64)
    if kind == "bounds":
        return np.array([-2.0, -1.0, 0.3, 1.0, 2.0])
    if kind == "prob":
        return np.random.default_rng(seed).uniform(0, 1, shape)
    return _rand(shape, seed, kind)


@pytest.mark.parametrize("name", list(OPS))
def test_op_parity(backend, name):
    entry = OPS[name]
    mg_fn, t_fn, specs = entry[:3]
    mask = entry[3] if len(entry) > 3 else None
    arrays = [_make(shape, kind, i + 10) for i, (shape, kind) in enumerate(specs)]
    _compare(mg_fn, t_fn, arrays, mask)


# ------------------------------------------------------- class-index losses
CE_CASES = [
    dict(shape=(5, 4)),
    dict(shape=(5, 4), reduction="sum"),
    dict(shape=(5, 4), reduction="none"),
    dict(shape=(6, 4), ignore=[1, 4]),
    dict(shape=(6, 3), ignore=[0], ignore_index=1),
    dict(shape=(6, 4), weight=True),
    dict(shape=(6, 4), weight=True, ignore=[2], reduction="sum"),
    dict(shape=(6, 4), weight=True, reduction="none"),
    dict(shape=(5, 4), smoothing=0.1),
    dict(shape=(5, 4), smoothing=0.3, ignore=[0, 3]),
    dict(shape=(5, 4), smoothing=0.2, reduction="none"),
    dict(shape=(2, 3, 4)),
    dict(shape=(2, 3, 4, 2), ignore=[1, 5], weight=True),
    dict(shape=(2, 3, 4), smoothing=0.1, reduction="sum"),
    dict(shape=(4,)),
]


def _ce_args(case, seed):
    rng = np.random.default_rng(seed)
    shape = case["shape"]
    c = shape[0] if len(shape) == 1 else shape[1]
    t = rng.integers(0, c, () if len(shape) == 1 else (shape[0],) + shape[2:])
    ii = case.get("ignore_index", -100)
    if case.get("ignore"):
        t.reshape(-1)[case["ignore"]] = ii
    w = rng.uniform(0.5, 2.0, c) if case.get("weight") else None
    return rng.standard_normal(shape) * 2, t, w, ii, case.get("reduction", "mean"), case.get("smoothing", 0.0)


@pytest.mark.parametrize("case", CE_CASES, ids=str)
def test_cross_entropy_parity(backend, case):
    x, t, w, ii, red, ls = _ce_args(case, 0)
    _compare(
        lambda a: mg.cross_entropy(a, mg.tensor(t), weight=None if w is None else mg.tensor(w, dtype=mg.float64),
                                   ignore_index=ii, reduction=red, label_smoothing=ls),
        lambda a: F.cross_entropy(a, torch.tensor(t), weight=None if w is None else torch.tensor(w),
                                  ignore_index=ii, reduction=red, label_smoothing=ls),
        [x])


@pytest.mark.parametrize("case", [c for c in CE_CASES if not c.get("smoothing")], ids=str)
def test_nll_loss_parity(backend, case):
    x, t, w, ii, red, _ = _ce_args(case, 1)
    axis = 0 if x.ndim == 1 else 1
    logp = x - np.log(np.exp(x).sum(axis=axis, keepdims=True))
    _compare(
        lambda a: mg.nll_loss(a, t, weight=None if w is None else mg.tensor(w, dtype=mg.float64),
                              ignore_index=ii, reduction=red),
        lambda a: F.nll_loss(a, torch.tensor(t), weight=None if w is None else torch.tensor(w),
                             ignore_index=ii, reduction=red),
        [logp])


@pytest.mark.parametrize("padding_idx", [None, 0, 2])
def test_embedding_parity(backend, padding_idx):
    idx = np.array([[0, 2, 2], [4, 0, 1]])
    _compare(lambda w: mg.embedding(mg.tensor(idx), w, padding_idx=padding_idx),
             lambda w: F.embedding(torch.tensor(idx), w, padding_idx=padding_idx),
             [_rand((5, 3), 0)])


def test_dropout_statistics_match_torch_semantics(backend):
    """Masks come from different generators, so compare what they must share: inverted scaling."""
    x = mg.ones(20000, dtype=mg.float64, requires_grad=True)
    y = mg.dropout(x, 0.25)
    t = F.dropout(torch.ones(20000, dtype=torch.float64), 0.25, training=True)
    assert set(np.unique(y.numpy()).round(12)) == set(np.unique(t.numpy()).round(12)) == {0.0, round(1 / 0.75, 12)}
    assert abs((y.numpy() == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    assert_close(x.grad, y.numpy(), np.float64)


def test_composite_network_parity(backend):
    """A small MLP with a cross-entropy head: every parameter's gradient matches torch."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((8, 6)), rng.standard_normal((10, 6)) * 0.3, rng.standard_normal(10) * 0.1,
              rng.standard_normal((4, 10)) * 0.3, rng.standard_normal(4) * 0.1]
    t = rng.integers(0, 4, 8)

    def net(lib, x, w1, b1, w2, b2):
        if lib is mg:
            h = mg.tanh(mg.linear(x, w1, b1))
            return mg.cross_entropy(mg.linear(h, w2, b2), t) + (w1 * w1).sum() * 1e-3
        h = torch.tanh(F.linear(x, w1, b1))
        return F.cross_entropy(F.linear(h, w2, b2), torch.tensor(t)) + (w1 * w1).sum() * 1e-3

    _compare(lambda *a: net(mg, *a), lambda *a: net(torch, *a), arrays, [False, True, True, True, True])
