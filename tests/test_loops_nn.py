"""nn loop kernels (softmax family, losses, embedding, scatter-add, dropout) vs the numpy reference.

Every kernel runs on "numba" (compiled) and "python" (the same source, interpreted) at
awkward sizes: 1, primes, non-contiguous and broadcast-strided inputs, every axis, extreme
logits. Python-backend cases stay small: interpreted loops cost ~1 us per element.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.backends import get_backend

pytestmark = pytest.mark.skipif(not mg.available_backends()["numba"]["available"], reason="numba not installed")
LOOP_BACKENDS = ["numba", "python"]
DTYPES = [np.float32, np.float64]
# Relative tolerance per dtype. The loops compute exp with their own polynomial and sum in
# float64, numpy in float32 pairwise: the two differ by rounding only.
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

NN_KERNELS = {"softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "cross_entropy",
              "cross_entropy_backward", "nll", "nll_backward", "bce_with_logits", "bce_with_logits_backward",
              "embedding_backward", "dropout_mask", "scatter_add"}


def close(actual, expected, dtype, scale=None):
    """Elementwise |a - e| <= rtol * (|e| + scale); scale (default max(1, max|e|)) absorbs the
    absolute rounding of values that are differences of larger ones (log-probabilities near 0)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    rtol = RTOL[np.dtype(dtype)]
    if scale is None:
        scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def layout(a, how):
    """The same values as ``a`` in another memory layout."""
    if how == "transposed":  # non-contiguous view: the array stored transposed
        return np.ascontiguousarray(a.T).T
    if how == "strided":  # every other element of a bigger array
        return np.stack([a, a], axis=-1)[..., 0]
    return a


def test_numba_implements_the_nn_kernels_itself():
    reuses = mg.available_backends()["numba"]["reuses"]
    assert not NN_KERNELS & set(reuses), NN_KERNELS & set(reuses)
    assert reuses["embedding"] == "numpy"  # a row gather: numpy's fancy indexing is as fast as a loop


# ----------------------------------------------------------- softmax family
SOFTMAX_SHAPES = [(1,), (7,), (1, 1), (3, 13), (13, 3), (2, 5, 3), (3, 1, 4)]


