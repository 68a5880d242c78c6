"""Shape and movement ops: reshape/view, flatten, transpose/permute/T, expand/broadcast_to,
squeeze/unsqueeze, flip, pad. Values never change, so backward only moves gradients."""
import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close, f64


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# name -> (input shape, minigrad fn, numpy fn)
CASES = {
    "reshape": ((2, 3, 4), lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6)),
    "reshape_tuple": ((2, 3, 4), lambda x: mg.reshape(x, (6, -1)), lambda x: x.reshape(6, -1)),
    "reshape_to_0d": ((1, 1), lambda x: x.reshape(()), lambda x: x.reshape(())),
    "reshape_from_0d": ((), lambda x: x.reshape(1, 1, 1), lambda x: x.reshape(1, 1, 1)),
    "view": ((2, 6), lambda x: x.view(3, 4), lambda x: x.reshape(3, 4)),
    "flatten": ((2, 3, 4), lambda x: x.flatten(), lambda x: x.reshape(-1)),
    "flatten_range": ((2, 3, 4, 5), lambda x: mg.flatten(x, 1, 2), lambda x: x.reshape(2, 12, 5)),
    "flatten_neg": ((2, 3, 4), lambda x: x.flatten(-2), lambda x: x.reshape(2, 12)),
    "flatten_0d": ((), lambda x: x.flatten(), lambda x: x.reshape(1)),
    "transpose_default": ((2, 3, 4), lambda x: x.transpose(), lambda x: np.swapaxes(x, -1, -2)),
    "transpose_axes": ((2, 3, 4), lambda x: mg.transpose(x, 0, 2), lambda x: np.swapaxes(x, 0, 2)),
    "transpose_1d": ((4,), lambda x: x.transpose(), lambda x: x),
    "permute": ((2, 3, 4), lambda x: x.permute(2, 0, 1), lambda x: np.transpose(x, (2, 0, 1))),
    "permute_tuple_neg": ((2, 3, 4), lambda x: mg.permute(x, (-1, 1, 0)), lambda x: np.transpose(x, (2, 1, 0))),
    "T_2d": ((3, 4), lambda x: x.T, lambda x: x.T),
    "T_3d": ((2, 3, 4), lambda x: x.T, lambda x: x.T),
    "T_1d": ((4,), lambda x: x.T, lambda x: x.T),
    "T_0d": ((), lambda x: x.T, lambda x: x.T),
    "expand": ((3, 1), lambda x: x.expand(3, 4), lambda x: np.broadcast_to(x, (3, 4))),
    "expand_minus1_new_axis": ((3, 1), lambda x: x.expand(2, -1, 5), lambda x: np.broadcast_to(x, (2, 3, 5))),
    "expand_0d": ((), lambda x: mg.expand(x, (2, 3)), lambda x: np.broadcast_to(x, (2, 3))),
    "broadcast_to": ((4,), lambda x: mg.broadcast_to(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4))),
    "broadcast_to_method": ((1, 3, 1), lambda x: x.broadcast_to((2, 3, 4)),
                            lambda x: np.broadcast_to(x, (2, 3, 4))),
    "broadcast_to_same": ((2, 3), lambda x: x.broadcast_to((2, 3)), lambda x: x),
    "squeeze_all": ((1, 3, 1, 4), lambda x: x.squeeze(), lambda x: np.squeeze(x)),
    "squeeze_axis": ((1, 3, 1, 4), lambda x: mg.squeeze(x, 2), lambda x: np.squeeze(x, 2)),
    "squeeze_neg_tuple": ((1, 3, 1, 4), lambda x: x.squeeze((-2, 0)), lambda x: np.squeeze(x, (0, 2))),
    "squeeze_to_0d": ((1, 1), lambda x: x.squeeze(), lambda x: np.squeeze(x)),
    "unsqueeze_0": ((3, 4), lambda x: x.unsqueeze(0), lambda x: x[None]),
    "unsqueeze_end": ((3, 4), lambda x: mg.unsqueeze(x, 2), lambda x: x[:, :, None]),
    "unsqueeze_neg": ((3, 4), lambda x: x.unsqueeze(-1), lambda x: x[..., None]),
    "unsqueeze_neg_mid": ((3, 4), lambda x: x.unsqueeze(-2), lambda x: x[:, None, :]),
    "unsqueeze_0d": ((), lambda x: x.unsqueeze(0), lambda x: x.reshape(1)),
    "flip_all": ((2, 3, 4), lambda x: x.flip(), lambda x: np.flip(x)),
    "flip_axis": ((2, 3, 4), lambda x: mg.flip(x, 1), lambda x: np.flip(x, 1)),
    "flip_axes_neg": ((2, 3, 4), lambda x: x.flip((0, -1)), lambda x: np.flip(x, (0, 2))),
    "flip_size1": ((1, 4), lambda x: x.flip(0), lambda x: np.flip(x, 0)),
    "pad_int": ((2, 3), lambda x: mg.pad(x, 1), lambda x: np.pad(x, 1)),
    "pad_pair": ((2, 3), lambda x: mg.pad(x, (1, 2)), lambda x: np.pad(x, (1, 2))),
    "pad_per_axis": ((2, 3, 4), lambda x: mg.pad(x, ((0, 0), (2, 0), (1, 3))),
                     lambda x: np.pad(x, ((0, 0), (2, 0), (1, 3)))),
    "pad_value": ((3,), lambda x: mg.pad(x, (2, 1), value=-1.5),
                  lambda x: np.pad(x, (2, 1), constant_values=-1.5)),
    "pad_zero_width": ((2, 2), lambda x: mg.pad(x, 0), lambda x: x),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shape_op_forward(backend, name):
    shape, fn, ref = CASES[name]
    x = _data(shape).astype(np.float32)
    out = fn(mg.tensor(x))
    expected = ref(x)
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    assert_close(out, expected)


@pytest.mark.parametrize("name", list(CASES))
def test_shape_op_gradcheck(backend, name):
    shape, fn, _ = CASES[name]
    assert mg.gradcheck(fn, [f64(_data(shape, 1))])


def test_expand_gradient_sums_over_copies(backend):
    x = mg.tensor([[1.0], [2.0]], requires_grad=True)
    x.expand(3, 2, 4).sum().backward()
    assert_close(x.grad, [[12.0], [12.0]])


def test_shape_ops_compose(backend):
    x = f64(_data((2, 3, 4), 2))
    assert mg.gradcheck(lambda x: x.permute(1, 2, 0).reshape(3, 8).T.flip(0).unsqueeze(1).squeeze(1) * 2, [x])


def test_shape_ops_on_integer_tensors(backend):
    i = mg.arange(6)
    assert i.reshape(2, 3).T.tolist() == [[0, 3], [1, 4], [2, 5]]
    assert i.flip().tolist() == [5, 4, 3, 2, 1, 0]
    assert mg.pad(i[:2], 1).tolist() == [0, 0, 1, 0]
