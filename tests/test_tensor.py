"""The Tensor API: creation, dtypes, random ops and seeding, conversion, properties, repr."""
import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close


# ----------------------------------------------------------------- tensor()
def test_tensor_defaults_float32_from_float64_numpy():
    a = np.random.default_rng(0).standard_normal((2, 3))
    t = mg.tensor(a)
    assert t.dtype == np.float32 and t.dtype == mg.float32
    assert_close(t, a.astype(np.float32))
    assert not t.requires_grad and t.grad is None and t.is_leaf


@pytest.mark.parametrize("data,dtype", [([1, 2, 3], np.int64), (5, np.int64), (2.5, np.float32),
                                        ([[1.0, 2.0]], np.float32), ([True, False], np.bool_),
                                        (np.arange(3, dtype=np.int32), np.int32),
                                        (np.float64(1.5), np.float32)])
def test_tensor_dtype_inference(data, dtype):
    assert mg.tensor(data).dtype == dtype


def test_tensor_explicit_dtype_and_copy():
    a = np.array([1.0, 2.0])
    t = mg.tensor(a, dtype=mg.float64)
    assert t.dtype == np.float64
    a[0] = 100.0
    assert t.numpy()[0] == 1.0, "tensor() copies its data"
    assert mg.tensor([1, 2], dtype=mg.float32).dtype == np.float32
    assert mg.tensor([1.7, 2.2], dtype=np.int64).tolist() == [1, 2]
    u = mg.tensor(t)
    assert u is not t and u.dtype == np.float32 and not np.shares_memory(u.numpy(), t.numpy())
    assert mg.Tensor([1.0, 2.0], requires_grad=True).requires_grad


def test_tensor_rejects_non_numeric_data():
    with pytest.raises(TypeError, match="tensor"):
        mg.tensor(["a", "b"])


def test_set_default_dtype():
    try:
        mg.set_default_dtype(mg.float64)
        assert mg.get_default_dtype() == np.float64
        assert mg.tensor([1.0]).dtype == np.float64
        assert mg.zeros(2).dtype == np.float64 and mg.randn(2).dtype == np.float64
        assert mg.tensor([1]).dtype == np.int64
    finally:
        mg.set_default_dtype(mg.float32)
    assert mg.tensor([1.0]).dtype == np.float32
    with pytest.raises(TypeError, match="int64"):
        mg.set_default_dtype(mg.int64)


# --------------------------------------------------------------- creation
def test_zeros_full_eye():
    z = mg.zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float32 and (z.numpy() == 0).all()
    assert mg.zeros((2, 3)).shape == (2, 3)
    assert mg.zeros(()).shape == () and mg.zeros().shape == ()
    assert mg.zeros(4, dtype=mg.int64).dtype == np.int64
    f = mg.full((2, 2), 1.5)
    assert f.dtype == np.float32 and (f.numpy() == 1.5).all()
    assert mg.full(3, 7).dtype == np.int64 and mg.full(3, 7).tolist() == [7, 7, 7]
    assert mg.full((2,), 7, dtype=mg.float64).dtype == np.float64
    assert_close(mg.eye(3), np.eye(3))
    assert_close(mg.eye(2, 3), np.eye(2, 3))
    assert mg.eye(2).dtype == np.float32
    assert mg.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="negative"):
        mg.zeros(2, -1)


def test_ones_values_and_dtype_argument():
    o = mg.ones(2, 3)
    assert o.shape == (2, 3) and (o.numpy() == 1).all()
    assert mg.ones((4,), dtype=mg.float64).dtype == np.float64
    assert mg.ones(3, dtype=mg.float32, requires_grad=True).requires_grad


def test_ones_default_dtype_is_float32():
    assert mg.ones(2, 3).dtype == np.float32
    assert mg.ones(()).dtype == np.float32


def test_arange():
    a = mg.arange(5)
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert mg.arange(2, 8, 3).tolist() == [2, 5]
    f = mg.arange(0.0, 1.0, 0.25)
    assert f.dtype == np.float32
    assert_close(f, [0.0, 0.25, 0.5, 0.75])
    assert mg.arange(3, dtype=mg.float64).dtype == np.float64
    assert mg.arange(5, 0, -2).tolist() == [5, 3, 1]


def test_like_functions_keep_shape_dtype():
    t = mg.tensor(np.ones((2, 3)), dtype=mg.float64)
    for fn in (mg.zeros_like, mg.ones_like, mg.randn_like, mg.rand_like):
        u = fn(t)
        assert u.shape == (2, 3) and u.dtype == np.float64 and not u.requires_grad
    assert (mg.zeros_like(t).numpy() == 0).all() and (mg.ones_like(t).numpy() == 1).all()
    f = mg.full_like(t, 3.5)
    assert f.dtype == np.float64 and (f.numpy() == 3.5).all()
    assert mg.zeros_like(t, dtype=mg.float32).dtype == np.float32
    assert mg.ones_like(t, requires_grad=True).requires_grad
    assert mg.zeros_like(mg.tensor([1, 2])).dtype == np.int64


