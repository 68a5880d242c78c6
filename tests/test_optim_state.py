"""Optimizer construction checks, state_dict round trips and load_state_dict's refusals."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

CONFIGS = [(optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
           (optim.Adam, dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
           (optim.AdamW, dict(lr=0.05, maximize=False)),
           (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
           (optim.Adagrad, dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2))]
IDS = [c.__name__ for c, _ in CONFIGS]


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [mg.tensor(rng.standard_normal(s), dtype=mg.float64, requires_grad=True) for s in [(3, 2), (4,)]]


def train(opt, params, n):
    """n steps on a fixed non-quadratic loss, its gradient taken by minigrad's autograd."""
    for _ in range(n):
        opt.zero_grad()
        loss = None
        for i, p in enumerate(params):
            term = ((p - 0.5 * i) * (p - 0.5 * i)).sum() + (p * p * p).sum() * 0.1
            loss = term if loss is None else loss + term
        loss.backward()
        opt.step()


def groups(params, lr):
    return [{"params": [params[0]]}, {"params": [params[1]], "lr": lr * 3}]


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_round_trip_continues_identically(cls, kw):
    ref = make_params()
    opt = cls(groups(ref, kw["lr"]), **kw)
    train(opt, ref, 6)

    first = make_params()
    opt1 = cls(groups(first, kw["lr"]), **kw)
    train(opt1, first, 3)
    saved = opt1.state_dict()
    resumed = [mg.tensor(p.numpy(), dtype=mg.float64, requires_grad=True) for p in first]
    opt2 = cls(groups(resumed, 0.123), **kw)  # different lr: the checkpoint's must win
    opt2.load_state_dict(saved)
    train(opt2, resumed, 3)
    for a, b in zip(resumed, ref):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=IDS)
def test_state_dict_is_plain_data_and_a_snapshot(cls, kw):
    params = make_params()
    opt = cls(params, **kw)
    train(opt, params, 2)
    sd = opt.state_dict()

    def check(x):
        if isinstance(x, dict):
            for k, v in x.items():
                assert isinstance(k, (int, str)), k
                check(v)
        elif isinstance(x, list):
            for v in x:
                check(v)
        else:
            assert x is None or isinstance(x, (bool, int, float, str, np.ndarray)), type(x)
    check(sd)
    assert sorted(sd["state"]) == [0, 1] and sd["param_groups"][0]["params"] == [0, 1]
    name, arr = next((n, v) for n, v in sd["state"][0].items() if isinstance(v, np.ndarray))
    arr += 100.0  # mutating the snapshot must not reach the optimizer
    assert not np.allclose(opt.state[params[0]][name], arr)


def test_load_accepts_what_a_file_round_trip_leaves():
    """String keys, lists for tuples and 0-d arrays for numbers (as an .npz round trip may give)."""
    params = make_params()
    opt = optim.Adam(params, lr=0.01, betas=(0.8, 0.9))
    train(opt, params, 2)
    sd = opt.state_dict()
    mangled = {"state": {str(i): {k: np.asarray(v) for k, v in e.items()} for i, e in sd["state"].items()},
               "param_groups": {"0": {k: (np.asarray(v) if not isinstance(v, list) else v)
                                      for k, v in sd["param_groups"][0].items()}}}
    fresh = make_params()
    opt2 = optim.Adam(fresh)
    opt2.load_state_dict(mangled)
    g = opt2.param_groups[0]
    assert g["betas"] == (0.8, 0.9) and g["lr"] == 0.01 and isinstance(g["amsgrad"], bool)
    assert opt2.state[fresh[0]]["step"] == 2 and isinstance(opt2.state[fresh[0]]["step"], int)
    np.testing.assert_array_equal(opt2.state[fresh[1]]["exp_avg"], opt.state[params[1]]["exp_avg"])


