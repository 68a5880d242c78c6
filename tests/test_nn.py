"""nn.Module machinery: Parameter, registration, traversal and names, modes, dtype
casts, state_dict / load_state_dict (all-or-nothing), repr, and a small end-to-end fit.

Containers are tested in test_nn_containers.py, layers in test_nn_layers.py, weight
init in test_nn_init.py.
"""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.linear(x))


class Net(nn.Module):
    """Nested modules, a buffer and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
        self.register_buffer("count", mg.tensor(np.array([7], dtype=np.int64)))
        self.register_buffer("scratch", mg.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.encoder(x))


NET_PARAMS = ["encoder.linear.weight", "encoder.linear.bias", "head.0.weight", "head.0.bias",
              "head.2.weight", "head.2.bias"]
NET_SHAPES = [(3, 4), (3,), (5, 3), (5,), (2, 5), (2,)]


def snapshot(model):
    """(id of each tensor's array, a copy of it) by name: detects both swaps and in-place writes."""
    return {n: (id(t.data), t.numpy().copy()) for n, t in model._state_items()}


def assert_unchanged(model, snap):
    now = snapshot(model)
    assert now.keys() == snap.keys()
    for name, (ident, values) in snap.items():
        assert now[name][0] == ident, f"{name}: its array was replaced"
        np.testing.assert_array_equal(now[name][1], values, err_msg=name)


# ------------------------------------------------------------------ Parameter
def test_parameter_copies_data_requires_grad_and_is_leaf():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = nn.Parameter(a)
    a[0, 0] = 100.0
    assert p.requires_grad and p.is_leaf and isinstance(p, mg.Tensor)
    assert p.numpy()[0, 0] == 0.0 and p.shape == (2, 3)
    t = mg.tensor(np.ones(3), dtype=mg.float64)
    q = nn.Parameter(t, requires_grad=False)
    assert q.dtype == np.float64 and not q.requires_grad  # a Tensor keeps its dtype
    assert q.data is not t.data
    assert "Parameter containing" in repr(p)


def test_parameter_from_tensor_with_graph_is_a_leaf():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    p = nn.Parameter(x * 3)
    assert p.is_leaf and p.grad_fn is None
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), [6.0, 12.0])
    assert x.grad is None  # no gradient flows through the copy


# ---------------------------------------------------------- names and traversal
def test_named_parameters_dotted_names_in_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == NET_PARAMS
    assert [p.shape for p in net.parameters()] == NET_SHAPES
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.encoder.named_parameters(prefix="enc")] == ["enc.linear.weight", "enc.linear.bias"]
    assert net.num_parameters() == sum(int(np.prod(s)) for s in NET_SHAPES) == 15 + 20 + 12


def test_named_modules_children_buffers():
    net = Net()
    assert [n for n, _ in net.named_modules()] == ["", "encoder", "encoder.linear", "encoder.act", "head",
                                                    "head.0", "head.1", "head.2"]
    assert [n for n, _ in net.named_children()] == ["encoder", "head"]
    assert [n for n, _ in net.named_buffers()] == ["count", "scratch"]
    assert net.get_submodule("head.2") is net.head[2]
    with pytest.raises(AttributeError, match="nope"):
        net.get_submodule("head.nope")


def test_shared_parameter_is_listed_once_but_saved_under_each_name():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight  # tied weights
    model = nn.Sequential(a, b)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    assert model.num_parameters() == 9 + 3 + 3
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    shared = nn.Sequential(a, a)  # the same module twice
    assert len(list(shared.parameters())) == 2 and len(list(shared.modules())) == 2


def test_setattr_registers_and_guards():
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.plain = mg.zeros(2)  # a plain tensor attribute is neither trained nor saved
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"]
    assert "plain" not in m.state_dict()
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = mg.zeros(2)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    del m.sub
    assert list(m._modules) == [] and not hasattr(m, "sub")
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", mg.zeros(1))
    with pytest.raises(KeyError, match=r"\."):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="buffer"):
        m.register_buffer("buf", np.zeros(2))


def test_assigning_before_super_init_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super"):
        Bad()


# ------------------------------------------------------------------- modes
def test_train_eval_propagate_to_every_submodule():
    net = nn.Sequential(Net(), nn.Dropout(0.5))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net[0].train()
    assert net[0].encoder.linear.training and not net.training and not net[1].training
    with pytest.raises(TypeError):
        net.train("no")


def test_zero_grad_to_none_and_to_fresh_zeros():
    net = Net()
    net(mg.randn(2, 4)).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    old = grads[0].numpy().copy()
    net.zero_grad(set_to_none=False)
    for p in net.parameters():
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))
    np.testing.assert_array_equal(grads[0].numpy(), old)  # a held gradient is not overwritten
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_visits_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Tanh", "Encoder", "Linear", "ReLU", "Linear", "Sequential", "Net"]


def test_double_and_float_cast_in_place_keeping_objects():
    net = Net()
    params = list(net.parameters())
    net(mg.randn(2, 4)).sum().backward()
    assert net.double() is net
    assert all(a is b for a, b in zip(params, net.parameters()))
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert net.count.dtype == np.int64  # integer buffers are not cast
    assert net.scratch.dtype == np.float64
    out = net(mg.tensor(np.ones((1, 4)), dtype=mg.float64))
    assert out.dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in params)
    with pytest.raises(TypeError, match="floating"):
        net.to(mg.int64)


def test_failed_device_move_changes_nothing():
    net = Net()
    snap = snapshot(net)
    with pytest.raises(Exception):
        net.to("no-such-device")
    assert_unchanged(net, snap)
    assert all(t.device == "cpu" for _, t in net._state_items())