def test_random_creation():
    r = mg.randn(200, 50)
    assert r.shape == (200, 50) and r.dtype == np.float32
    assert abs(r.numpy().mean()) < 0.05 and abs(r.numpy().std() - 1) < 0.05
    u = mg.rand(1000)
    assert u.dtype == np.float32 and (u.numpy() >= 0).all() and (u.numpy() < 1).all()
    assert mg.randn(3, dtype=mg.float64).dtype == np.float64
    assert mg.randn((2, 3)).shape == (2, 3)
    i = mg.randint(2, 5, (100,))
    assert i.dtype == np.int64 and i.numpy().min() >= 2 and i.numpy().max() <= 4
    assert mg.randint(0, 3, 7).shape == (7,)
    assert mg.randint(0, 3, (2, 2), dtype=mg.int32).dtype == np.int32
    assert mg.randn(2, requires_grad=True).requires_grad


def test_manual_seed_makes_random_ops_reproducible():
    def draw():
        return (mg.randn(3, 4).numpy(), mg.rand(5).numpy(), mg.randint(0, 10, (6,)).numpy(),
                mg.dropout(mg.ones(20, dtype=mg.float32), 0.5).numpy(), mg.randn_like(mg.zeros(3)).numpy())

    mg.manual_seed(42)
    first = draw()
    mg.manual_seed(42)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    mg.manual_seed(43)
    assert not np.array_equal(draw()[0], first[0])
    mg.random.seed(42)
    np.testing.assert_array_equal(mg.randn(3, 4).numpy(), first[0])


def test_manual_seed_is_independent_of_numpy_global_seed():
    mg.manual_seed(1)
    np.random.seed(0)
    a = mg.randn(4).numpy()
    mg.manual_seed(1)
    np.random.seed(99)
    np.random.rand(10)
    np.testing.assert_array_equal(mg.randn(4).numpy(), a)


# ------------------------------------------------------------- conversion
def test_item_numpy_tolist():
    t = mg.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().dtype == np.float32
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert mg.tensor(2.5).item() == 2.5 and isinstance(mg.tensor(2.5).item(), float)
    assert mg.tensor([[7]]).item() == 7 and isinstance(mg.tensor([[7]]).item(), int)
    assert t.sum().item() == pytest.approx(10.5)
    with pytest.raises(ValueError, match=r"item.*\(2, 2\)"):
        t.item()
    assert np.asarray(t).shape == (2, 2)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


def test_numpy_shares_the_tensors_memory_on_cpu():
    t = mg.tensor([1.0, 2.0])
    assert t.numpy() is t.numpy()


def test_properties():
    t = mg.tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.size == 24 and t.numel() == 24
    assert t.dtype == np.float32 and t.device == "cpu"
    assert len(t) == 2
    s = mg.tensor(3.0)
    assert s.shape == () and s.ndim == 0 and s.size == 1
    with pytest.raises(TypeError, match="0-d"):
        len(s)


def test_astype_helpers_and_to():
    t = mg.tensor([1.5, 2.5])
    assert t.to(mg.float64).dtype == np.float64
    assert t.to("cpu") is t and t.cpu() is t
    assert t.long().tolist() == [1, 2]


def test_bool_any_all():
    assert bool(mg.tensor([1.0])) and not bool(mg.tensor(0.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mg.tensor([1.0, 2.0]))
    t = mg.tensor([0.0, 1.0])
    assert t.any() and not t.all()


def test_tensors_hash_by_identity():
    a, b = mg.tensor([1.0]), mg.tensor([1.0])
    assert len({a, b}) == 2
    d = {a: 1}
    assert d[a] == 1


# ------------------------------------------------------------------- repr
def test_repr():
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(mg.tensor([1.0], requires_grad=True))
    x = mg.tensor([1.0], requires_grad=True)
    r = repr(x * 2)
    assert "grad_fn=<Mul>" in r and "requires_grad" not in r
    assert "dtype=float64" in repr(mg.tensor([1.0], dtype=mg.float64))
    assert "dtype" not in repr(mg.tensor([1, 2]))
    assert "dtype=int32" in repr(mg.tensor([1], dtype=mg.int32))
    assert repr(mg.tensor(3.25)) == "tensor(3.25)"
    assert repr(mg.tensor([[1.0, 2.0], [3.0, 4.0]])).count("\n") == 1


# ---------------------------------------------------- comparisons, arg-ops
def test_comparisons_and_argmax(backend):
    a = mg.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert (a > 2.5).tolist() == [[False, True, True], [True, False, True]]
    assert (a == mg.tensor([1.0, 2.0, 6.0])).tolist() == [[True, False, False], [False, True, True]]
    assert (a != 1.0).dtype == np.bool_
    assert a.argmax().item() == 5
    assert a.argmax(axis=1).tolist() == [1, 2]
    assert mg.argmin(a, axis=0).tolist() == [0, 1, 0]
    assert mg.argmax(a, axis=-1, keepdims=True).shape == (2, 1)
    assert (mg.tensor([1, 2, 3]) >= 2).tolist() == [False, True, True]


def test_backend_selection_contract():
    report = mg.available_backends()
    assert report["numpy"]["available"] and report["numpy"]["device"] == "cpu"
    for name, info in report.items():
        assert set(info) >= {"available", "device", "reason", "reuses"}
        if not info["available"]:
            assert info["reason"], f"backend {name} is missing without a reason"
    before = mg.get_backend().name
    with mg.backend("numpy") as b:
        assert b.name == "numpy" and mg.get_backend().name == "numpy"
    assert mg.get_backend().name == before
    with pytest.raises(ValueError, match="unknown backend"):
        mg.set_backend("no-such-backend")