def _axes(ndim):
    return [None] + list(range(ndim)) + [-1]


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
@pytest.mark.parametrize("how", ["contiguous", "transposed", "strided"])
def test_softmax_family_every_axis(name, dtype, shape, how):
    k, ref = get_backend(name), get_backend("numpy")
    rng = np.random.default_rng(0)
    x = layout((rng.standard_normal(shape) * 4).astype(dtype), how)
    g = layout(rng.standard_normal(shape).astype(dtype), how)
    for axis in _axes(x.ndim):
        for fwd in ("softmax", "log_softmax"):
            y = getattr(ref, fwd)(x, axis)
            close(getattr(k, fwd)(x, axis), y, dtype)
            close(getattr(k, fwd + "_backward")(y, g, axis), getattr(ref, fwd + "_backward")(y, g, axis), dtype)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_backward_takes_a_broadcast_gradient(name, dtype):
    k, ref = get_backend(name), get_backend("numpy")
    x = np.random.default_rng(1).standard_normal((5, 7)).astype(dtype)
    g = np.broadcast_to(np.arange(7, dtype=dtype), (5, 7))  # stride 0 along rows
    for fwd, axis in [("softmax", 1), ("log_softmax", 1), ("softmax", 0), ("log_softmax", 0)]:
        y = getattr(ref, fwd)(x, axis)
        close(getattr(k, fwd + "_backward")(y, g, axis), getattr(ref, fwd + "_backward")(y, g, axis), dtype)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_at_extreme_logits(name, dtype):
    k, ref = get_backend(name), get_backend("numpy")
    x = np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -5.0, 1e4],
                  [80.0, -80.0, 700.0, -700.0]], dtype=dtype)
    for axis in (0, 1):
        s, ls = k.softmax(x, axis), k.log_softmax(x, axis)
        assert np.isfinite(s).all() and np.isfinite(ls).all()
        close(s, ref.softmax(x, axis), dtype)
        close(ls, ref.log_softmax(x, axis), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", [((64, 512), 1), ((64, 512), 0), ((3, 1031, 5), 1), ((37, 257), -1)])
def test_softmax_family_numba_at_vector_sizes(dtype, shape, axis):
    """Sizes with full SIMD blocks and a remainder, on the compiled backend only."""
    k, ref = get_backend("numba"), get_backend("numpy")
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for fwd in ("softmax", "log_softmax"):
        y = getattr(ref, fwd)(x, axis)
        close(getattr(k, fwd)(x, axis), y, dtype)
        close(getattr(k, fwd + "_backward")(y, g, axis), getattr(ref, fwd + "_backward")(y, g, axis), dtype)


def test_softmax_leaves_integer_input_to_numpy():
    k, ref = get_backend("numba"), get_backend("numpy")
    x = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(k.softmax(x, 1), ref.softmax(x, 1))


# ------------------------------------------------------------- class losses
CE_SHAPES = [(1, 1), (1, 5), (7, 3), (13, 31)]


def _targets(n, c, rng, ignore):
    t = rng.integers(0, c, n)
    t[::3] = ignore  # every third row ignored (the first row included)
    return t


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c", CE_SHAPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_and_backward(name, dtype, n, c, smoothing, ignore_index):
    k, ref = get_backend(name), get_backend("numpy")
    rng = np.random.default_rng(n * c)
    logits = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = _targets(n, c, rng, ignore_index)
    g = rng.standard_normal(n).astype(dtype)
    losses, logp = k.cross_entropy(logits, t, ignore_index, smoothing)
    rl, rp = ref.cross_entropy(logits, t, ignore_index, smoothing)
    close(losses, rl, dtype, scale=max(1.0, float(np.abs(logits).max())))
    close(logp, rp, dtype, scale=max(1.0, float(np.abs(logits).max())))
    assert np.all(losses[t == ignore_index] == 0)
    close(k.cross_entropy_backward(rp, t, g, ignore_index, smoothing),
          ref.cross_entropy_backward(rp, t, g, ignore_index, smoothing), dtype)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_logits_strided_inputs(name, dtype):
    k, ref = get_backend(name), get_backend("numpy")
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, 0.0], [3.0, -1e4, 2.0],
                       [-1e4, -1e4, -1e4]], dtype=dtype).T.copy().T  # Fortran order: not C-contiguous
    t = np.array([0, 0, 2, 1, 1], dtype=np.int32)
    g = np.broadcast_to(np.asarray(0.2, dtype=dtype), (5,))  # the gradient of a mean: stride 0
    for smoothing in (0.0, 0.25):
        losses, logp = k.cross_entropy(logits, t, -100, smoothing)
        rl, rp = ref.cross_entropy(logits, t, -100, smoothing)
        assert np.isfinite(losses).all()
        close(losses, rl, dtype, scale=1e4)
        close(logp, rp, dtype, scale=1e4)
        close(k.cross_entropy_backward(rp, t, g, -100, smoothing),
              ref.cross_entropy_backward(rp, t, g, -100, smoothing), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_numba_at_vector_sizes(dtype):
    k, ref = get_backend("numba"), get_backend("numpy")
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((64, 509)) * 4).astype(dtype)
    t = _targets(64, 509, rng, -100)
    g = rng.standard_normal(64).astype(dtype)
    for smoothing in (0.0, 0.1):
        losses, logp = k.cross_entropy(logits, t, -100, smoothing)
        rl, rp = ref.cross_entropy(logits, t, -100, smoothing)
        close(losses, rl, dtype, scale=20)
        close(logp, rp, dtype, scale=20)
        close(k.cross_entropy_backward(rp, t, g, -100, smoothing),
              ref.cross_entropy_backward(rp, t, g, -100, smoothing), dtype)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, c", CE_SHAPES)
def test_nll_and_backward(name, dtype, n, c):
    k, ref = get_backend(name), get_backend("numpy")
    rng = np.random.default_rng(n + c)
    logp = ref.log_softmax(rng.standard_normal((n, c)).astype(dtype), 1)
    t = _targets(n, c, rng, -100)
    g = rng.standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(k.nll(logp, t, -100), ref.nll(logp, t, -100))
    np.testing.assert_array_equal(k.nll_backward(logp.shape, t, g, -100, logp.dtype),
                                  ref.nll_backward(logp.shape, t, g, -100, logp.dtype))


