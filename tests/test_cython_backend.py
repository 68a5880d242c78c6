"""The Cython kernels (minigrad/backends/cython/*.pyx) against the numpy reference.

Every kernel the cython backend implements is called directly on the backend object
and compared with get_backend("numpy") at awkward sizes (1, primes, size-1 axes),
with non-contiguous and broadcast-strided inputs, with extreme values (huge, tiny,
inf, NaN), in float32 and float64. Results must have numpy's shape and dtype.

Tolerances: float32 rtol 1e-5, float64 rtol 1e-12, with an absolute floor scaled by
the result's magnitude: sums are added in a different order than numpy's (both
close to pairwise), which moves the last bits of a sum relative to its largest terms.
"""
import importlib.util
import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad.backends import get_backend, kernel_names

MODULES = ("elementwise", "reduce", "nn", "optim", "recurrent")
BUILT = all(importlib.util.find_spec(f"minigrad.backends.cython.{m}") is not None for m in MODULES)
AVAILABLE = mg.available_backends()["cython"]["available"]

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="cython extension not built (pip install -e .)")

DTYPES = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
REF = get_backend("numpy")


@pytest.fixture(scope="module")
def cy():
    return get_backend("cython")


def close(actual, expected, dtype=None, rtol=None):
    """Same shape and dtype as numpy's result; values within the dtype's tolerance (NaN where numpy has NaN)."""
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, \
        (actual.shape, expected.shape, actual.dtype, expected.dtype)
    tol = rtol or RTOL.get(np.dtype(dtype or expected.dtype), 0.0)  # integers: exact
    finite = expected[np.isfinite(expected)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * max(scale, 1.0))


