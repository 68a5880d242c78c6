"""Indexing (``x[index]``) and joining/splitting: cat, stack, split, chunk.

getitem's backward scatters the gradient back; integer-array indices may repeat an
element, whose gradient must then be the *sum* over its picks.
"""
import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close, f64

MASK = np.array([True, False, True])

# name -> (input shape, index as numpy sees it, index as minigrad gets it)
INDEXES = {
    "int": ((3, 4), 1, 1),
    "neg_int": ((3, 4), -1, -1),
    "int_int": ((3, 4), (2, 3), (2, 3)),
    "int_0d_result_of_1d": ((5,), 3, 3),
    "slice": ((5, 4), slice(1, 4), slice(1, 4)),
    "slice_step": ((7, 3), slice(None, None, 2), slice(None, None, 2)),
    "slice_neg_step": ((6, 3), slice(None, None, -2), slice(None, None, -2)),
    "slice_negative_bounds": ((6, 3), (slice(-4, -1), slice(-2, None)), (slice(-4, -1), slice(-2, None))),
    "slice_empty": ((4, 3), slice(2, 2), slice(2, 2)),
    "none": ((3, 4), (None, slice(None), None), (None, slice(None), None)),
    "ellipsis": ((2, 3, 4), (Ellipsis, 1), (Ellipsis, 1)),
    "ellipsis_none": ((2, 3, 4), (0, Ellipsis, None), (0, Ellipsis, None)),
    "mixed_int_slice": ((2, 3, 4), (1, slice(None), slice(1, None, 2)), (1, slice(None), slice(1, None, 2))),
    "int_list": ((5, 3), [0, 2, 4], [0, 2, 4]),
    "int_array_repeated": ((4, 3), np.array([1, 1, 3, 1]), np.array([1, 1, 3, 1])),
    "int_array_2d_repeated": ((4,), np.array([[0, 0], [3, 0]]), np.array([[0, 0], [3, 0]])),
    "int_arrays_pair_repeated": ((3, 4), (np.array([0, 0, 2]), np.array([1, 1, 3])),
                                 (np.array([0, 0, 2]), np.array([1, 1, 3]))),
    "int_array_negative": ((5,), np.array([-1, -1, 0]), np.array([-1, -1, 0])),
    "int_array_with_slice": ((3, 4), (slice(None), np.array([3, 0, 3])), (slice(None), np.array([3, 0, 3]))),
    "int_tensor": ((5, 2), np.array([4, 0, 4]), mg.tensor([4, 0, 4])),
    "int_tensor_0d": ((5, 2), np.array(3), mg.tensor(3)),
    "int_tensors_pair": ((3, 4), (np.array([2, 2]), np.array([0, 0])), (mg.tensor([2, 2]), mg.tensor([0, 0]))),
    "bool_mask": ((3, 4), MASK, MASK),
    "bool_mask_tensor": ((3, 4), MASK, mg.tensor(MASK)),
    "bool_mask_full": ((2, 3), np.array([[True, False, True], [False, True, True]]),
                       mg.tensor([[True, False, True], [False, True, True]])),
    "bool_mask_second_axis": ((4, 3), (slice(None), MASK), (slice(None), mg.tensor(MASK))),
    "bool_mask_with_int_array": ((3, 4), (MASK, np.array([1, 3])), (mg.tensor(MASK), mg.tensor([1, 3]))),
}


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem_forward(backend, name):
    shape, np_index, mg_index = INDEXES[name]
    x = _data(shape).astype(np.float32)
    out = mg.tensor(x)[mg_index]
    expected = x[np_index]
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    assert_close(out, expected)


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem_gradcheck(backend, name):
    shape, _, mg_index = INDEXES[name]
    if name == "slice_empty":
        x = f64(_data(shape, 1))
        x[mg_index].sum().backward()  # an empty selection: the gradient is all zeros
        assert_close(x.grad, np.zeros(shape), np.float64)
        return
    assert mg.gradcheck(lambda x: x[mg_index], [f64(_data(shape, 1))])


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem_gradient_matches_numpy_scatter_add(backend, name):
    shape, np_index, mg_index = INDEXES[name]
    x = mg.tensor(_data(shape), requires_grad=True)
    out = x[mg_index]
    g = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
    out.backward(mg.tensor(g))
    expected = np.zeros(shape, dtype=np.float32)
    np.add.at(expected, np_index, g)
    assert_close(x.grad, expected)


def test_repeated_indices_accumulate(backend):
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 0, 0, 2]].sum().backward()
    assert_close(x.grad, [3.0, 0.0, 1.0])
    x.grad = None
    (x[mg.tensor([1, 1])] * mg.tensor([2.0, 5.0])).sum().backward()
    assert_close(x.grad, [0.0, 7.0, 0.0])


def test_getitem_of_integer_tensor(backend):
    i = mg.arange(10)
    assert i[2:8:3].tolist() == [2, 5]
    assert i[i > 6].tolist() == [7, 8, 9]


