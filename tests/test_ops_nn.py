"""Products and neural-network ops: matmul, linear, softmax/log_softmax, cross_entropy,
nll_loss, mse_loss, l1_loss, binary_cross_entropy_with_logits, embedding, dropout.

Each is compared with a plain numpy reference (float32, every CPU backend) and
gradchecked in float64.
"""
import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close, f64


def _data(shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# ------------------------------------------------------------------ matmul
MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((1, 4), (4, 1)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_forward(backend, shapes):
    a, b = _data(shapes[0], 1).astype(np.float32), _data(shapes[1], 2).astype(np.float32)
    out = mg.tensor(a) @ mg.tensor(b)
    expected = a @ b
    assert out.shape == np.shape(expected)
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert_close(mg.matmul(mg.tensor(a), mg.tensor(b)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_gradcheck(backend, shapes):
    a, b = f64(_data(shapes[0], 3)), f64(_data(shapes[1], 4))
    assert mg.gradcheck(lambda a, b: a @ b, [a, b])


def test_matmul_with_numpy_operand_and_one_side_grad(backend):
    a = f64(_data((3, 4)))
    w = _data((4, 2), 1)
    assert mg.gradcheck(lambda a: a @ w, [a])  # numpy right operand becomes a constant tensor
    assert mg.gradcheck(lambda b: f64(w.T, False) @ b, [f64(_data((4, 3), 2))])


# ------------------------------------------------------------------ linear
@pytest.mark.parametrize("x_shape", [(5, 3), (2, 5, 3), (3,), (1, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(backend, x_shape, bias):
    x, w, b = _data(x_shape, 1), _data((4, 3), 2), _data((4,), 3)
    out = mg.linear(mg.tensor(x), mg.tensor(w), mg.tensor(b) if bias else None)
    expected = x.astype(np.float32) @ w.astype(np.float32).T + (b.astype(np.float32) if bias else 0)
    assert out.shape == expected.shape
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    if bias:
        assert mg.gradcheck(mg.linear, [f64(x), f64(w), f64(b)])
    else:
        assert mg.gradcheck(mg.linear, [f64(x), f64(w)])


def test_linear_input_without_grad(backend):
    x = f64(_data((5, 3)), requires_grad=False)
    assert mg.gradcheck(lambda w, b: mg.linear(x, w, b), [f64(_data((4, 3), 1)), f64(_data((4,), 2))])


# --------------------------------------------------------- softmax family
def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("shape,axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 1, 4), 1),
                                        ((1, 1), -1)], ids=str)
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
def test_softmax_family(backend, shape, axis, which):
    fn, ref = (mg.softmax, _np_softmax) if which == "softmax" else (mg.log_softmax, _np_log_softmax)
    x = _data(shape, 1, 3.0)
    out = fn(mg.tensor(x), axis=axis)
    assert out.dtype == np.float32
    assert_close(out, ref(x.astype(np.float32), axis), rtol=1e-5, atol=1e-5)
    assert mg.gradcheck(lambda t: fn(t, axis), [f64(x)])


def test_softmax_is_stable_for_huge_logits(backend):
    x = mg.tensor([[1000.0, 0.0, -1000.0], [1e4, 1e4, 1e4]], requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        p = mg.softmax(x)
        lp = mg.log_softmax(x)
        (p.sum() + lp[:, 0].sum()).backward()
    assert_close(p, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    assert_close(lp, [[0.0, -1000.0, -2000.0], [-np.log(3)] * 3], rtol=1e-5, atol=1e-4)
    assert np.isfinite(x.grad.numpy()).all()


# ---------------------------------------------------------- cross entropy
def _np_cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """torch.nn.functional.cross_entropy semantics, written out in numpy."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim == 1:
        logits, targets = logits[None], np.asarray(targets).reshape(1)
        scalar_target = True
    else:
        scalar_target = False
    c = logits.shape[1]
    rows = np.moveaxis(logits, 1, -1).reshape(-1, c)
    t = np.asarray(targets).reshape(-1)
    logp = _np_log_softmax(rows, -1)
    valid = t != ignore_index
    tt = np.where(valid, t, 0)
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    nll = -logp[np.arange(len(t)), tt] * w[tt]
    smooth = -logp.mean(axis=1)
    loss = np.where(valid, (1 - smoothing) * nll + smoothing * smooth, 0.0)
    if reduction == "none":
        return loss.reshape(() if scalar_target else np.asarray(targets).shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / np.where(valid, w[tt], 0).sum()


CE_CASES = {
    "basic": dict(shape=(5, 4)),
    "sum": dict(shape=(5, 4), reduction="sum"),
    "none": dict(shape=(5, 4), reduction="none"),
    "ignore_default": dict(shape=(5, 4), ignore=[1, 3], ignore_index=-100),
    "ignore_custom": dict(shape=(6, 3), ignore=[0], ignore_index=2),
    "ignore_none_reduction": dict(shape=(5, 4), ignore=[2], reduction="none"),
    "weight": dict(shape=(6, 4), weight=[0.5, 1.0, 2.0, 0.25]),
    "weight_sum": dict(shape=(6, 4), weight=[0.5, 1.0, 2.0, 0.25], reduction="sum"),
    "weight_ignore": dict(shape=(6, 4), weight=[0.5, 1.0, 2.0, 0.25], ignore=[4]),
    "smoothing": dict(shape=(5, 4), smoothing=0.1),
    "smoothing_sum_ignore": dict(shape=(5, 4), smoothing=0.2, reduction="sum", ignore=[0]),
    "NCd": dict(shape=(2, 3, 4)),
    "NCd_none": dict(shape=(2, 3, 4), reduction="none"),
    "NCd1d2_ignore_weight": dict(shape=(2, 3, 2, 2), ignore=[1], weight=[1.0, 2.0, 3.0]),
    "C_only": dict(shape=(4,)),
    "one_row": dict(shape=(1, 3)),
    "one_class": dict(shape=(3, 1)),
}


def _ce_inputs(case, seed=0):
    rng = np.random.default_rng(seed)
    shape = case["shape"]
    c = shape[0] if len(shape) == 1 else shape[1]
    t_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, c, t_shape)
    ii = case.get("ignore_index", -100)
    if case.get("ignore"):
        flat = t.reshape(-1)
        flat[case["ignore"]] = ii
    kwargs = dict(reduction=case.get("reduction", "mean"), ignore_index=ii)
    if "weight" in case:
        kwargs["weight"] = case["weight"]
    if "smoothing" in case:
        kwargs["label_smoothing"] = case["smoothing"]
    return rng.standard_normal(shape) * 2, t, kwargs


@pytest.mark.parametrize("name", list(CE_CASES))
def test_cross_entropy_forward(backend, name):
    logits, t, kw = _ce_inputs(CE_CASES[name])
    kw = dict(kw)
    if "weight" in kw:
        kw["weight"] = mg.tensor(kw["weight"])
    out = mg.cross_entropy(mg.tensor(logits), mg.tensor(t), **kw)
    ref_kw = dict(weight=CE_CASES[name].get("weight"), ignore_index=kw["ignore_index"],
                  reduction=kw["reduction"], smoothing=kw.get("label_smoothing", 0.0))
    expected = _np_cross_entropy(logits.astype(np.float32), t, **ref_kw)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float32
    assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(CE_CASES))
def test_cross_entropy_gradcheck(backend, name):
    logits, t, kw = _ce_inputs(CE_CASES[name], 1)
    assert mg.gradcheck(lambda x: mg.cross_entropy(x, t, **kw), [f64(logits)])


def test_cross_entropy_gradient_is_softmax_minus_onehot(backend):
    x = _data((4, 5), 2)
    t = np.array([0, 4, 2, 2])
    logits = mg.tensor(x, requires_grad=True)
    mg.cross_entropy(logits, mg.tensor(t), reduction="sum").backward()
    expected = _np_softmax(x.astype(np.float32), -1)
    expected[np.arange(4), t] -= 1
    assert_close(logits.grad, expected, rtol=1e-5, atol=1e-6)


def test_cross_entropy_ignored_rows_get_no_gradient(backend):
    logits = mg.tensor(_data((3, 4)), requires_grad=True)
    mg.cross_entropy(logits, mg.tensor([1, -100, 2])).backward()
    assert_close(logits.grad.numpy()[1], np.zeros(4))
    assert np.abs(logits.grad.numpy()[[0, 2]]).sum() > 0


def test_cross_entropy_all_rows_ignored_gives_nan_like_torch(backend):
    out = mg.cross_entropy(mg.tensor(_data((2, 3))), mg.tensor([-100, -100]))
    assert np.isnan(out.item())


def test_cross_entropy_accepts_numpy_and_list_targets(backend):
    x = mg.tensor(_data((3, 4)))
    a = mg.cross_entropy(x, [1, 0, 3]).item()
    b = mg.cross_entropy(x, np.array([1, 0, 3])).item()
    c = mg.cross_entropy(x, mg.tensor([1, 0, 3], dtype=mg.int32)).item()
    assert a == b == c


def test_cross_entropy_is_stable_for_huge_logits(backend):
    x = mg.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = mg.cross_entropy(x, [1])
    loss.backward()
    assert_close(loss, 2e4, rtol=1e-6)
    assert np.isfinite(x.grad.numpy()).all()


NLL_CASES = {k: CE_CASES[k] for k in ("basic", "sum", "none", "ignore_default", "ignore_custom", "weight",
                                      "weight_ignore", "NCd", "NCd1d2_ignore_weight", "C_only")}


@pytest.mark.parametrize("name", list(NLL_CASES))
def test_nll_loss(backend, name):
    logits, t, kw = _ce_inputs(NLL_CASES[name], 2)
    axis = 0 if logits.ndim == 1 else 1
    logp = _np_log_softmax(logits, axis)
    out = mg.nll_loss(mg.tensor(logp), mg.tensor(t), **kw)
    expected = _np_cross_entropy(logits, t, weight=kw.get("weight"), ignore_index=kw["ignore_index"],
                                 reduction=kw["reduction"])
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert mg.gradcheck(lambda lp: mg.nll_loss(lp, t, **kw), [f64(logp)])
    # nll_loss(log_softmax(x)) is cross_entropy(x), gradients included
    assert mg.gradcheck(lambda x: mg.nll_loss(mg.log_softmax(x, axis), t, **kw) - mg.cross_entropy(x, t, **kw),
                        [f64(logits)])


# -------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 1, 3)], ids=str)
def test_mse_and_l1(backend, reduction, shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    y = x + rng.uniform(0.2, 1.0, shape) * rng.choice([-1, 1], shape)  # |x - y| away from 0 (l1 kink)
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    assert_close(mg.mse_loss(mg.tensor(x), mg.tensor(y), reduction), red((x32 - y32) ** 2), rtol=1e-5, atol=1e-6)
    assert_close(mg.l1_loss(mg.tensor(x), mg.tensor(y), reduction), red(np.abs(x32 - y32)), rtol=1e-5, atol=1e-6)
    assert mg.gradcheck(lambda a, b: mg.mse_loss(a, b, reduction), [f64(x), f64(y)])
    assert mg.gradcheck(lambda a, b: mg.l1_loss(a, b, reduction), [f64(x), f64(y)])


def test_regression_losses_accept_numpy_targets(backend):
    x = f64(_data((3,)))
    y = np.array([0.5, -0.5, 2.0])
    assert_close(mg.mse_loss(x, y), np.mean((x.numpy() - y) ** 2), np.float64)
    assert mg.gradcheck(lambda a: mg.l1_loss(a, y, "sum"), [x])


# ------------------------------------------------------ BCE with logits
def _np_bce_logits(x, y, w=None):
    p = 1 / (1 + np.exp(-x))
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss if w is None else loss * w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(), (6,), (3, 4)], ids=str)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits(backend, reduction, shape, weighted):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(shape) * 2, rng.uniform(0, 1, shape)
    w = rng.uniform(0.5, 2.0, shape) if weighted else None
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    out = mg.binary_cross_entropy_with_logits(mg.tensor(x), mg.tensor(y),
                                              weight=None if w is None else mg.tensor(w), reduction=reduction)
    assert out.dtype == np.float32
    assert_close(out, red(_np_bce_logits(x.astype(np.float32), y.astype(np.float32), w)), rtol=1e-5, atol=1e-5)
    assert mg.gradcheck(lambda a, b: mg.binary_cross_entropy_with_logits(a, b, weight=w, reduction=reduction),
                        [f64(x), f64(y)])


def test_bce_with_logits_is_stable(backend):
    x = mg.tensor([-1000.0, -50.0, 50.0, 1000.0], requires_grad=True)
    y = mg.tensor([1.0, 0.0, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = mg.binary_cross_entropy_with_logits(x, y, reduction="none")
        loss.sum().backward()
    assert_close(loss, [1000.0, 0.0, 0.0, 1000.0], atol=1e-6)
    assert_close(x.grad, [-1.0, 0.0, 0.0, 1.0], atol=1e-6)


def test_bce_with_integer_targets_casts(backend):
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    loss = mg.binary_cross_entropy_with_logits(x, mg.tensor([1, 0]))
    assert loss.dtype == np.float32
    assert_close(loss, np.mean(_np_bce_logits(np.array([0.5, -1.0], np.float32), np.array([1.0, 0.0]))))


# --------------------------------------------------------------- embedding
@pytest.mark.parametrize("idx", [np.array([0, 2, 2, 4]), np.array([[1, 1], [3, 1]]), np.array(2),
                                 np.array([3, 3, 3])], ids=str)
def test_embedding(backend, idx):
    w = _data((5, 3))
    out = mg.embedding(mg.tensor(idx), mg.tensor(w))
    assert out.shape == idx.shape + (3,)
    assert_close(out, w.astype(np.float32)[idx])
    assert mg.gradcheck(lambda w: mg.embedding(mg.tensor(idx), w), [f64(w)])
    assert mg.gradcheck(lambda w: mg.embedding(idx, w) * 2.0, [f64(w)])  # numpy indices work too


def test_embedding_repeated_indices_accumulate_and_padding_gets_zero(backend):
    w = mg.tensor(np.ones((4, 2)), requires_grad=True)
    out = mg.embedding(mg.tensor([1, 1, 3, 0, 1]), w, padding_idx=0)
    assert_close(out[3], [1.0, 1.0])  # the padding row still reads its (here nonzero) value
    out.sum().backward()
    assert_close(w.grad, [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_accepts_int32_indices(backend):
    w = _data((5, 3))
    out = mg.embedding(mg.tensor([4, 0], dtype=mg.int32), mg.tensor(w))
    assert_close(out, w.astype(np.float32)[[4, 0]])


# ----------------------------------------------------------------- dropout
def test_dropout_mask_is_reproducible_and_scaled(backend):
    x = mg.ones(1000, dtype=mg.float32)
    mg.manual_seed(7)
    a = mg.dropout(x, 0.3)
    mg.manual_seed(7)
    b = mg.dropout(x, 0.3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    vals = np.unique(a.numpy())
    assert_close(vals, [0.0, 1 / 0.7])
    assert 0.25 < (a.numpy() == 0).mean() < 0.35
    c = mg.dropout(x, 0.3)  # the generator moved on: a different mask
    assert not np.array_equal(a.numpy(), c.numpy())


def test_dropout_backward_uses_the_same_mask(backend):
    x = mg.tensor(_data((4, 5)), requires_grad=True)
    y = mg.dropout(x, 0.5)
    y.backward(mg.ones(4, 5, dtype=mg.float32))
    mask = y.numpy() / x.numpy()
    assert_close(x.grad, mask)
    assert set(np.round(np.unique(mask), 5)) <= {0.0, 2.0}


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_gradcheck_with_fixed_mask(backend, p):
    def fn(x):
        mg.manual_seed(123)  # same mask on every call of the finite-difference loop
        return mg.dropout(x, p)
    assert mg.gradcheck(fn, [f64(_data((3, 4)))])


def test_dropout_eval_and_p0_are_identity(backend):
    x = mg.tensor(_data((3, 4)), requires_grad=True)
    assert mg.dropout(x, 0.5, training=False) is x
    assert mg.dropout(x, 0.0) is x
    assert mg.dropout(x, 0) is x
    mg.dropout(x, 0.5, training=False).sum().backward()
    assert_close(x.grad, np.ones((3, 4)))


def test_dropout_keeps_dtype(backend):
    x = f64(_data((10,)))
    assert mg.dropout(x, 0.5).dtype == np.float64
    assert mg.dropout(mg.tensor(_data((10,))), 0.5).dtype == np.float32


def test_float64_losses_keep_their_constants_in_float64(backend):
    logits = _data((6, 4), 5)
    t = np.array([0, 1, 2, 3, 1, -100])
    w = np.array([0.1, 0.7, 1.3, 2.9])
    out = mg.cross_entropy(mg.tensor(logits, dtype=mg.float64), t, weight=w)
    assert out.dtype == np.float64
    assert_close(out, _np_cross_entropy(logits, t, weight=w), np.float64)
    x, y, bw = _data((5,), 6), np.random.default_rng(7).uniform(0, 1, 5), np.linspace(0.1, 0.9, 5)
    out = mg.binary_cross_entropy_with_logits(mg.tensor(x, dtype=mg.float64), y, weight=bw, reduction="sum")
    assert_close(out, _np_bce_logits(x, y, bw).sum(), np.float64)
    assert_close(mg.mse_loss(mg.tensor(x, dtype=mg.float64), y), np.mean((x - y) ** 2), np.float64)