# ----------------------------------------------------------------- state dict
def test_state_dict_is_a_copy_with_params_and_persistent_buffers():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["count"] + NET_PARAMS  # own tensors first, then each child's, like torch
    assert isinstance(sd, OrderedDict) and all(isinstance(v, np.ndarray) for v in sd.values())
    sd["encoder.linear.weight"][:] = 123.0
    assert not np.any(net.encoder.linear.weight.numpy() == 123.0)
    np.testing.assert_array_equal(sd["count"], [7])


def test_state_dict_round_trip_restores_outputs_and_keeps_objects():
    mg.manual_seed(1)
    src = Net()
    mg.manual_seed(2)
    dst = Net()
    x = mg.randn(3, 4)
    assert not np.allclose(src(x).numpy(), dst(x).numpy())
    params = list(dst.parameters())
    old_arrays = [p.data for p in params]
    old_values = [a.copy() for a in old_arrays]
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(src(x).numpy(), dst(x).numpy())
    assert all(a is b for a, b in zip(params, dst.parameters()))
    for arr, vals in zip(old_arrays, old_values):  # new arrays were assigned; the old ones are intact
        np.testing.assert_array_equal(arr, vals)


def test_load_casts_to_the_parameter_dtype_and_accepts_tensors():
    net = nn.Linear(2, 2)
    sd = {"weight": mg.tensor(np.eye(2), dtype=mg.float64), "bias": np.array([1, 2])}
    net.load_state_dict(sd)
    assert net.weight.dtype == np.float32 and net.bias.dtype == np.float32
    np.testing.assert_array_equal(net.weight.numpy(), np.eye(2))
    np.testing.assert_array_equal(net.bias.numpy(), [1.0, 2.0])


def test_load_state_dict_reports_every_mismatch_and_changes_nothing():
    net = Net()
    snap = snapshot(net)
    sd = net.state_dict()
    sd["encoder.linear.weight"] = np.zeros((3, 5), np.float32)  # wrong shape
    sd["head.2.bias"] = np.zeros(3, np.float32)  # wrong shape
    del sd["head.0.bias"]  # missing
    sd["head.9.weight"] = np.zeros((2, 2))  # unexpected
    sd["count"] = np.array([1.5])  # float into an int64 buffer
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    for expected in ["'encoder.linear.weight'", "(3, 5)", "(3, 4)", "'head.2.bias'", "(3,)", "(2,)",
                     "missing key 'head.0.bias'", "unexpected key 'head.9.weight'", "'count'", "float64", "int64",
                     "5 problem(s)", "nothing was loaded"]:
        assert expected in msg, expected
    assert isinstance(info.value, ValueError)
    assert info.value.missing_keys == ["head.0.bias"] and info.value.unexpected_keys == ["head.9.weight"]
    assert sorted(info.value.mismatched_keys) == ["count", "encoder.linear.weight", "head.2.bias"]
    assert_unchanged(net, snap)


def test_load_state_dict_missing_only_and_unexpected_only():
    net = nn.Linear(3, 2)
    snap = snapshot(net)
    with pytest.raises(nn.StateDictError, match=r"missing key 'bias'.*\(2,\)"):
        net.load_state_dict({"weight": np.ones((2, 3))})
    with pytest.raises(nn.StateDictError, match="unexpected key 'extra'"):
        net.load_state_dict({"weight": np.ones((2, 3)), "bias": np.ones(2), "extra": np.ones(1)})
    assert_unchanged(net, snap)
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([("weight", np.ones((2, 3)))])


def test_load_state_dict_non_strict_returns_keys_and_loads_the_rest():
    net = nn.Linear(3, 2)
    old_bias = net.bias.numpy().copy()
    result = net.load_state_dict({"weight": np.full((2, 3), 0.5), "other": np.zeros(4)}, strict=False)
    assert result == (["bias"], ["other"])
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(net.weight.numpy(), np.full((2, 3), 0.5))
    np.testing.assert_array_equal(net.bias.numpy(), old_bias)
    snap = snapshot(net)
    with pytest.raises(nn.StateDictError, match="shape mismatch for 'weight'"):  # never loadable, strict or not
        net.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.ones(2)}, strict=False)
    assert_unchanged(net, snap)


def test_save_load_checkpoint_file_round_trip(tmp_path):
    mg.manual_seed(3)
    src = Net()
    mg.save({"model": src.state_dict(), "step": 5}, tmp_path / "ckpt.npz")
    dst = Net()
    dst.load_state_dict(mg.load(tmp_path / "ckpt.npz")["model"])
    for (n, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=n)


def test_deepcopy_gives_independent_parameters():
    net = Net()
    twin = copy.deepcopy(net)
    assert [n for n, _ in twin.named_parameters()] == NET_PARAMS
    assert twin.encoder.linear.weight is twin._modules["encoder"]._modules["linear"]._parameters["weight"]
    with mg.no_grad():
        twin.encoder.linear.weight -= 1.0
    assert not np.allclose(twin.encoder.linear.weight.numpy(), net.encoder.linear.weight.numpy())


# ----------------------------------------------------------------------- repr
def test_repr_shows_nested_structure():
    assert repr(Net()) == (
        "Net(\n"
        "  (encoder): Encoder(\n"
        "    (linear): Linear(in_features=4, out_features=3, bias=True)\n"
        "    (act): Tanh()\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=5, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=5, out_features=2, bias=True)\n"
        "  )\n"
        ")")
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"


# ---------------------------------------------------------------- end to end
def test_small_mlp_learns_xor_with_manual_sgd():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    x = mg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = mg.tensor([0, 1, 1, 0])
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(300):
        loss = loss_fn(model(x), y)
        model.zero_grad()
        loss.backward()
        with mg.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.05 < losses[0]
    np.testing.assert_array_equal(model(x).argmax(axis=1).numpy(), [0, 1, 1, 0])