def test_setitem_under_no_grad_does_not_touch_saved_arrays(backend):
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    with mg.no_grad():
        w[1] = 100.0
    assert_close(w, [1.0, 100.0, 3.0])
    y.backward()
    assert_close(w.grad, [2.0, 4.0, 6.0])


def test_setitem_on_plain_tensor(backend):
    t = mg.zeros(2, 3)
    t[0, 1:] = 5.0
    t[mg.tensor([False, True])] = mg.tensor([1.0, 2.0, 3.0])
    assert_close(t, [[0.0, 5.0, 5.0], [1.0, 2.0, 3.0]])


# --------------------------------------------------------------- cat / stack
CAT_CASES = [
    ([(2, 3), (4, 3)], 0),
    ([(2, 3), (2, 1), (2, 5)], 1),
    ([(2, 3), (2, 1), (2, 5)], -1),
    ([(2, 1, 3), (2, 2, 3)], 1),
    ([(3,), (1,), (2,)], 0),
    ([(1, 2)], 0),
]


@pytest.mark.parametrize("shapes,axis", CAT_CASES, ids=str)
def test_cat(backend, shapes, axis):
    arrays = [_data(s, i) for i, s in enumerate(shapes)]
    out = mg.cat([mg.tensor(a) for a in arrays], axis=axis)
    assert_close(out, np.concatenate([a.astype(np.float32) for a in arrays], axis=axis))
    assert mg.gradcheck(lambda *xs: mg.cat(xs, axis), [f64(a) for a in arrays])


def test_cat_with_constant_input(backend):
    a, b = f64(_data((2, 3))), f64(_data((1, 3), 1), requires_grad=False)
    assert mg.gradcheck(lambda a, b: mg.cat([b, a, b], 0), [a, b])
    # the same tensor twice gets both slices' gradients
    a.grad = None
    mg.cat([a, a], axis=1).backward(mg.tensor(np.arange(12.0).reshape(2, 6), dtype=mg.float64))
    assert_close(a.grad, [[3.0, 5.0, 7.0], [15.0, 17.0, 19.0]], np.float64)


@pytest.mark.parametrize("shape,axis", [((2, 3), 0), ((2, 3), 1), ((2, 3), 2), ((2, 3), -1), ((), 0), ((4,), -2)],
                         ids=str)
def test_stack(backend, shape, axis):
    arrays = [_data(shape, i) for i in range(3)]
    out = mg.stack([mg.tensor(a) for a in arrays], axis=axis)
    assert_close(out, np.stack([a.astype(np.float32) for a in arrays], axis=axis))
    assert mg.gradcheck(lambda *xs: mg.stack(list(xs), axis=axis), [f64(a) for a in arrays])


# -------------------------------------------------------------- split / chunk
@pytest.mark.parametrize("shape,arg,axis,sizes", [
    ((7, 3), 3, 0, [3, 3, 1]),
    ((7, 3), 7, 0, [7]),
    ((7, 3), 10, 0, [7]),
    ((2, 6), [1, 0, 5], 1, [1, 0, 5]),
    ((2, 6), (2, 4), -1, [2, 4]),
    ((2, 3, 4), 1, 2, [1, 1, 1, 1]),
], ids=str)
def test_split(backend, shape, arg, axis, sizes):
    x = _data(shape)
    pieces = mg.split(mg.tensor(x), arg, axis)
    assert [p.shape[axis] for p in pieces] == sizes
    assert_close(mg.cat(list(pieces), axis), x.astype(np.float32))
    bounds = np.cumsum(sizes)[:-1]
    for p, e in zip(pieces, np.split(x.astype(np.float32), bounds, axis=axis)):
        assert_close(p, e)
    assert mg.gradcheck(lambda t: mg.cat([p * (i + 1) for i, p in enumerate(t.split(arg, axis))], axis),
                        [f64(x)])


@pytest.mark.parametrize("n,chunks,sizes", [(6, 3, [2, 2, 2]), (7, 3, [3, 3, 1]), (5, 2, [3, 2]), (2, 4, [1, 1]),
                                             (4, 1, [4])])
def test_chunk(backend, n, chunks, sizes):
    x = _data((2, n))
    pieces = mg.chunk(mg.tensor(x), chunks, axis=1)
    assert [p.shape[1] for p in pieces] == sizes  # torch.chunk's sizes
    assert_close(mg.cat(list(pieces), 1), x.astype(np.float32))
    assert mg.gradcheck(lambda t: mg.stack([p.sum() * (i + 1) for i, p in enumerate(t.chunk(chunks, 1))]), [f64(x)])


def test_split_pieces_used_partially(backend):
    """Only some pieces reach the loss: the others' slots get zero gradient."""
    x = mg.tensor(np.ones((4, 2)), requires_grad=True)
    a, b = x.split(2)
    (b * 3).sum().backward()
    assert_close(x.grad, [[0, 0], [0, 0], [3, 3], [3, 3]])
