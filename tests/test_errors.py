"""Bad input gets a clear error: the right exception type, and a message that names the
op and the offending shapes/dtypes/values (DESIGN.md, "Errors" contract)."""
import numpy as np
import pytest

import minigrad as mg


def _z(*shape, **kw):
    return mg.zeros(*shape, **kw)


# --------------------------------------------------------------- the list
def test_matmul_inner_dim_mismatch():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align.*\(3\).*\(4\)"):
        _z(2, 3) @ _z(4, 5)
    with pytest.raises(ValueError, match=r"matmul.*\(3,\) and \(4,\)"):
        mg.matmul(_z(3), _z(4))
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3, 4\) and \(3, 4, 5\)"):
        _z(2, 3, 4) @ _z(3, 4, 5)  # batch dims that do not broadcast
    with pytest.raises(ValueError, match=r"matmul.*\(\) and \(2, 3\)"):
        _z() @ _z(2, 3)


@pytest.mark.parametrize("op,fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a ** b),
    ("maximum", mg.maximum),
    ("minimum", mg.minimum),
    ("add", lambda a, b: b + a.numpy()),  # a numpy operand is checked too
])
def test_broadcasting_failure_names_op_and_shapes(op, fn):
    with pytest.raises(ValueError, match=rf"{op}: shapes \((2, 3|4,)\) and \((4,|2, 3)\) cannot be broadcast"):
        fn(_z(2, 3), _z(4))


def test_broadcasting_failure_in_backward_free_ops():
    with pytest.raises(ValueError, match=r"lt: shapes \(2, 3\) and \(4,\)"):
        _z(2, 3) < _z(4)
    with pytest.raises(ValueError, match=r"where: shapes cond \(2, 3\), a \(2, 3\), b \(4,\)"):
        mg.where(_z(2, 3) > 0, _z(2, 3), _z(4))


@pytest.mark.parametrize("bad", [3, 7, -1])
def test_cross_entropy_target_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"cross_entropy: target {bad} is out of range for 3 classes"):
        mg.cross_entropy(_z(2, 3), mg.tensor([0, bad]))
    with pytest.raises(ValueError, match=rf"nll_loss: target {bad} is out of range for 3 classes"):
        mg.nll_loss(_z(2, 3), [bad, 0])
    with pytest.raises(ValueError, match=rf"cross_entropy: target {bad} is out of range for 3 classes"):
        mg.cross_entropy(_z(2, 3, 4), mg.tensor([[0, 1, 2, bad], [0, 0, 0, 0]]))


def test_cross_entropy_bad_targets():
    with pytest.raises(TypeError, match="cross_entropy: targets must be integer.*float32"):
        mg.cross_entropy(_z(2, 3), mg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(2, 3\) needs targets of shape \(2,\), "
                                         r"got \(3,\)"):
        mg.cross_entropy(_z(2, 3), [0, 1, 1])
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have one entry per class, shape \(3,\), "
                                         r"got \(2,\)"):
        mg.cross_entropy(_z(2, 3), [0, 1], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="cross_entropy: reduction must be.*'avg'"):
        mg.cross_entropy(_z(2, 3), [0, 1], reduction="avg")
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be in \\[0, 1\\), got 1.0"):
        mg.cross_entropy(_z(2, 3), [0, 1], label_smoothing=1.0)


@pytest.mark.parametrize("index,what", [
    (1.5, "got 1.5"),
    ((0, 1.0), "got 1.0"),
    (np.array([0.0, 1.0]), "dtype float64"),
    (mg.tensor([0.0, 1.0]), "dtype float32"),
    ([0.5], "dtype float64"),
])
def test_getitem_float_indices(index, what):
    with pytest.raises(TypeError, match=f"getitem: ind.*{what}"):
        _z(2, 3)[index]


def test_getitem_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds.*tensor shape \(2, 3\)"):
        _z(2, 3)[5]


def test_embedding_bad_indices():
    with pytest.raises(TypeError, match="embedding: indices must be integers, got dtype float32"):
        mg.embedding(mg.tensor([0.0, 1.0]), _z(3, 2))
    with pytest.raises(TypeError, match="embedding: indices must be integers, got dtype float64"):
        mg.embedding(np.array([0.0]), _z(3, 2))
    with pytest.raises(IndexError, match=r"embedding: index 3 is out of range for 3 embeddings \(valid: 0..2\)"):
        mg.embedding(mg.tensor([0, 3]), _z(3, 2))
    with pytest.raises(IndexError, match="embedding: index -1 is out of range"):
        mg.embedding(mg.tensor([-1]), _z(3, 2))
    with pytest.raises(ValueError, match=r"embedding: weight must be 2-D.*\(3,\)"):
        mg.embedding(mg.tensor([0]), _z(3))


