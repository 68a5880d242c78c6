"""Each optimizer's update rule against hand-computed one- and two-step results.

The expected numbers are worked out from the update equations in each optimizer's
docstring, on scalars or tiny arrays, in float64 (so the tolerance can be tight).
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim


def param(values, dtype=np.float64):
    return mg.tensor(np.asarray(values, dtype=dtype), dtype=dtype, requires_grad=True)


def set_grad(p, g):
    p.grad = mg.tensor(np.asarray(g, dtype=p.dtype), dtype=p.dtype)


def steps(opt, p, grads):
    """Take one optimizer step per gradient in ``grads``; return the parameter values after each."""
    out = []
    for g in grads:
        set_grad(p, g)
        opt.step()
        out.append(p.numpy().copy())
    return out


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------- SGD
def test_sgd_plain_step(backend):
    p = param([1.0, 2.0])
    (p1,) = steps(optim.SGD([p], lr=0.1), p, [[0.5, -1.0]])
    close(p1, [0.95, 2.1])


def test_sgd_momentum_two_steps_and_buffer(backend):
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p1, p2 = steps(opt, p, [[1.0], [2.0]])
    close(p1, [0.9])          # first buffer = g1 = 1
    close(p2, [0.61])         # buffer = 0.9 * 1 + 2 = 2.9
    close(opt.state[p]["momentum_buffer"], [2.9])


def test_sgd_dampening_does_not_touch_first_buffer(backend):
    p = param([1.0])
    p1, p2 = steps(optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p, [[1.0], [2.0]])
    close(p1, [0.9])          # buffer starts at g1, undampened
    close(p2, [0.71])         # buffer = 0.9 * 1 + 0.5 * 2 = 1.9


def test_sgd_nesterov(backend):
    p = param([1.0])
    p1, p2 = steps(optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, [[1.0], [2.0]])
    close(p1, [0.81])         # d = 1 + 0.9 * 1
    close(p2, [0.349])        # buf = 2.9; d = 2 + 0.9 * 2.9 = 4.61


def test_sgd_weight_decay_and_maximize(backend):
    p = param([2.0])
    (p1,) = steps(optim.SGD([p], lr=0.1, weight_decay=0.1), p, [[1.0]])
    close(p1, [1.88])         # d = 1 + 0.1 * 2
    q = param([2.0])
    (q1,) = steps(optim.SGD([q], lr=0.1, maximize=True), q, [[1.0]])
    close(q1, [2.1])          # ascent


def test_sgd_momentum_zero_keeps_no_state():
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1)
    steps(opt, p, [[1.0]])
    assert opt.state[p] == {}


# -------------------------------------------------------------------- Adam
def test_adam_first_step_is_lr_times_sign(backend):
    g = np.array([1e-3, -5.0, 100.0, 0.3, -1e4])
    p = param(np.zeros(5))
    (p1,) = steps(optim.Adam([p], lr=0.01), p, [g])
    np.testing.assert_allclose(p1, -0.01 * np.sign(g), rtol=1e-4)


def test_adam_two_steps(backend):
    p = param([1.0])
    opt = optim.Adam([p], lr=0.1, eps=0.0)
    p1, p2 = steps(opt, p, [[1.0], [-1.0]])
    close(p1, [0.9])
    # m2 = 0.9*0.1 - 0.1 = -0.01, m_hat = -0.01/0.19; v2 = 0.999*0.001 + 0.001 = 0.001999 = 1 - 0.999^2, v_hat = 1
    close(p2, [0.9 + 0.1 * 0.01 / 0.19])
    st = opt.state[p]
    assert st["step"] == 2
    close(st["exp_avg"], [-0.01])
    close(st["exp_avg_sq"], [0.001999])


def test_adam_coupled_vs_decoupled_weight_decay(backend):
    # g = -0.5 at p = 2 with weight_decay 0.5: coupled g' = -0.5 + 1 = +0.5 so the step is -lr;
    # decoupled first shrinks p by (1 - lr*wd) = 0.95 -> 1.9, then steps +lr on g = -0.5.
    a, w = param([2.0]), param([2.0])
    (a1,) = steps(optim.Adam([a], lr=0.1, weight_decay=0.5, eps=0.0), a, [[-0.5]])
    (w1,) = steps(optim.AdamW([w], lr=0.1, weight_decay=0.5, eps=0.0), w, [[-0.5]])
    close(a1, [1.9])
    close(w1, [2.0])


def test_adamw_default_weight_decay(backend):
    p = param([10.0])
    opt = optim.AdamW([p], lr=0.1, eps=0.0)
    assert opt.param_groups[0]["weight_decay"] == 1e-2
    (p1,) = steps(opt, p, [[1.0]])
    close(p1, [10.0 * (1 - 0.1 * 1e-2) - 0.1])


def test_adam_amsgrad_uses_running_max(backend):
    lr, b1, b2 = 0.1, 0.9, 0.5
    pa, pp = param([0.0]), param([0.0])
    ams = optim.Adam([pa], lr=lr, betas=(b1, b2), eps=0.0, amsgrad=True)
    a1, a2 = steps(ams, pa, [[10.0], [0.1]])
    plain = optim.Adam([pp], lr=lr, betas=(b1, b2), eps=0.0)
    _, q2 = steps(plain, pp, [[10.0], [0.1]])
    close(a1, [-0.1])
    # m2 = 0.9*1 + 0.1*0.1 = 0.91; v2 = 0.5*50 + 0.5*0.01 = 25.005 but v_max stays 50
    close(a2, [-0.1 - lr / (1 - b1**2) * 0.91 / (np.sqrt(50.0) / np.sqrt(1 - b2**2))])
    close(q2, [-0.1 - lr / (1 - b1**2) * 0.91 / (np.sqrt(25.005) / np.sqrt(1 - b2**2))])
    close(ams.state[pa]["max_exp_avg_sq"], [50.0])
    assert "max_exp_avg_sq" not in plain.state[pp]  # only kept with amsgrad


def test_adam_maximize(backend):
    p = param([0.0, 0.0])
    (p1,) = steps(optim.Adam([p], lr=0.01, maximize=True), p, [[3.0, -2.0]])
    np.testing.assert_allclose(p1, [0.01, -0.01], rtol=1e-6)


# ----------------------------------------------------------------- RMSprop
def test_rmsprop_plain(backend):
    p = param([1.0])
    (p1,) = steps(optim.RMSprop([p], lr=0.01, alpha=0.9, eps=0.0), p, [[2.0]])
    close(p1, [1.0 - 0.01 * 2.0 / np.sqrt(0.4)])  # s = 0.1 * 4


def test_rmsprop_centered(backend):
    p = param([1.0])
    opt = optim.RMSprop([p], lr=0.01, alpha=0.9, eps=0.0, centered=True)
    (p1,) = steps(opt, p, [[2.0]])
    close(p1, [1.0 - 0.01 * 2.0 / 0.6])  # s = 0.4, a = 0.2, sqrt(0.4 - 0.04) = 0.6
    close(opt.state[p]["grad_avg"], [0.2])


def test_rmsprop_momentum_two_steps(backend):
    p = param([1.0])
    opt = optim.RMSprop([p], lr=0.01, alpha=0.9, eps=0.0, momentum=0.5)
    p1, p2 = steps(opt, p, [[2.0], [2.0]])
    b1 = 2.0 / np.sqrt(0.4)
    b2 = 0.5 * b1 + 2.0 / np.sqrt(0.9 * 0.4 + 0.4)
    close(p1, [1.0 - 0.01 * b1])
    close(p2, [1.0 - 0.01 * b1 - 0.01 * b2])
    close(opt.state[p]["momentum_buffer"], [b2])


def test_rmsprop_weight_decay_and_maximize(backend):
    p = param([1.0])
    (p1,) = steps(optim.RMSprop([p], lr=0.01, alpha=0.9, eps=0.0, weight_decay=1.0), p, [[1.0]])
    close(p1, [1.0 - 0.01 * 2.0 / np.sqrt(0.4)])  # g' = 1 + 1 * 1 = 2
    q = param([1.0])
    (q1,) = steps(optim.RMSprop([q], lr=0.01, alpha=0.9, eps=0.0, maximize=True), q, [[2.0]])
    close(q1, [1.0 + 0.01 * 2.0 / np.sqrt(0.4)])


# ----------------------------------------------------------------- Adagrad
def test_adagrad_lr_decay_two_steps(backend):
    p = param([1.0])
    opt = optim.Adagrad([p], lr=0.1, lr_decay=0.5, eps=0.0)
    p1, p2 = steps(opt, p, [[3.0], [4.0]])
    close(p1, [0.9])                        # clr = 0.1, S = 9
    close(p2, [0.9 - 0.1 / 1.5 * 4.0 / 5.0])  # clr = 0.1 / (1 + 1 * 0.5), S = 25
    close(opt.state[p]["sum"], [25.0])


def test_adagrad_initial_accumulator_weight_decay_maximize(backend):
    p = param([1.0])
    (p1,) = steps(optim.Adagrad([p], lr=0.1, initial_accumulator_value=16.0, eps=0.0), p, [[3.0]])
    close(p1, [1.0 - 0.1 * 3.0 / 5.0])      # S = 16 + 9
    q = param([1.0])
    (q1,) = steps(optim.Adagrad([q], lr=0.1, weight_decay=2.0, eps=0.0, maximize=True), q, [[1.0]])
    # maximize negates first: g' = -1 + 2 * 1 = 1, S = 1
    close(q1, [0.9])


# ------------------------------------------------------------ shared rules
ALL = [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adam, dict(lr=0.1, amsgrad=True)),
       (optim.AdamW, dict(lr=0.1)), (optim.RMSprop, dict(lr=0.1, momentum=0.5, centered=True)),
       (optim.Adagrad, dict(lr=0.1))]


@pytest.mark.parametrize("cls,kw", ALL, ids=[c.__name__ for c, _ in ALL])
def test_float32_in_place_update_and_state_dtype(cls, kw, backend):
    p = param([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    before = p.data
    opt = cls([p], **kw)
    steps(opt, p, [[[0.1, 0.2], [-0.3, 0.4]]] * 2)
    assert p.data is before and p.dtype == np.float32   # updated in place, dtype kept
    assert not np.allclose(p.numpy(), [[1.0, -2.0], [0.5, 3.0]])
    for name, v in opt.state[p].items():
        if name != "step":
            assert v.dtype == np.float32 and v.shape == (2, 2), name


@pytest.mark.parametrize("cls,kw", ALL, ids=[c.__name__ for c, _ in ALL])
def test_params_without_grad_are_skipped(cls, kw):
    p, q = param([1.0, 2.0]), param([3.0])
    opt = cls([p, q], **kw)
    steps(opt, p, [[1.0, 1.0]])
    assert q not in opt.state
    close(q.numpy(), [3.0])


@pytest.mark.parametrize("cls,kw,kernel", [(optim.SGD, dict(momentum=0.9), "sgd_step"),
                                           (optim.Adam, {}, "adam_step"), (optim.AdamW, {}, "adam_step"),
                                           (optim.RMSprop, {}, "rmsprop_step"), (optim.Adagrad, {}, "adagrad_step")])
def test_one_kernel_call_per_parameter(cls, kw, kernel, monkeypatch):
    numpy_backend = mg.backends.get_backend("numpy")
    calls = []
    real = getattr(numpy_backend, kernel)
    monkeypatch.setattr(numpy_backend, kernel, lambda *a: calls.append(a[0].shape) or real(*a))
    with mg.backend("numpy"):
        ps = [param(np.ones(3)), param(np.ones((2, 2))), param([1.0])]
        opt = cls(ps, **kw)
        for p in ps[:2]:
            set_grad(p, np.ones(p.shape))
        opt.step()
        opt.step()
    assert calls == [(3,), (2, 2)] * 2


def test_param_groups_have_their_own_lr(backend):
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": b}], lr=0.1, momentum=0.0)
    set_grad(a, [1.0])
    set_grad(b, [1.0])
    opt.step()
    close(a.numpy(), [0.5])
    close(b.numpy(), [0.9])
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0


def test_add_param_group_takes_defaults_and_steps_it():
    a, b = param([1.0]), param([2.0])
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.5, 0.6)
    set_grad(b, [1.0])
    opt.step()
    np.testing.assert_allclose(b.numpy(), [1.9], rtol=1e-6)


def test_zero_grad():
    p = param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    set_grad(p, [3.0, 4.0])
    opt.zero_grad(set_to_none=False)
    close(p.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_step_closure_returns_loss_and_runs_with_grad():
    p = param([3.0])
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    close(p.numpy(), [3.0 - 0.1 * 6.0])
    assert opt.step() is None


def test_gradient_of_the_wrong_shape_is_refused():
    p = param([1.0, 2.0, 3.0])
    opt = optim.SGD([p], lr=0.1)
    set_grad(p, [1.0])  # would broadcast silently inside the kernel
    with pytest.raises(ValueError, match=r"SGD.step: a parameter of shape \(3,\) has a gradient of shape \(1,\)"):
        opt.step()
    close(p.numpy(), [1.0, 2.0, 3.0])
