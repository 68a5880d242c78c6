"""Side by side with PyTorch: same data, same options, same numbers (float64). Skipped without torch."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler

SHAPES = [(3, 4), (5,)]


def grad_of(values, i):
    """A fixed gradient field (not a quadratic: the moments see changing, mixed-sign gradients)."""
    return 2.0 * (values - 0.3 * (i + 1)) + 0.5 * np.cos(3.0 * values) + 0.1 * values ** 2


OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.2, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, betas=(0.5, 0.7), maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, alpha=0.8)),
    ("RMSprop", dict(lr=0.01, eps=1e-4, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, eps=1e-6, maximize=True, lr_decay=0.05)),
]


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_optimizer_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    init = [rng.standard_normal(s) for s in SHAPES]
    ours = [mg.tensor(a, dtype=mg.float64, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in init]
    lr = kw.get("lr", 0.01)
    # two groups, the second with its own lr, so per-group hyper-parameters are exercised too
    opt = getattr(optim, name)([{"params": [ours[0]]}, {"params": [ours[1]], "lr": lr / 2}], **kw)
    ref = getattr(torch.optim, name)([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": lr / 2}], **kw)
    for step in range(8):
        for i, (p, t) in enumerate(zip(ours, theirs)):
            if step == 3 and i == 1:  # one step without a gradient: both must skip it
                p.grad, t.grad = None, None
                continue
            g = grad_of(p.numpy(), i)
            p.grad = mg.tensor(g, dtype=mg.float64)
            t.grad = torch.tensor(grad_of(t.detach().numpy(), i), dtype=torch.float64)
        opt.step()
        ref.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    # and the state each keeps
    for p, t in zip(ours, theirs):
        for key, value in ref.state[t].items():
            if key == "step":
                assert opt.state[p]["step"] == int(value)
            elif value is not None:
                np.testing.assert_allclose(opt.state[p][key], value.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(s) * 3 for s in SHAPES]
    ours = [mg.tensor(np.zeros(s), dtype=mg.float64, requires_grad=True) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = mg.tensor(g, dtype=mg.float64)
        t.grad = torch.tensor(g)
    total = optim.clip_grad_norm_(ours, 1.5, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type=norm_type)
    assert total == pytest.approx(ref.item(), rel=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    optim.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 7], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + 0.5 * e))),
]


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[n for n, _ in SCHEDULERS])
def test_scheduler_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    ours, ref = _pair(torch, 0.5)
    s = getattr(lr_scheduler, name)(ours, **kw)
    r = getattr(torch.optim.lr_scheduler, name)(ref, **kw)
    for _ in range(10):
        ours.step()
        ref.step()
        s.step()
        r.step()
        np.testing.assert_allclose(s.get_last_lr(), r.get_last_lr(), rtol=1e-12)
        np.testing.assert_allclose([g["lr"] for g in ours.param_groups], [g["lr"] for g in ref.param_groups],
                                   rtol=1e-12)


def test_chained_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    ours, ref = _pair(torch, 1.0)
    mine = [lr_scheduler.StepLR(ours, 2, 0.5), lr_scheduler.MultiStepLR(ours, [3, 4], 0.1),
            lr_scheduler.ExponentialLR(ours, 0.9)]
    theirs = [torch.optim.lr_scheduler.StepLR(ref, 2, 0.5), torch.optim.lr_scheduler.MultiStepLR(ref, [3, 4], 0.1),
              torch.optim.lr_scheduler.ExponentialLR(ref, 0.9)]
    for _ in range(7):
        ours.step()
        ref.step()
        for a, b in zip(mine, theirs):
            a.step()
            b.step()
        np.testing.assert_allclose(ours.param_groups[0]["lr"], ref.param_groups[0]["lr"], rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(factor=0.5, patience=1), dict(factor=0.2, patience=0, cooldown=2),
                                dict(mode="max", threshold=0.05, patience=1),
                                dict(threshold_mode="abs", threshold=0.5, patience=1, min_lr=0.06)])
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    ours, ref = _pair(torch, 1.0)
    s = lr_scheduler.ReduceLROnPlateau(ours, **kw)
    r = torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kw)
    metrics = [5.0, 4.0, 4.1, 3.9, 3.9, 3.95, 3.0, 3.0, 2.99, 3.5, 4.0, 4.5, 1.0, 1.2]
    for m in metrics:
        s.step(m)
        r.step(m)
        np.testing.assert_allclose(s.get_last_lr(), r.get_last_lr(), rtol=1e-12)
        assert (s.best, s.num_bad_epochs, s.cooldown_counter) == (r.best, r.num_bad_epochs, r.cooldown_counter)


def _pair(torch, lr):
    """A minigrad and a torch SGD over one parameter each, in two groups (the second at twice the lr)."""
    ours = optim.SGD([{"params": [mg.tensor([1.0], requires_grad=True)]},
                      {"params": [mg.tensor([1.0], requires_grad=True)], "lr": 2 * lr}], lr=lr)
    ref = torch.optim.SGD([{"params": [torch.ones(1, requires_grad=True)]},
                           {"params": [torch.ones(1, requires_grad=True)], "lr": 2 * lr}], lr=lr)
    return ours, ref