@pytest.mark.parametrize("p", [1.0, 1.5, -0.1, "0.5", None])
def test_dropout_p_outside_range(p):
    with pytest.raises(ValueError, match=r"dropout: p must be a probability in \[0, 1\), got"):
        mg.dropout(_z(2, 3), p)


@pytest.mark.parametrize("shape", [(4, 2), (-1, 4), (-1, -1), (7,), (0, -1)], ids=str)
def test_reshape_to_wrong_size(shape):
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into"):
        _z(2, 3).reshape(*shape)


def test_cat_with_mismatched_shapes():
    with pytest.raises(ValueError, match=r"cat: shapes \[\(2, 3\), \(2, 4\)\] differ outside axis 0"):
        mg.cat([_z(2, 3), _z(2, 4)])
    with pytest.raises(ValueError, match=r"cat: shapes \[\(2, 3\), \(3,\)\]"):
        mg.cat([_z(2, 3), _z(3)], axis=1)
    with pytest.raises(ValueError, match="cat: expected a non-empty sequence"):
        mg.cat([])
    with pytest.raises(ValueError, match="cat: axis 2 is out of range"):
        mg.cat([_z(2, 3)], axis=2)
    with pytest.raises(TypeError, match="cat: expected tensors, got ndarray"):
        mg.cat([_z(2), np.zeros(2)])
    with pytest.raises(ValueError, match=r"stack: all tensors must have the same shape, got \[\(2, 3\), \(3, 2\)\]"):
        mg.stack([_z(2, 3), _z(3, 2)])


@pytest.mark.parametrize("op,fn", [("mse_loss", mg.mse_loss), ("l1_loss", mg.l1_loss),
                                   ("binary_cross_entropy_with_logits", mg.binary_cross_entropy_with_logits)])
def test_regression_loss_shape_mismatch(op, fn):
    with pytest.raises(ValueError, match=rf"{op}: input shape \(3,\) and target shape \(3, 1\) differ"):
        fn(_z(3), _z(3, 1))


def test_nan_in_gradients_under_detect_anomaly():
    x = mg.tensor([-1.0, 0.0, 4.0], requires_grad=True)
    with np.errstate(all="ignore"), mg.detect_anomaly():
        y = mg.sqrt(x).sum()  # sqrt(-1) = nan forward, 1/(2*0) = inf backward
        with pytest.raises(FloatingPointError, match=r"detect_anomaly: Sqrt\.backward produced NaN/inf.*"
                                                     r"shape \(3,\), dtype float32"):
            y.backward()
    with np.errstate(all="ignore"), mg.detect_anomaly():
        z = (x * 0.0).log().sum()  # log(0): Log.backward divides by 0
        with pytest.raises(FloatingPointError, match="Log"):
            z.backward()


def test_anomaly_in_a_user_function_names_it():
    class Bad(mg.Function):
        def forward(self, x):
            return x

        def backward(self, g):
            return self.k.mul(g, float("nan"))

    x = mg.tensor([1.0], requires_grad=True)
    with mg.detect_anomaly():
        y = Bad.apply(x).sum()
        with pytest.raises(FloatingPointError, match="Bad.backward"):
            y.backward()


# ------------------------------------------------------------ more bad input
def test_axis_errors():
    with pytest.raises(ValueError, match="sum: axis 2 is out of range for a tensor with 2 dimension"):
        _z(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match="mean: axis -3 is out of range"):
        _z(2, 3).mean(axis=-3)
    with pytest.raises(ValueError, match=r"max: repeated axis in \(0, -2\)"):
        _z(2, 3).max(axis=(0, -2))
    with pytest.raises(TypeError, match="sum: axis must be an int or a sequence of ints, got 1.0"):
        _z(2, 3).sum(axis=1.0)
    with pytest.raises(TypeError, match=r"argmax: axis must be None or a single int, got \(0, 1\)"):
        _z(2, 3).argmax(axis=(0, 1))
    with pytest.raises(ValueError, match="softmax: axis 3 is out of range"):
        mg.softmax(_z(2, 3), 3)
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty tensor of shape \(0,\)"):
        _z(0).max()
    with pytest.raises(ValueError, match="var: 3 element.*ddof=3"):
        _z(3).var(ddof=3)