@pytest.mark.parametrize("name", LOOP_BACKENDS)
def test_loss_kernels_reject_out_of_range_targets(name):
    k = get_backend(name)
    logits = np.zeros((3, 4), dtype=np.float32)
    t = np.array([0, 4, 1])
    g = np.ones(3, dtype=np.float32)
    with pytest.raises(IndexError, match="index 4 is out of bounds"):
        k.cross_entropy(logits, t, -100, 0.0)
    with pytest.raises(IndexError):
        k.cross_entropy_backward(logits, t, g, -100, 0.0)
    with pytest.raises(IndexError):
        k.nll(logits, t, -100)
    with pytest.raises(IndexError):
        k.nll_backward((3, 4), t, g, -100, np.dtype(np.float32))


# ---------------------------------------------------- binary cross-entropy
@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 13), (2, 1, 5)])
@pytest.mark.parametrize("how", ["contiguous", "transposed", "strided"])
def test_bce_with_logits_and_backward(name, dtype, shape, how):
    k, ref = get_backend(name), get_backend("numpy")
    rng = np.random.default_rng(4)
    x = layout((rng.standard_normal(shape) * 6).astype(dtype), how)
    y = layout(rng.random(shape).astype(dtype), how)
    g = layout(rng.standard_normal(shape).astype(dtype), how)
    close(k.bce_with_logits(x, y), ref.bce_with_logits(x, y), dtype)
    for got, want in zip(k.bce_with_logits_backward(x, y, g), ref.bce_with_logits_backward(x, y, g)):
        close(got, want, dtype)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_at_extremes(name, dtype):
    k, ref = get_backend(name), get_backend("numpy")
    x = np.array([0.0, -0.0, 1e-30, -1e-8, 1e-3, 0.5, 17.0, -17.0, 40.0, -40.0, 88.0, -88.0, 800.0, -800.0,
                  1e4, -1e4], dtype=dtype)
    y = np.tile(np.array([0.0, 1.0, 0.3, 0.7], dtype=dtype), 4)
    g = np.broadcast_to(np.asarray(0.5, dtype=dtype), x.shape)
    loss = k.bce_with_logits(x, y)
    assert np.isfinite(loss).all()
    close(loss, ref.bce_with_logits(x, y), dtype, scale=1.0)  # scale 1: the tiny losses keep relative accuracy
    for got, want in zip(k.bce_with_logits_backward(x, y, g), ref.bce_with_logits_backward(x, y, g)):
        assert np.isfinite(got).all()
        close(got, want, dtype)


def test_bce_with_logits_numba_at_vector_size():
    k, ref = get_backend("numba"), get_backend("numpy")
    rng = np.random.default_rng(5)
    for dtype in DTYPES:
        x = (rng.standard_normal((64, 509)) * 8).astype(dtype)
        y = (rng.random((64, 509)) > 0.5).astype(dtype)
        g = rng.standard_normal((64, 509)).astype(dtype)
        close(k.bce_with_logits(x, y), ref.bce_with_logits(x, y), dtype)
        for got, want in zip(k.bce_with_logits_backward(x, y, g), ref.bce_with_logits_backward(x, y, g)):
            close(got, want, dtype)


# ----------------------------------------------------- gather / scatter-add
EMB_INDICES = [np.array(3), np.array([0]), np.array([4, 4, 4, 1, 12]), np.array([[1, 2, 2], [12, -1, 0]]),
               np.array([[5, 5], [5, 5]], dtype=np.int32)]


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx", EMB_INDICES, ids=lambda a: f"{a.dtype}{a.shape}")
@pytest.mark.parametrize("padding_idx", [None, 4, -1])
def test_embedding_and_backward(name, dtype, idx, padding_idx):
    k, ref = get_backend(name), get_backend("numpy")
    rng = np.random.default_rng(6)
    w = rng.standard_normal((13, 7)).astype(dtype)  # V = 13, D = 7: primes
    np.testing.assert_array_equal(k.embedding(w, idx), ref.embedding(w, idx))
    g = rng.standard_normal(idx.shape + (7,)).astype(dtype)
    close(k.embedding_backward(idx, g, 13, padding_idx), ref.embedding_backward(idx, g, 13, padding_idx), dtype)
    gt = layout(g, "transposed") if g.ndim > 1 else g
    close(k.embedding_backward(idx, gt, 13, padding_idx), ref.embedding_backward(idx, gt, 13, padding_idx), dtype)


