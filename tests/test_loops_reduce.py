"""Reduction loop kernels (minigrad/backends/loops/reduce.py) against the numpy reference.

Every kernel the loops implement runs on "numba" (compiled) and "python" (the same
loops, interpreted) and is compared with get_backend("numpy") at awkward sizes: 1,
primes, every axis combination of a 3-D array, non-contiguous and broadcast-strided
inputs, NaN and inf. The python backend only sees small arrays (it is interpreted).
"""
import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad.backends import get_backend
from minigrad.backends.wrappers import _layout
from minigrad.ops.common import normalize_axis

REF = get_backend("numpy")
LOOPS = [n for n in ("numba", "python") if mg.available_backends()[n]["available"]]
DTYPES = [np.float32, np.float64]
# float32: the loops and numpy sum in different orders (both ~pairwise): a few ulps of
# the row's magnitude. float64: the same, 2^29 times smaller.
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

REDUCTIONS = ["sum", "mean", "max", "min", "var0", "var1"]
OVERRIDDEN = ["sum", "mean", "max", "min", "var", "sum_to_shape", "expand_reduced",
              "minmax_backward", "var_backward", "any_nonfinite", "sumsq"]


def close(actual, expected, dtype=None):
    """Same shape and dtype as numpy's result, values within the dtype's tolerance."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray), type(actual)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, \
        (actual.shape, expected.shape, actual.dtype, expected.dtype)
    tol = RTOL[np.dtype(dtype or expected.dtype)]
    scale = np.nanmax(np.abs(expected), initial=1.0) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * max(scale, 1.0))


def reduce_with(b, name, x, axis, keepdims):
    if name.startswith("var"):
        return b.var(x, axis, int(name[-1]), keepdims)
    return getattr(b, name)(x, axis, keepdims)


def all_axes(ndim):
    """None, () and every subset of the axes, some of them written with negative axes."""
    out = [None]
    for r in range(ndim + 1):
        for combo in itertools.combinations(range(ndim), r):
            out.append(combo)
            out.append(normalize_axis("test", tuple(a - ndim for a in combo), ndim))  # (-1, -3) -> (0, 2)
    return list(dict.fromkeys(out))


def data(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def n_reduced(shape, axis):
    return int(np.prod(shape if axis is None else [shape[a] for a in axis]))


# ------------------------------------------------------------------ registry
def test_numba_owns_the_reduction_kernels_and_reuses_numpys_arg_reductions():
    reuses = mg.available_backends()["numba"]["reuses"]
    for name in OVERRIDDEN:
        assert name not in reuses, name
    assert reuses["argmax"] == "numpy" and reuses["argmin"] == "numpy"


@pytest.mark.skipif("python" not in LOOPS, reason="python backend unavailable")
def test_python_backend_runs_the_same_loop_functions():
    nb, py = get_backend("numba"), get_backend("python")
    for name in ["sum_rows_loop", "sum_cols_loop", "max_cols_loop", "var_rows_loop",
                 "minmax_backward_cols_loop", "any_nonfinite_loop", "sumsq_loop"]:
        assert getattr(py.loops, name) is getattr(nb.loops, name).py_func


def test_plan_uses_rows_cols_or_a_transpose():
    assert _layout.plan((4, 5, 6), (2,))[:4] == (None, 20, 6, 1)        # rows: reduced axes last
    assert _layout.plan((4, 5, 6), (0,))[:4] == (None, 1, 4, 30)        # cols: bias-gradient form
    assert _layout.plan((4, 5, 6), (1,))[:4] == (None, 4, 5, 6)         # cols with an outer loop
    assert _layout.plan((4, 5, 6), (0, 2))[:4] == ((1, 0, 2), 5, 24, 1)  # interleaved: transpose (a copy)
    assert _layout.plan((4, 1, 6), (0, 2))[:4] == (None, 1, 24, 1)      # a size-1 axis does not interleave
    assert _layout.plan((4, 5, 6), ())[:4] == (None, 1, 1, 120)         # nothing to reduce: one copy
    pl = _layout.plan((4, 5, 6), (1,))
    assert pl.keep_shape == (4, 1, 6) and pl.out_shape == (4, 6) and pl.kept_order is None
    # x.T of a C-contiguous (5, 4): read in memory order, no copy
    x = np.zeros((5, 4)).T
    assert _layout.memory_order(x) == (1, 0)
    assert _layout.plan(x.shape, (0,), (1, 0))[:4] == ((1, 0), 5, 4, 1)  # sum over axis 0 of x.T: rows
    assert _layout.plan(x.shape, (1,), (1, 0))[:4] == ((1, 0), 1, 5, 4)  # sum over axis 1 of x.T: cols
    assert _layout.memory_order(np.zeros((6, 4))[::2]) is None          # stepped: not a permutation, copied
    y = np.zeros((2, 3, 4)).transpose(2, 0, 1)                    # (4, 2, 3), memory order (1, 2, 0)
    pl = _layout.plan(y.shape, (1,), _layout.memory_order(y))
    assert pl.order == (1, 2, 0) and pl.kept_order == (1, 0) and pl[1:4] == (1, 2, 12)


# ---------------------------------------------------------------- forward
@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 7, 13), (13, 1, 2), (1, 1, 1)])
def test_reductions_every_axis_combination(backend, dtype, shape):
    b, x = get_backend(backend), data(shape, dtype)
    for name, axis, keepdims in itertools.product(REDUCTIONS, all_axes(3), (False, True)):
        if name == "var1" and n_reduced(shape, axis) <= 1:
            continue  # no degrees of freedom: numpy warns and returns nan/inf (tested below)
        close(reduce_with(b, name, x, axis, keepdims), reduce_with(REF, name, x, axis, keepdims))


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 13, 127])
def test_reductions_1d_and_2d_prime_sizes(backend, dtype, n):
    b = get_backend(backend)
    for shape in [(n,), (n, 3), (3, n)]:
        x = data(shape, dtype, seed=n)
        for name, axis, keepdims in itertools.product(REDUCTIONS, all_axes(len(shape)), (False, True)):
            if name == "var1" and n_reduced(shape, axis) <= 1:
                continue
            close(reduce_with(b, name, x, axis, keepdims), reduce_with(REF, name, x, axis, keepdims))


def strided_views(dtype):
    """Non-contiguous and broadcast-strided 2-D inputs (and a 3-D transposed one)."""
    base = data((14, 9), dtype)
    return {
        "transposed": base.T,
        "fortran": np.asfortranarray(base),
        "stepped": base[::2, 1::3],
        "negative_step": base[::-3, ::-1],
        "broadcast_row": np.broadcast_to(base[0], (5, 9)),
        "broadcast_col": np.broadcast_to(base[:, :1], (14, 6)),
        "broadcast_scalar": np.broadcast_to(base[0, 0], (4, 3)),
        "transposed_3d": data((3, 4, 5), dtype).transpose(2, 0, 1),
    }


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_on_strided_and_broadcast_inputs(backend, dtype):
    b = get_backend(backend)
    for label, x in strided_views(dtype).items():
        for name, axis, keepdims in itertools.product(REDUCTIONS, all_axes(x.ndim), (False, True)):
            if name == "var1" and n_reduced(x.shape, axis) <= 1:
                continue
            close(reduce_with(b, name, x, axis, keepdims), reduce_with(REF, name, x, axis, keepdims))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((100_003,), None), ((1, 100_003), (1,)), ((100_003, 3), (0,)),
                                        ((7, 70_001), (1,)), ((5, 20_011, 2), (0, 1)), ((300, 301, 3), (0, 2))])
def test_float32_sums_stay_accurate_on_large_reductions(dtype, shape, axis):
    """Cascaded float32 sums against a float64 reference (numba only: the python loop would take minutes)."""
    nb = get_backend("numba")
    x = np.random.default_rng(5).uniform(0.5, 1.5, shape).astype(dtype)  # no cancellation: rtol is meaningful
    exact = x.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(nb.sum(x, axis, False), exact.sum(axis=axis), rtol=tol)
    np.testing.assert_allclose(nb.mean(x, axis, False), exact.mean(axis=axis), rtol=tol)
    np.testing.assert_allclose(nb.var(x, axis, 1, False), exact.var(axis=axis, ddof=1), rtol=10 * tol)
    assert nb.sum(x, axis, False).dtype == dtype


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_inf_propagate_like_numpy(backend, dtype):
    b = get_backend(backend)
    x = data((4, 37), dtype)
    x[0, 5] = np.nan            # row 0: NaN in the middle
    x[1, -1] = np.nan           # row 1: NaN last
    x[2, 3] = np.inf            # row 2: +inf
    x[3, 0], x[3, 9] = -np.inf, np.inf  # row 3: inf - inf
    with np.errstate(invalid="ignore"):
        for name, axis in itertools.product(["sum", "mean", "max", "min", "var0"], all_axes(2)):
            got, want = reduce_with(b, name, x, axis, False), reduce_with(REF, name, x, axis, False)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name} {axis}")
            np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want), err_msg=f"{name} {axis}")
            close(np.asarray(np.nan_to_num(got)), np.nan_to_num(want))


@pytest.mark.parametrize("backend", LOOPS)
def test_degenerate_inputs_behave_like_numpy(backend):
    b = get_backend(backend)
    empty = np.zeros((0, 3), np.float32)
    close(b.sum(empty, (0,), False), REF.sum(empty, (0,), False))
    close(b.max(empty, (1,), False), REF.max(empty, (1,), False))  # (0,) result: allowed
    with pytest.raises(ValueError):
        b.max(empty, (0,), False)  # zero-size reduction with no identity, as in numpy
    with pytest.warns(RuntimeWarning):
        b.var(np.ones((2, 1), np.float32), (1,), 1, False)  # no degrees of freedom
    ints = np.arange(12, dtype=np.int32).reshape(3, 4)
    for name in ["sum", "mean", "max", "min"]:
        got, want = getattr(b, name)(ints, (1,), False), getattr(REF, name)(ints, (1,), False)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    close(b.sum(np.array(2.5, np.float32), None, False), REF.sum(np.array(2.5, np.float32), None, False))


# --------------------------------------------------------------- backward
@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 13, 2), (2, 1, 1)])
def test_expand_reduced_every_axis_combination(backend, dtype, shape):
    b = get_backend(backend)
    for axis, keepdims in itertools.product(all_axes(3), (False, True)):
        g = np.asarray(REF.sum(data(shape, dtype), axis, keepdims))
        close(b.expand_reduced(g, shape, axis, keepdims), REF.expand_reduced(g, shape, axis, keepdims))
        if g.ndim >= 2:  # a non-contiguous upstream gradient
            gt = np.ascontiguousarray(g.T).T
            close(b.expand_reduced(gt, shape, axis, keepdims), REF.expand_reduced(gt, shape, axis, keepdims))


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_to_shape_undoes_broadcasting(backend, dtype):
    b = get_backend(backend)
    cases = [((8, 5), (5,)), ((8, 5), (1, 5)), ((8, 5), (8, 1)), ((8, 5), ()), ((8, 5), (1, 1)),
             ((2, 7, 5), (5,)), ((2, 7, 5), (7, 5)), ((2, 7, 5), (2, 1, 5)), ((2, 7, 5), (1, 7, 1)),
             ((2, 7, 5), (2, 1, 1)), ((1, 13), (13,)), ((13, 1), (1,)), ((3, 1, 4), (1, 1, 4))]
    for gshape, shape in cases:
        g = data(gshape, dtype)
        close(b.sum_to_shape(g, shape), REF.sum_to_shape(g, shape))
        gb = np.broadcast_to(data(gshape[-1:], dtype), gshape)  # broadcast-strided gradient
        close(b.sum_to_shape(gb, shape), REF.sum_to_shape(gb, shape))
        close(b.sum_to_shape(g.T.copy().T, shape), REF.sum_to_shape(g, shape))  # F-ordered
    g = data((4, 3), dtype)
    assert b.sum_to_shape(g, (4, 3)) is g  # nothing to undo: no copy


def with_ties(shape, dtype, seed=0):
    """Small integers as floats: many elements tie for the max and the min."""
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 13, 2), (7, 1, 1)])
def test_minmax_backward_shares_ties_every_axis(backend, dtype, shape):
    b = get_backend(backend)
    x = with_ties(shape, dtype)
    for op, axis, keepdims in itertools.product(["max", "min"], all_axes(3), (False, True)):
        y = getattr(REF, op)(x, axis, keepdims)
        g = np.asarray(data(np.shape(y), dtype, seed=1))
        got = b.minmax_backward(x, y, g, axis, keepdims)
        close(got, REF.minmax_backward(x, y, g, axis, keepdims))
        close(np.asarray(REF.sum(got, axis, keepdims)), g)  # each group's shares add up to g


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_minmax_backward_strided_and_nan(backend, dtype):
    b = get_backend(backend)
    for x in list(strided_views(dtype).values()) + [with_ties((6, 11), dtype).T]:
        for axis in all_axes(x.ndim):
            y = REF.max(x, axis, True)
            g = data(y.shape, dtype, seed=2)
            close(b.minmax_backward(x, y, g, axis, True), REF.minmax_backward(x, y, g, axis, True))
    x = data((3, 6), dtype)
    x[1, 2] = np.nan  # the max of row 1 is NaN: nothing equals it, the row gets no gradient
    y, g = REF.max(x, (1,), False), np.ones(3, dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = REF.minmax_backward(x, y, g, (1,), False)
    got = b.minmax_backward(x, y, g, (1,), False)
    close(got, want)
    assert not got[1].any()


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ddof", [0, 1])
def test_var_backward_every_axis(backend, dtype, ddof):
    b = get_backend(backend)
    inputs = [data((3, 5, 7), dtype), data((1, 13, 2), dtype)] + list(strided_views(dtype).values())
    for x in inputs:
        for axis, keepdims in itertools.product(all_axes(x.ndim), (False, True)):
            if n_reduced(x.shape, axis) - ddof <= 0:
                continue
            g = np.asarray(data(np.shape(REF.var(x, axis, ddof, keepdims)), dtype, seed=3))
            close(b.var_backward(x, g, axis, ddof, keepdims), REF.var_backward(x, g, axis, ddof, keepdims))


# ------------------------------------------------------- whole-array checks
@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_any_nonfinite_finds_nan_and_inf_anywhere(backend, dtype):
    b = get_backend(backend)
    n = 3000 if backend == "numba" else 1500  # > one 1024-element block, so later blocks are checked too
    x = data(n, dtype)
    assert b.any_nonfinite(x) is False
    for pos in [0, 7, 1023, 1024, n - 1]:
        for bad in [np.nan, np.inf, -np.inf]:
            y = x.copy()
            y[pos] = bad
            assert b.any_nonfinite(y) is True, (pos, bad)
            assert b.any_nonfinite(y.reshape(-1, 3 if n % 3 == 0 else 1).T) is True  # strided
    big = np.full(4, np.finfo(dtype).max, dtype)
    assert b.any_nonfinite(big) is False  # the largest finite value is finite
    for label, v in strided_views(dtype).items():
        assert b.any_nonfinite(v) is REF.any_nonfinite(v), label


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sumsq_in_float64(backend, dtype):
    b = get_backend(backend)
    for x in [data(1, dtype), data(127, dtype), data((13, 7), dtype)] + list(strided_views(dtype).values()):
        got = b.sumsq(x)
        assert type(got) is float
        np.testing.assert_allclose(got, REF.sumsq(x), rtol=1e-12)
    x = np.full(1000, 1e30, np.float32)  # squares overflow float32 but not the float64 sum
    np.testing.assert_allclose(b.sumsq(x), 1e63, rtol=1e-6)
