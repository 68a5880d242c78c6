"""nn.init: gains and fans as PyTorch computes them, the statistics of each scheme on
large tensors, orthogonality, reproducibility, and that the tensor object is kept."""
import math

import numpy as np
import pytest

import minigrad as mg
from conftest import needs_torch
from minigrad import nn
from minigrad.nn import init


def big(*shape, dtype=mg.float32):
    return nn.Parameter(np.zeros(shape), dtype=dtype)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1.0 and init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fans_including_conv_shapes():
    assert init._calculate_fan_in_and_fan_out(big(30, 20)) == (20, 30)
    assert init._calculate_fan_in_and_fan_out(big(8, 4, 3, 5)) == (4 * 15, 8 * 15)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(big(5))


def test_uniform_and_normal_statistics():
    t = init.uniform_(big(400, 500), -2.0, 3.0).numpy()
    assert t.min() >= -2.0 and t.max() < 3.0
    assert abs(t.mean() - 0.5) < 0.02 and abs(t.std() - 5 / math.sqrt(12)) < 0.02
    t = init.normal_(big(400, 500), mean=1.5, std=0.3).numpy()
    assert abs(t.mean() - 1.5) < 0.005 and abs(t.std() - 0.3) < 0.005
    with pytest.raises(ValueError, match="std"):
        init.normal_(big(2, 2), std=-1.0)


@pytest.mark.parametrize("shape", [(300, 700), (64, 32, 3, 3)])
def test_xavier_bounds_and_std(shape):
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(big(*shape))
    std = 0.8 * math.sqrt(2.0 / (fan_in + fan_out))
    u = init.xavier_uniform_(big(*shape), gain=0.8).numpy()
    bound = math.sqrt(3) * std
    assert np.abs(u).max() <= bound and np.abs(u).max() > 0.99 * bound
    assert abs(u.std() / std - 1) < 0.02
    n = init.glorot_normal_(big(*shape), gain=0.8).numpy()
    assert abs(n.std() / std - 1) < 0.02 and abs(n.mean()) < 0.02 * std


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_bounds_and_std(mode):
    fan = 500 if mode == "fan_in" else 400
    std = math.sqrt(2.0) / math.sqrt(fan)
    u = init.kaiming_uniform_(big(400, 500), mode=mode, nonlinearity="relu").numpy()
    assert np.abs(u).max() <= math.sqrt(3) * std and abs(u.std() / std - 1) < 0.02
    n = init.kaiming_normal_(big(400, 500), mode=mode, nonlinearity="relu").numpy()
    assert abs(n.std() / std - 1) < 0.02
    leaky = init.kaiming_normal_(big(400, 500), a=0.5, mode=mode).numpy()  # default leaky_relu
    assert abs(leaky.std() / (math.sqrt(2 / 1.25) / math.sqrt(fan)) - 1) < 0.02
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(big(3, 3), mode="fan_avg")


@pytest.mark.parametrize("shape", [(50, 50), (20, 60), (60, 20), (6, 4, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = init.orthogonal_(big(*shape, dtype=mg.float64), gain=2.0).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-10)


def test_orthogonal_rejects_vectors_and_is_not_biased_in_sign():
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(big(5))
    # With the sign fix Q is Haar-distributed: its diagonal averages ~0 (raw QR's would not).
    diag = np.mean([np.diag(init.orthogonal_(big(8, 8, dtype=mg.float64)).numpy()).mean() for _ in range(300)])
    assert abs(diag) < 0.05


def test_constants_and_eye():
    t = big(3, 4)
    np.testing.assert_array_equal(init.constant_(t, 2.5).numpy(), np.full((3, 4), 2.5))
    np.testing.assert_array_equal(init.zeros_(t).numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(init.ones_(t).numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(init.eye_(t).numpy(), np.eye(3, 4))
    assert t.dtype == np.float32


def test_init_keeps_object_and_dtype_and_never_writes_old_array():
    p = big(30, 20, dtype=mg.float64)
    old = p.data
    out = init.xavier_normal_(p)
    assert out is p and p.dtype == np.float64 and p.requires_grad and p.is_leaf
    assert p.data is not old and not old.any()  # a new array; the old one still all zeros
    with pytest.raises(TypeError, match="Tensor"):
        init.normal_(np.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        init.normal_(mg.tensor([1, 2, 3]))


def test_init_is_reproducible_with_manual_seed():
    mg.manual_seed(9)
    a = init.orthogonal_(big(5, 7)).numpy().copy()
    b = init.kaiming_uniform_(big(5, 7)).numpy().copy()
    mg.manual_seed(9)
    np.testing.assert_array_equal(init.orthogonal_(big(5, 7)).numpy(), a)
    np.testing.assert_array_equal(init.kaiming_uniform_(big(5, 7)).numpy(), b)


def test_zero_size_tensors_are_left_alone():
    assert init.kaiming_uniform_(big(0, 3)).shape == (0, 3)
    assert nn.Linear(0, 4).bias.numpy().tolist() == [0.0] * 4


@needs_torch
def test_gains_and_fans_match_torch():
    import torch
    for nl, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                      ("leaky_relu", 0.3), ("selu", None)]:
        assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))
    for shape in [(7, 3), (8, 4, 3, 5), (2, 6, 4)]:
        ours = init._calculate_fan_in_and_fan_out(big(*shape))
        assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