def randn(shape, dtype, scale=1.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def layouts(shape, dtype, scale=3.0, seed=0):
    """The same values as a contiguous, a non-contiguous and a broadcast-strided array."""
    x = randn(shape, dtype, scale, seed)
    yield "contiguous", x
    big = np.zeros(tuple(2 * n for n in shape), dtype)
    view = big[tuple(slice(None, None, 2) for _ in shape)]
    view[...] = x
    yield "strided", view
    if len(shape) >= 2:
        yield "transposed", np.ascontiguousarray(np.swapaxes(x, 0, -1)).swapaxes(0, -1)
        row = randn(shape[-1:], dtype, scale, seed + 1)
        yield "broadcast", np.broadcast_to(row, shape)


SHAPES = [(1,), (7,), (13, 17), (3, 1, 5), (2, 3, 4, 5)]
EXTREMES = [0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 3.0, -3.0, 7.9, -7.9, 8.0, -8.0, 20.0, -20.0,
            88.0, -88.0, 100.0, -100.0, 1e4, -1e4, 1e30, -1e30, np.inf, -np.inf, np.nan]


def extremes(dtype):
    return np.array(EXTREMES, dtype=dtype)


# ------------------------------------------------------------------ the backend itself
def test_extension_that_is_built_also_loads():
    """If the compiled modules are present, the backend must load: a broken import must not
    quietly turn into 'cython not available' and a skipped suite."""
    if BUILT:
        assert AVAILABLE, mg.available_backends()["cython"]["reason"]


def test_cython_covers_every_kernel_numba_implements():
    """The issue's contract: the Cython backend implements the same kernels as numba."""
    report = mg.available_backends()
    if not report["numba"]["available"]:
        pytest.skip("numba backend not available")
    own = lambda name: set(kernel_names()) - set(report[name]["reuses"])  # noqa: E731
    assert own("numba") - own("cython") == set(), "kernels numba compiles that cython reuses from numpy"
    assert own("cython") - own("numba") == set(), "kernels cython compiles that numba reuses from numpy"
    recurrent = {f"{m}_{d}" for m in ("rnn", "lstm", "gru") for d in ("forward", "backward")}
    assert recurrent <= own("cython"), "the fused recurrent kernels are cython/recurrent.pyx's"
    # matmul: both split products over their own threads (one pool with their split recurrences)
    assert "matmul" in own("cython") and "matmul" in own("numba")


# --------------------------------------------------------------------- elementwise
UNARY = [("tanh", ()), ("sigmoid", ()), ("relu", ()), ("leaky_relu", (0.01,)), ("leaky_relu", (-2.5,)),
         ("clip", (-1.0, 2.0)), ("clip", (None, 0.5)), ("clip", (-0.25, None)), ("clip", (1.0, -1.0))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,args", UNARY)
def test_unary(cy, name, args, shape, dtype):
    for _, x in layouts(shape, dtype):
        close(getattr(cy, name)(x, *args), getattr(REF, name)(x, *args))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,args", UNARY)
def test_unary_extreme_values(cy, name, args, dtype):
    x = extremes(dtype)
    close(getattr(cy, name)(x, *args), getattr(REF, name)(x, *args))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_and_sigmoid_saturate_and_keep_tiny_values(cy, dtype):
    x = np.array([1e-30, -1e-30, 1e-8, 50.0, -50.0, 1e4, -1e4], dtype=dtype)
    t = cy.tanh(x)
    np.testing.assert_array_equal(t[3:], [1, -1, 1, -1])
    np.testing.assert_allclose(t[:3], x[:3], rtol=RTOL[np.dtype(dtype)])  # tanh(x) = x near 0: relative precision kept
    s = cy.sigmoid(x)
    assert np.isfinite(s).all() and s[3] == 1 and s[5] == 1 and s[6] == 0


BACKWARD = [("tanh_backward", "tanh", ()), ("sigmoid_backward", "sigmoid", ()), ("relu_backward", None, ()),
            ("leaky_relu_backward", None, (0.2,)), ("abs_backward", None, ()), ("sqrt_backward", "sqrt", ()),
            ("clip_backward", None, (-0.5, 1.0)), ("clip_backward", None, (None, 0.0)),
            ("clip_backward", None, (0.0, None))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,forward,args", BACKWARD)
def test_fused_backward(cy, name, forward, args, shape, dtype):
    g = randn(shape, dtype, seed=5)
    for _, x in layouts(shape, dtype):
        saved = x if forward is None else getattr(REF, forward)(np.abs(x) if forward == "sqrt" else x)
        close(getattr(cy, name)(saved, g, *args), getattr(REF, name)(saved, g, *args))
        # the gradient broadcast-strided too (a scalar loss's gradient is often one value broadcast)
        gb = np.broadcast_to(np.asarray(1.5, dtype), shape)
        close(getattr(cy, name)(saved, gb, *args), getattr(REF, name)(saved, gb, *args))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,forward,args", BACKWARD)
def test_fused_backward_extreme_values(cy, name, forward, args, dtype):
    x = extremes(dtype)
    with np.errstate(all="ignore"):
        saved = x if forward is None else getattr(REF, forward)(x)
        g = np.resize(np.array([1.0, -2.0, 0.0, 1e30, np.inf], dtype), x.shape)
        close(getattr(cy, name)(saved, g, *args), getattr(REF, name)(saved, g, *args))


def test_elementwise_keeps_numpy_semantics_for_integers(cy):
    x = np.arange(-3, 4)
    np.testing.assert_array_equal(cy.relu(x), REF.relu(x))
    assert cy.relu(x).dtype == x.dtype


# ---------------------------------------------------------------------- reductions
def all_axes(ndim):
    return [None] + [c for r in range(ndim + 1) for c in itertools.combinations(range(ndim), r)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (11,), (3, 1, 5), (2, 3, 4), (37, 129)])
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var0", "var1"])
def test_reductions_over_every_axis_set(cy, op, shape, dtype):
    for layout, x in layouts(shape, dtype):
        for axis in all_axes(len(shape)):
            n = x.size if axis is None else int(np.prod([shape[a] for a in axis]))
            for keepdims in (False, True):
                if op.startswith("var"):
                    ddof = int(op[-1])
                    if n - ddof <= 0:
                        continue
                    got, want = cy.var(x, axis, ddof, keepdims), REF.var(x, axis, ddof, keepdims)
                else:
                    got, want = getattr(cy, op)(x, axis, keepdims), getattr(REF, op)(x, axis, keepdims)
                close(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_long_float_sums_stay_accurate(cy, dtype):
    x = randn(200_003, dtype, seed=2) + dtype(100)  # a large common offset: where naive float32 sums drift
    close(cy.sum(x, None, False), REF.sum(x, None, False))
    close(cy.mean(x, None, False), REF.mean(x, None, False))
    close(cy.var(x, None, 0, False), REF.var(x, None, 0, False), rtol=1e-4 if dtype == np.float32 else None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_min_propagate_nan_and_inf(cy, dtype):
    x = randn((4, 67), dtype)
    x[1, 5] = np.nan
    x[2, 60] = np.inf
    x[3, 0] = -np.inf
    for axis in [None, (0,), (1,)]:
        with np.errstate(invalid="ignore"):  # inf + -inf
            close(cy.max(x, axis, False), REF.max(x, axis, False))
            close(cy.min(x, axis, False), REF.min(x, axis, False))
            close(cy.sum(x, axis, False), REF.sum(x, axis, False))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,target", [((5, 3), (3,)), ((5, 3), (1, 3)), ((4, 3, 2), (3, 1)), ((4, 3, 2), (1, 1, 1)),
                                          ((2, 1, 7), (2, 1, 7)), ((6, 7), ())])
def test_sum_to_shape(cy, shape, target, dtype):
    for _, g in layouts(shape, dtype):
        close(cy.sum_to_shape(g, target), REF.sum_to_shape(g, target))


@pytest.mark.parametrize("dtype", DTYPES)
def test_expand_reduced(cy, dtype):
    shape = (3, 4, 5)
    for axis in all_axes(3):
        for keepdims in (False, True):
            g = REF.sum(randn(shape, dtype), axis, keepdims)
            close(cy.expand_reduced(g, shape, axis, keepdims), REF.expand_reduced(g, shape, axis, keepdims))


@pytest.mark.parametrize("dtype", DTYPES)
def test_minmax_backward_shares_ties(cy, dtype):
    x = np.array([[1, 3, 3, 0], [2, 2, 2, 2], [-1, 5, 4, 5]], dtype=dtype)
    for axis in all_axes(2):
        for keepdims in (False, True):
            for name in ("max", "min"):
                y = getattr(REF, name)(x, axis, keepdims)
                g = randn(np.shape(y), dtype, seed=3)
                close(cy.minmax_backward(x, y, g, axis, keepdims), REF.minmax_backward(x, y, g, axis, keepdims))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 1, 5), (2, 3, 4)])