@pytest.mark.parametrize("name", LOOP_BACKENDS)
def test_embedding_backward_rejects_out_of_range_indices(name):
    k = get_backend(name)
    with pytest.raises(IndexError):
        k.embedding_backward(np.array([0, -6]), np.zeros((2, 3), dtype=np.float32), 5, None)


SCATTER_CASES = [  # (shape, index) -- the first ones take the loop, the last ones numpy's np.add.at
    ((11,), np.array([3, 3, 0, 10, -1, 3])),
    ((11, 4), np.array([[3, 3], [0, -11]])),
    ((7, 3, 2), np.array([6, 0, 6, 6])),
    ((7, 3, 2), (np.array([1, 1, 2]),)),
    ((5, 3), np.array(2)),
    ((5, 3), (np.array([1, 1]), np.array([0, 0]))),  # two index arrays
    ((5, 3), (slice(None), np.array([2, 2, 0]))),    # array on axis 1
    ((5, 3), np.array([True, False, True, False, True])),
]


@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(SCATTER_CASES)))
def test_scatter_add_matches_numpy(name, dtype, case):
    shape, index = SCATTER_CASES[case]
    k, ref = get_backend(name), get_backend("numpy")
    g_shape = np.zeros(shape)[index].shape
    g = np.random.default_rng(case).standard_normal(g_shape).astype(dtype)
    for accumulate in (True, False):
        if not accumulate and isinstance(index, np.ndarray) and index.dtype.kind in "iu":
            continue  # assignment with repeated indices keeps an arbitrary one: not comparable
        got = k.scatter_add(shape, index, g, np.dtype(dtype), accumulate)
        close(got, ref.scatter_add(shape, index, g, np.dtype(dtype), accumulate), dtype)
    if g.ndim > 1:  # a non-contiguous upstream gradient
        gt = layout(g, "transposed")
        close(k.scatter_add(shape, index, gt, np.dtype(dtype), True),
              ref.scatter_add(shape, index, gt, np.dtype(dtype), True), dtype)


def test_scatter_add_rejects_out_of_range_rows():
    with pytest.raises(IndexError):
        get_backend("numba").scatter_add((4, 2), np.array([0, 4]), np.ones((2, 2)), np.dtype(np.float64), True)


def test_scatter_add_numba_large_with_repeats():
    k, ref = get_backend("numba"), get_backend("numpy")
    rng = np.random.default_rng(7)
    idx = rng.integers(-50, 50, 4000)
    g = rng.standard_normal((4000, 33)).astype(np.float32)
    close(k.scatter_add((50, 33), idx, g, np.dtype(np.float32), True),
          ref.scatter_add((50, 33), idx, g, np.dtype(np.float32), True), np.float32, scale=50)


# ----------------------------------------------------------------- dropout
@pytest.mark.parametrize("name", LOOP_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (13, 17), (2, 3, 5)])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.97])
def test_dropout_mask_is_identical_across_backends_for_a_seed(name, dtype, shape, p):
    k, ref = get_backend(name), get_backend("numpy")
    rng_a, rng_b = np.random.default_rng(42), np.random.default_rng(42)
    for _ in range(2):  # and the generator advances the same way
        got, want = k.dropout_mask(shape, p, rng_a, np.dtype(dtype)), ref.dropout_mask(shape, p, rng_b, np.dtype(dtype))
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert rng_a.random() == rng_b.random()


def test_dropout_through_the_op_is_identical_on_every_backend():
    masks = {}
    for name in ["numpy"] + LOOP_BACKENDS:
        mg.manual_seed(11)
        with mg.backend(name):
            masks[name] = mg.dropout(mg.ones(6, 9), p=0.3).numpy()
    np.testing.assert_array_equal(masks["numba"], masks["numpy"])
    np.testing.assert_array_equal(masks["python"], masks["numpy"])