def _snapshot(opt):
    return ([dict(g) for g in opt.param_groups],
            {id(p): {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
             for p, s in opt.state.items()})


@pytest.mark.parametrize("mutate,match", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "2 parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].append(7), "group 0 has 3 parameters"),
    (lambda sd: sd["state"][1].__setitem__("exp_avg", np.zeros((5,))), r"shape \(5,\).*shape \(4,\)"),
    (lambda sd: sd["state"].__setitem__(9, sd["state"][0]), "parameter 9"),
    (lambda sd: sd["state"][0].pop("exp_avg_sq"), "lacks exp_avg_sq"),
    (lambda sd: sd["state"][0].__setitem__("step", np.ones(3)), "should be a number"),
    (lambda sd: sd["param_groups"][0].__setitem__("lr", -1.0), "invalid learning rate"),
    (lambda sd: sd.pop("state"), "'state' and 'param_groups'"),
])
def test_load_mismatch_raises_and_changes_nothing(mutate, match):
    src = make_params()
    donor = optim.Adam(src, lr=0.5)
    train(donor, src, 2)
    bad = donor.state_dict()
    mutate(bad)

    params = make_params(1)
    opt = optim.Adam(params, lr=0.01)
    train(opt, params, 1)
    groups_before, state_before = _snapshot(opt)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(bad)
    groups_after, state_after = _snapshot(opt)
    assert groups_after == groups_before
    assert state_after.keys() == state_before.keys()
    for pid in state_before:
        for k, v in state_before[pid].items():
            np.testing.assert_array_equal(state_after[pid][k], v)


# ----------------------------------------------------------------- checks
def p1():
    return mg.tensor([1.0], requires_grad=True)


@pytest.mark.parametrize("make,match", [
    (lambda: optim.SGD([p1()], lr=-0.1), r"SGD: invalid learning rate lr=-0.1"),
    (lambda: optim.SGD([p1()], momentum=-1), r"SGD: invalid momentum=-1"),
    (lambda: optim.SGD([p1()], nesterov=True), r"SGD: Nesterov momentum requires momentum > 0"),
    (lambda: optim.SGD([p1()], momentum=0.9, dampening=0.1, nesterov=True), r"dampening=0.1"),
    (lambda: optim.SGD([p1()], weight_decay=-1e-3), r"SGD: invalid weight_decay=-0.001"),
    (lambda: optim.Adam([p1()], lr=-1), r"Adam: invalid learning rate"),
    (lambda: optim.Adam([p1()], betas=(1.0, 0.9)), r"Adam: invalid beta parameter at index 0: 1.0"),
    (lambda: optim.Adam([p1()], betas=(0.9, -0.1)), r"index 1: -0.1"),
    (lambda: optim.AdamW([p1()], eps=-1), r"AdamW: invalid eps=-1"),
    (lambda: optim.RMSprop([p1()], alpha=-0.5), r"RMSprop: invalid alpha=-0.5"),
    (lambda: optim.RMSprop([p1()], momentum=-0.5), r"RMSprop: invalid momentum=-0.5"),
    (lambda: optim.Adagrad([p1()], lr_decay=-1), r"Adagrad: invalid lr_decay=-1"),
    (lambda: optim.Adagrad([p1()], initial_accumulator_value=-1), r"initial_accumulator_value=-1"),
    (lambda: optim.SGD([{"params": [p1()], "lr": -2.0}], lr=0.1), r"SGD: invalid learning rate lr=-2.0"),
    (lambda: optim.SGD([], lr=0.1), r"SGD: got an empty parameter list"),
    (lambda: optim.SGD([mg.tensor([1.0])], lr=0.1), r"parameter 0 of group 0 .*does not require grad"),
    (lambda: optim.SGD([p1() * 2], lr=0.1), r"not a leaf"),
])
def test_bad_construction_raises_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_param_containers_raise():
    p = p1()
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="expected a Tensor"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="same parameter twice"):
        optim.SGD([p, p], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match="invalid learning rate"):
        opt.add_param_group({"params": [p1()], "lr": -1})
    assert len(opt.param_groups) == 1


def test_repr_names_groups_and_hyperparameters():
    text = repr(optim.Adam([p1()], lr=0.25))
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.25" in text