def test_minmax_and_var_backward_every_axis(cy, shape, dtype):
    for _, x in layouts(shape, dtype):
        for axis in all_axes(len(shape)):
            for keepdims in (False, True):
                y = REF.max(x, axis, keepdims)
                g = randn(np.shape(y), dtype, seed=4)
                close(cy.minmax_backward(x, y, g, axis, keepdims), REF.minmax_backward(x, y, g, axis, keepdims))
                n = x.size if axis is None else int(np.prod([shape[a] for a in axis]))
                for ddof in (0, 1):
                    if n - ddof > 0:
                        close(cy.var_backward(x, g, axis, ddof, keepdims), REF.var_backward(x, g, axis, ddof, keepdims))


@pytest.mark.parametrize("dtype", DTYPES)
def test_whole_array_checks(cy, dtype):
    for shape in [(1,), (31,), (5, 67)]:
        for _, x in layouts(shape, dtype):
            assert cy.any_nonfinite(x) is False
            assert isinstance(cy.sumsq(x), float)
            np.testing.assert_allclose(cy.sumsq(x), REF.sumsq(x), rtol=1e-12)
    for bad in (np.nan, np.inf, -np.inf):
        x = randn((5, 67), dtype)
        x[4, 66] = bad
        assert cy.any_nonfinite(x) is True
        assert cy.any_nonfinite(x.T) is True
    big = np.full(100, 3e38, np.float32)  # squares overflow float32 but not the float64 accumulator
    assert cy.sumsq(big) == pytest.approx(REF.sumsq(big))