def test_shape_op_errors():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 3\) to \(3, 3\)"):
        _z(2, 3).broadcast_to((3, 3))
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 3\) to \(4, 3\)"):
        _z(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match=r"squeeze: axis 0 of shape \(2, 3\) has size 2, not 1"):
        _z(2, 3).squeeze(0)
    with pytest.raises(ValueError, match="unsqueeze: axis 4 is out of range for a tensor with 2 dimension"):
        _z(2, 3).unsqueeze(4)
    with pytest.raises(ValueError, match=r"permute: \(0, 0\) is not a permutation.*shape \(2, 3\)"):
        _z(2, 3).permute(0, 0)
    with pytest.raises(ValueError, match=r"flatten: start_axis 2 comes after end_axis 1 for shape \(2, 3, 4\)"):
        _z(2, 3, 4).flatten(2, 1)
    with pytest.raises(ValueError, match="pad: pad widths must be >= 0"):
        mg.pad(_z(2, 3), -1)
    with pytest.raises(ValueError, match=r"pad: pad_width \(1, 2, 3\) does not fit a tensor of shape \(2, 3\)"):
        mg.pad(_z(2, 3), (1, 2, 3))
    with pytest.raises(ValueError, match=r"split: sizes \[1, 1\] must be non-negative and sum to 3.*\(2, 3\)"):
        _z(2, 3).split([1, 1], axis=1)
    with pytest.raises(ValueError, match="split: split size must be positive, got 0"):
        _z(2, 3).split(0)
    with pytest.raises(ValueError, match="chunk: chunks must be positive"):
        _z(2, 3).chunk(0)
    with pytest.raises(ValueError, match="stack: axis 3 is out of range"):
        mg.stack([_z(2), _z(2)], axis=3)


def test_elementwise_arg_errors():
    with pytest.raises(TypeError, match="where: cond must be a boolean tensor, got dtype float32"):
        mg.where(_z(2), _z(2), _z(2))
    with pytest.raises(ValueError, match=r"clip: min \(1\) is greater than max \(0\)"):
        mg.clip(_z(2), 1, 0)
    with pytest.raises(ValueError, match="clip: give at least one of min and max"):
        mg.clip(_z(2))


def test_linear_errors():
    with pytest.raises(ValueError, match=r"linear: input of shape \(5, 3\) has 3 features but the weight of shape "
                                         r"\(4, 2\) expects 2"):
        mg.linear(_z(5, 3), _z(4, 2))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(4,\), got \(3,\)"):
        mg.linear(_z(5, 3), _z(4, 3), _z(3))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D.*\(3,\)"):
        mg.linear(_z(5, 3), _z(3))


def test_autograd_misuse_errors():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: the output has shape \(2,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"backward: grad has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(mg.zeros(3))
    with pytest.raises(TypeError, match="requires_grad=True needs a floating-point tensor, got dtype int64"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place add on a tensor that requires grad"):
        x += 1.0
    with pytest.raises(RuntimeError, match="__setitem__ on a tensor that requires grad"):
        x[0] = 1.0
    with pytest.raises(ValueError, match=r"item: only a one-element tensor.*\(2,\)"):
        x.item()


def test_gradcheck_input_errors():
    with pytest.raises(TypeError, match="gradcheck: input 0 has dtype float32"):
        mg.gradcheck(lambda t: t * 2, [mg.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="gradcheck: no input has requires_grad=True"):
        mg.gradcheck(lambda t: t * 2, [mg.zeros(2)])
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor, got float"):
        mg.gradcheck(lambda t: 1.0, [mg.zeros(2, dtype=mg.float64, requires_grad=True)])


def test_gradcheck_reports_the_worst_element():
    class WrongGrad(mg.Function):
        def forward(self, x):
            return self.k.mul(x, x)

        def backward(self, g):
            return g  # should be 2 x g

    x = mg.tensor([1.0, 3.0], dtype=mg.float64, requires_grad=True)
    with pytest.raises(mg.GradcheckError, match=r"input 0 \(shape \(2,\)\) at index \(1,\).*analytic.*numeric"):
        mg.gradcheck(lambda t: WrongGrad.apply(t), [x])
    assert mg.gradcheck(lambda t: WrongGrad.apply(t), [x], raise_exception=False) is False


def test_backend_errors():
    with pytest.raises(ValueError, match="unknown backend 'no-such'"):
        mg.set_backend("no-such")


@pytest.mark.parametrize("call", [
    lambda x: mg.softmax(x, axis=(0, 1)),
    lambda x: mg.log_softmax(x, axis=(1,)),
    lambda x: mg.cat([x, x], axis=(0, 1)),
    lambda x: x.split(1, axis=(0,)),
    lambda x: x.transpose((0,), 1),
])
def test_single_axis_ops_reject_tuples(call):
    with pytest.raises(TypeError, match="axis must be a single int"):
        call(mg.randn(2, 3))
