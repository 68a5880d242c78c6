"""Learning-rate schedules: each one's lr sequence, worked out by hand."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler


def make_opt(lr=1.0, groups=1):
    ps = [mg.tensor([1.0], requires_grad=True) for _ in range(groups)]
    return optim.SGD([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ps)], lr=lr)


def lrs(sched, n, group=0):
    """The lr at epoch 0 (after construction) and after each of n steps."""
    out = [sched.optimizer.param_groups[group]["lr"]]
    for _ in range(n):
        sched.step()
        out.append(sched.optimizer.param_groups[group]["lr"])
    return out


def test_step_lr():
    s = lr_scheduler.StepLR(make_opt(), step_size=2, gamma=0.5)
    np.testing.assert_allclose(lrs(s, 6), [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125])
    assert s.last_epoch == 6 and s.get_last_lr() == [0.125]


def test_multistep_lr_counts_repeated_milestones():
    s = lr_scheduler.MultiStepLR(make_opt(), milestones=[5, 2, 5], gamma=0.1)
    np.testing.assert_allclose(lrs(s, 6), [1, 1, 0.1, 0.1, 0.1, 0.001, 0.001])


def test_exponential_lr():
    s = lr_scheduler.ExponentialLR(make_opt(2.0), gamma=0.5)
    np.testing.assert_allclose(lrs(s, 4), [2, 1, 0.5, 0.25, 0.125])


def test_cosine_annealing_closed_form_and_beyond_t_max():
    s = lr_scheduler.CosineAnnealingLR(make_opt(1.1), T_max=4, eta_min=0.1)
    c = math.cos(math.pi / 4)
    expected = [1.1, 0.1 + (1 + c) / 2, 0.6, 0.1 + (1 - c) / 2, 0.1, 0.1 + (1 - c) / 2, 0.6, 0.1 + (1 + c) / 2, 1.1]
    np.testing.assert_allclose(lrs(s, 8), expected, rtol=1e-12)


def test_lambda_lr_single_and_per_group():
    s = lr_scheduler.LambdaLR(make_opt(0.5), lambda e: 1 / (e + 1))
    np.testing.assert_allclose(lrs(s, 3), [0.5, 0.25, 0.5 / 3, 0.125])
    opt = make_opt(1.0, groups=2)
    s2 = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, lambda e: 0.5 ** e])
    s2.step()
    s2.step()
    assert s2.get_last_lr() == [1.0, 0.5]  # group 1 starts at 2.0
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_every_group_is_scheduled_from_its_own_base_lr():
    opt = make_opt(1.0, groups=2)
    s = lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    assert s.base_lrs == [1.0, 2.0] and [g["initial_lr"] for g in opt.param_groups] == [1.0, 2.0]
    s.step()
    np.testing.assert_allclose(s.get_last_lr(), [0.1, 0.2])


def test_multiplicative_schedulers_chain():
    opt = make_opt()
    a = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    b = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    out = []
    for _ in range(3):
        a.step()
        b.step()
        out.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(out, [0.5, 0.025, 0.0125])


def test_scheduler_state_dict_round_trip():
    opt = make_opt()
    s = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3
    opt2 = make_opt()
    opt2.load_state_dict(opt.state_dict())
    s2 = lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5, last_epoch=2)  # resuming needs initial_lr
    s2.load_state_dict(sd)
    assert lrs(s2, 3) == lrs(s, 3)
    with pytest.raises(ValueError, match="unknown entries"):
        s2.load_state_dict({"nonsense": 1})
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_opt(), step_size=2, last_epoch=4)


def test_lambda_state_dict_leaves_out_functions():
    s = lr_scheduler.LambdaLR(make_opt(), lambda e: 0.9 ** e)
    s.step()
    sd = s.state_dict()
    assert "lr_lambdas" not in sd and sd["last_epoch"] == 1


def test_scheduler_argument_checks():
    with pytest.raises(TypeError, match="expected an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(make_opt(), step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(make_opt(), T_max=0)


# --------------------------------------------------------- ReduceLROnPlateau
def plateau_lrs(sched, metrics):
    out = []
    for m in metrics:
        sched.step(m)
        out.append(sched.optimizer.param_groups[0]["lr"])
    return out


def test_plateau_patience():
    s = lr_scheduler.ReduceLROnPlateau(make_opt(), factor=0.5, patience=2)
    # 10, 9 improve; then three bad epochs in a row exceed patience 2 -> cut; three more -> cut again
    got = plateau_lrs(s, [10, 9, 9, 9, 9, 9, 9, 9])
    assert got == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert s.best == 9 and s.num_bad_epochs == 0


def test_plateau_cooldown():
    s = lr_scheduler.ReduceLROnPlateau(make_opt(), factor=0.5, patience=1, cooldown=2)
    got = plateau_lrs(s, [5, 6, 6, 6, 6, 6, 6, 6])
    # cut at epoch 3 (2 bad > 1); epochs 4-5 are cooldown (not counted); 6, 7 bad -> cut at 7
    assert got == [1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_thresholds_and_mode_max():
    rel = lr_scheduler.ReduceLROnPlateau(make_opt(), patience=0, threshold=0.1)
    assert plateau_lrs(rel, [10, 9.5]) == [1, 0.1]      # 9.5 is not below 10 * 0.9
    ab = lr_scheduler.ReduceLROnPlateau(make_opt(), patience=0, threshold=0.4, threshold_mode="abs")
    assert plateau_lrs(ab, [10, 9.5, 9.0]) == [1, 1, 1]  # 9.5 < 10 - 0.4, 9.0 < 9.5 - 0.4
    mx = lr_scheduler.ReduceLROnPlateau(make_opt(), mode="max", patience=0)
    assert plateau_lrs(mx, [0.5, 0.6, 0.6]) == [1, 1, pytest.approx(0.1)]


def test_plateau_min_lr_and_eps():
    s = lr_scheduler.ReduceLROnPlateau(make_opt(1.0, groups=2), patience=0, factor=0.5, min_lr=[0.3, 0.0])
    for m in [1, 1, 1, 1]:
        s.step(m)
    assert s.get_last_lr() == [0.3, 2.0 * 0.5 ** 3]
    tiny = lr_scheduler.ReduceLROnPlateau(make_opt(1e-9), patience=0, factor=0.5, eps=1e-8)
    assert plateau_lrs(tiny, [1, 1]) == [1e-9, 1e-9]   # a change below eps is skipped


def test_plateau_accepts_tensor_metric_and_checks_arguments():
    s = lr_scheduler.ReduceLROnPlateau(make_opt(), patience=0)
    s.step(mg.tensor(3.0))
    assert s.best == 3.0
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(make_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.ReduceLROnPlateau(make_opt(), mode="up")
    with pytest.raises(ValueError, match="threshold_mode"):
        lr_scheduler.ReduceLROnPlateau(make_opt(), threshold_mode="pct")
    with pytest.raises(ValueError, match="expected 1 min_lrs"):
        lr_scheduler.ReduceLROnPlateau(make_opt(), min_lr=[0.1, 0.2])


def test_plateau_state_dict_round_trip():
    s = lr_scheduler.ReduceLROnPlateau(make_opt(), patience=2, cooldown=1)
    plateau_lrs(s, [3, 2, 2, 2])
    sd = s.state_dict()
    assert sd["best"] == 2 and sd["num_bad_epochs"] == 2
    s2 = lr_scheduler.ReduceLROnPlateau(make_opt(), patience=2, cooldown=1)
    s2.load_state_dict(sd)
    assert plateau_lrs(s2, [2, 2, 2]) == plateau_lrs(s, [2, 2, 2])