def test_reductions_keep_numpy_semantics_outside_the_loops(cy):
    for x in [np.arange(12).reshape(3, 4), np.zeros((0, 3), np.float32), np.array(2.5, np.float32)]:
        for axis in [None, (0,)] if x.ndim else [None]:
            close(cy.sum(x, axis, False), REF.sum(x, axis, False))
    with pytest.raises(ValueError):
        cy.max(np.zeros((0, 3), np.float32), None, False)


# ---------------------------------------------------------------------- nn kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (1, 1), (7,), (4, 13), (3, 1, 5), (2, 3, 4)])
def test_softmax_family_every_axis(cy, shape, dtype):
    for _, x in layouts(shape, dtype, scale=5.0):
        for axis in range(len(shape)):
            y, ly = REF.softmax(x, axis), REF.log_softmax(x, axis)
            close(cy.softmax(x, axis), y)
            close(cy.log_softmax(x, axis), ly)
            g = randn(shape, dtype, seed=7)
            close(cy.softmax_backward(y, g, axis), REF.softmax_backward(y, g, axis))
            close(cy.log_softmax_backward(ly, g, axis), REF.log_softmax_backward(ly, g, axis))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_logits(cy, dtype):
    x = np.array([[1e4, -1e4, 0.0, 1e4], [0.0, 0.0, 0.0, 0.0], [-1e4, -1e4 + 1, -1e4, -1e4],
                  [88.0, -88.0, 700.0 if dtype == np.float64 else 80.0, 1e-8]], dtype=dtype)
    for axis in (0, 1):
        close(cy.softmax(x, axis), REF.softmax(x, axis))
        close(cy.log_softmax(x, axis), REF.log_softmax(x, axis))
    nan_row = np.array([[1.0, np.nan, 2.0]], dtype)
    assert np.isnan(cy.softmax(nan_row, 1)).all() and np.isnan(REF.softmax(nan_row, 1)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("n,c", [(1, 1), (1, 7), (9, 3), (31, 101)])
def test_cross_entropy_with_ignore_index_and_smoothing(cy, n, c, smoothing, dtype):
    logits = randn((n, c), dtype, scale=4.0)
    targets = np.random.default_rng(1).integers(0, c, n)
    targets[::3] = -100  # ignored rows
    for x in (logits, np.asfortranarray(logits)):
        losses, logp = cy.cross_entropy(x, targets, -100, smoothing)
        ref_losses, ref_logp = REF.cross_entropy(x, targets, -100, smoothing)
        close(losses, ref_losses)
        close(logp, ref_logp)
        assert (losses[targets == -100] == 0).all()
        g = randn(n, dtype, seed=2)
        close(cy.cross_entropy_backward(logp, targets, g, -100, smoothing),
              REF.cross_entropy_backward(ref_logp, targets, g, -100, smoothing))
    # another ignore_index, which may also be a valid class number
    t2 = np.where(targets == -100, 0, targets)
    close(cy.cross_entropy(logits, t2, 0, smoothing)[0], REF.cross_entropy(logits, t2, 0, smoothing)[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_nll_and_its_backward(cy, dtype):
    logp = REF.log_softmax(randn((11, 5), dtype), 1)
    targets = np.array([0, 4, -1, 2, 2, -1, 1, 3, 0, 4, 4])
    g = randn(11, dtype, seed=1)
    close(cy.nll(logp, targets, -1), REF.nll(logp, targets, -1))
    for grad in (g, np.float64(2.0)):  # per-row gradient, or one value broadcast to every row
        args = ((11, 5), targets, grad, -1, np.dtype(dtype))
        close(cy.nll_backward(*args), REF.nll_backward(*args))


def test_bad_class_targets_raise_instead_of_reading_out_of_bounds(cy):
    logits = randn((3, 4), np.float32)
    for bad in ([0, 4, 1], [0, -2, 1]):
        with pytest.raises(IndexError, match="out of bounds"):
            cy.cross_entropy(logits, np.array(bad), -100, 0.0)
        with pytest.raises(IndexError, match="out of bounds"):
            cy.nll(logits, np.array(bad), -100)
        with pytest.raises(IndexError, match="out of bounds"):
            cy.nll_backward((3, 4), np.array(bad), np.ones(3, np.float32), -100, np.dtype(np.float32))
        with pytest.raises(IndexError, match="out of bounds"):
            cy.cross_entropy_backward(logits, np.array(bad), np.ones(3, np.float32), -100, 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (13, 17), (3, 1, 5)])
def test_bce_with_logits(cy, shape, dtype):
    for _, x in layouts(shape, dtype, scale=10.0):
        y = np.random.default_rng(3).random(shape).astype(dtype)
        g = randn(shape, dtype, seed=4)
        close(cy.bce_with_logits(x, y), REF.bce_with_logits(x, y))
        for got, want in zip(cy.bce_with_logits_backward(x, y, g), REF.bce_with_logits_backward(x, y, g)):
            close(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_extreme_values(cy, dtype):
    x = np.array([0.0, 1e-8, -1e-8, 30.0, -30.0, 100.0, -100.0, 1e4, -1e4], dtype)
    y = np.resize(np.array([0.0, 1.0, 0.5], dtype), x.shape)
    close(cy.bce_with_logits(x, y), REF.bce_with_logits(x, y))
    g = np.ones_like(x)
    for got, want in zip(cy.bce_with_logits_backward(x, y, g), REF.bce_with_logits_backward(x, y, g)):
        close(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
def test_embedding_backward_accumulates_repeated_indices(cy, padding_idx, dtype):
    idx = np.array([[3, 1, 3], [0, 3, 5]])  # 3 three times
    g = randn((2, 3, 4), dtype)
    got = cy.embedding_backward(idx, g, 6, padding_idx)
    close(got, REF.embedding_backward(idx, g, 6, padding_idx))
    if padding_idx is None:
        close(got[3], g[0, 0] + g[0, 2] + g[1, 1])
    with pytest.raises(IndexError):
        cy.embedding_backward(np.array([0, 6]), randn((2, 4), dtype), 6, None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_add_with_repeated_and_negative_indices(cy, dtype):
    idx = np.array([2, 0, 2, -1, 2])
    g = randn((5, 3, 2), dtype)
    args = ((4, 3, 2), (idx,), g, np.dtype(dtype), True)
    close(cy.scatter_add(*args), REF.scatter_add(*args))
    # index forms the kernel does not cover keep numpy's semantics: (index, g's shape, accumulate)
    others = [((slice(1, 3),), (2, 3, 2), False), ((idx[:2], slice(None), 0), (2, 3), True),
              (np.array([True, False, True, True]), (3, 3, 2), True)]
    for index, gshape, accumulate in others:
        args = ((4, 3, 2), index, randn(gshape, dtype), np.dtype(dtype), accumulate)
        close(cy.scatter_add(*args), REF.scatter_add(*args))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_mask_is_numpys_mask_for_one_seed(cy, dtype):
    for shape, p in [((1,), 0.5), ((13, 17), 0.1), ((3, 1, 5), 0.9), ((64,), 0.0)]:
        got = cy.dropout_mask(shape, p, np.random.default_rng(11), np.dtype(dtype))
        want = REF.dropout_mask(shape, p, np.random.default_rng(11), np.dtype(dtype))
        close(got, want)
        assert set(np.unique(got)) <= {0, dtype(1 / (1 - p))}


# -------------------------------------------------------------------- optimizers
def run_steps(backend, step, p, states, steps):
    """Apply ``step(backend, p, states, t, g)`` for t = 1..steps with seeded gradients, returning p and states."""
    rng = np.random.default_rng(42)
    for t in range(1, steps + 1):
        g = rng.standard_normal(p.shape).astype(p.dtype)
        step(backend, p, states, t, g)
    return p, states


def compare_steps(cy, step, dtype, n_states, shape=(13, 17), steps=5):
    p0 = randn(shape, dtype, seed=9)
    results = []
    for backend in (cy, REF):
        p = p0.copy()
        states = [np.zeros(shape, dtype) for _ in range(n_states)]
        results.append(run_steps(backend, step, p, states, steps))
    (p_cy, s_cy), (p_ref, s_ref) = results
    close(p_cy, p_ref)
    for a, b in zip(s_cy, s_ref):
        close(a, b)
    assert not np.array_equal(p_cy, p0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,dampening,nesterov", [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.3, False),
                                                        (0.9, 0.0, True)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("maximize", [False, True])
def test_sgd_steps(cy, momentum, dampening, nesterov, weight_decay, maximize, dtype):
    def step(k, p, s, t, g):
        k.sgd_step(p, g, s[0] if momentum else None, 0.1, momentum, dampening, nesterov, weight_decay, maximize, t == 1)
    compare_steps(cy, step, dtype, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (0.01, False), (0.01, True)])
@pytest.mark.parametrize("maximize", [False, True])
def test_adam_steps(cy, amsgrad, weight_decay, decoupled, maximize, dtype):
    def step(k, p, s, t, g):
        k.adam_step(p, g, s[0], s[1], s[2] if amsgrad else None, t, 1e-2, 0.9, 0.999, 1e-8, weight_decay, decoupled,
                    maximize)
    compare_steps(cy, step, dtype, 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("maximize", [False, True])
def test_rmsprop_steps(cy, centered, momentum, weight_decay, maximize, dtype):
    def step(k, p, s, t, g):
        k.rmsprop_step(p, g, s[0], s[1] if momentum else None, s[2] if centered else None, 1e-2, 0.99, 1e-8,
                       weight_decay, momentum, maximize)
    compare_steps(cy, step, dtype, 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("maximize", [False, True])
def test_adagrad_steps(cy, weight_decay, maximize, dtype):
    def step(k, p, s, t, g):
        k.adagrad_step(p, g, s[0], 0.1 / (1 + (t - 1) * 0.01), 1e-10, weight_decay, maximize)
    compare_steps(cy, step, dtype, 1)


@pytest.mark.parametrize("shape", [(1,), (7,), (2, 3, 5)])
def test_optimizer_steps_at_awkward_sizes(cy, shape):
    def step(k, p, s, t, g):
        k.adam_step(p, g, s[0], s[1], s[2], t, 1e-2, 0.9, 0.999, 1e-8, 0.01, True, False)
    compare_steps(cy, step, np.float32, 3, shape=shape)


def test_optimizer_updates_a_non_contiguous_parameter_in_place(cy):
    """A parameter the kernel cannot view flat is left to numpy, still updated in place."""
    base = randn((6, 8), np.float32)
    p_cy, p_ref = base.copy().T, base.copy().T  # F-ordered views
    g = randn((8, 6), np.float32, seed=1)
    cy.sgd_step(p_cy, g, None, 0.1, 0.0, 0.0, False, 0.0, False, True)
    REF.sgd_step(p_ref, g, None, 0.1, 0.0, 0.0, False, 0.0, False, True)
    close(p_cy, p_ref)
    assert not np.array_equal(p_cy, base.T)


def test_training_step_agrees_with_numpy():
    """An end-to-end step through ops, autograd and an optimizer."""
    results = {}
    for name in ["numpy", "cython"]:
        mg.manual_seed(5)
        w = mg.randn(16, 10, requires_grad=True)
        x = mg.randn(32, 16)
        target = mg.tensor(np.random.default_rng(0).integers(0, 10, 32))
        opt = mg.optim.Adam([w], lr=1e-2)
        with mg.backend(name):
            for _ in range(3):
                opt.zero_grad()
                loss = mg.cross_entropy((x @ w).tanh() * 3, target, label_smoothing=0.1)
                loss.backward()
                opt.step()
        results[name] = w.numpy()
    close(results["cython"], results["numpy"], rtol=1e-4)
