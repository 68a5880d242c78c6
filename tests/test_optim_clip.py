"""Gradient clipping and the L1/L2 penalty helpers."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim


def with_grad(values, grad, dtype=np.float64):
    p = mg.tensor(np.asarray(values, dtype=dtype), dtype=dtype, requires_grad=True)
    p.grad = mg.tensor(np.asarray(grad, dtype=dtype), dtype=dtype)
    return p


def two_params(dtype=np.float64):
    # gradients [3, 4] and [[12]]: 2-norm 13, 1-norm 19, inf-norm 12
    return [with_grad([0.0, 0.0], [3.0, 4.0], dtype), with_grad([[0.0]], [[12.0]], dtype)]


def test_clip_grad_norm_returns_norm_and_scales(backend):
    ps = two_params()
    total = optim.clip_grad_norm_(ps, max_norm=6.5)
    assert isinstance(total, float) and total == pytest.approx(13.0, rel=1e-12)
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 * coef, 4 * coef], rtol=1e-12)
    np.testing.assert_allclose(ps[1].grad.numpy(), [[12 * coef]], rtol=1e-12)
    after = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in ps))
    assert after == pytest.approx(6.5, rel=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone(backend):
    ps = two_params()
    before = [p.grad.data for p in ps]
    assert optim.clip_grad_norm_(ps, max_norm=20.0) == pytest.approx(13.0)
    assert all(p.grad.data is b for p, b in zip(ps, before))
    np.testing.assert_array_equal(ps[0].grad.numpy(), [3.0, 4.0])


def test_clip_grad_norm_replaces_the_array_instead_of_writing_into_it():
    ps = two_params()
    old = ps[0].grad.data
    optim.clip_grad_norm_(ps, max_norm=1.0)
    assert ps[0].grad.data is not old
    np.testing.assert_array_equal(old, [3.0, 4.0])


@pytest.mark.parametrize("norm_type,expected", [(float("inf"), 12.0), (1, 19.0), (3, (27 + 64 + 1728) ** (1 / 3))])
def test_clip_grad_norm_other_orders(norm_type, expected, backend):
    ps = two_params()
    total = optim.clip_grad_norm_(ps, max_norm=2.0, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-12)
    coef = 2.0 / (expected + 1e-6)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 * coef, 4 * coef], rtol=1e-12)


def test_clip_grad_norm_skips_missing_grads_and_accepts_one_tensor():
    p = with_grad([1.0, 1.0], [-6.0, 8.0])
    q = mg.tensor([1.0], requires_grad=True)  # no grad yet
    assert optim.clip_grad_norm_([p, q], 5.0) == pytest.approx(10.0)
    assert q.grad is None
    np.testing.assert_allclose(p.grad.numpy(), [-3.0, 4.0], rtol=1e-6)
    assert optim.clip_grad_norm_(with_grad([0.0], [2.0]), 1.0) == pytest.approx(2.0)
    assert optim.clip_grad_norm_([q], 1.0) == 0.0


def test_clip_grad_norm_float32_keeps_dtype():
    ps = two_params(np.float32)
    optim.clip_grad_norm_(ps, 1.0)
    assert ps[0].grad.dtype == np.float32
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 / 13, 4 / 13], rtol=1e-5)


def test_clip_grad_norm_nonfinite():
    p = with_grad([0.0, 0.0], [np.nan, 1.0])
    with pytest.raises(RuntimeError, match="nan"):
        optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isnan(optim.clip_grad_norm_([p], 1.0))
    with pytest.raises(ValueError, match="norm_type"):
        optim.clip_grad_norm_([p], 1.0, norm_type=0)


def test_clip_grad_value(backend):
    p = with_grad([0.0, 0.0, 0.0], [-3.0, 0.5, 2.0])
    q = mg.tensor([1.0], requires_grad=True)
    old = p.grad.data
    assert optim.clip_grad_value_([p, q], 1.0) is None
    np.testing.assert_array_equal(p.grad.numpy(), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(old, [-3.0, 0.5, 2.0])  # a new array, the old one intact
    assert q.grad is None
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value_([p], -1.0)


# -------------------------------------------------------------- penalties
def weights():
    return [mg.tensor([1.0, -2.0], dtype=mg.float64, requires_grad=True),
            mg.tensor([[3.0]], dtype=mg.float64, requires_grad=True)]


def test_l1_penalty_value_and_gradient(backend):
    ws = weights()
    pen = optim.l1_penalty(ws, 0.1)
    assert pen.shape == () and pen.item() == pytest.approx(0.6)
    pen.backward()
    np.testing.assert_allclose(ws[0].grad.numpy(), [0.1, -0.1])
    np.testing.assert_allclose(ws[1].grad.numpy(), [[0.1]])


def test_l2_penalty_value_and_gradient(backend):
    ws = weights()
    pen = optim.l2_penalty(ws, 0.1)
    assert pen.item() == pytest.approx(0.05 * (1 + 4 + 9))  # coeff / 2 * sum w^2
    pen.backward()
    np.testing.assert_allclose(ws[0].grad.numpy(), [0.1, -0.2])  # coeff * w
    np.testing.assert_allclose(ws[1].grad.numpy(), [[0.3]])


def test_l2_penalty_with_sgd_equals_weight_decay():
    a, b = weights(), weights()
    opt_a = optim.SGD(a, lr=0.1, momentum=0.9)
    opt_b = optim.SGD(b, lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(3):
        for opt, ws, pen in ((opt_a, a, 0.01), (opt_b, b, 0.0)):
            opt.zero_grad()
            loss = ((ws[0] - 1.0) * (ws[0] - 1.0)).sum() + (ws[1] * 2.0).sum()
            if pen:
                loss = loss + optim.l2_penalty(ws, pen)
            loss.backward()
            opt.step()
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-12)


def test_penalties_reject_empty_and_non_tensors():
    with pytest.raises(ValueError, match="l1_penalty: got an empty parameter list"):
        optim.l1_penalty([], 0.1)
    with pytest.raises(TypeError, match="l2_penalty: parameter 0"):
        optim.l2_penalty([np.ones(2)], 0.1)
    assert optim.l2_penalty(weights()[0], 2.0).item() == pytest.approx(5.0)
