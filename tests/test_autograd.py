"""The autograd engine: graph recording, traversal, accumulation, graph release,
retain_graph, hooks, retain_grad, no_grad, detach, in-place updates, anomaly detection."""
import gc
import time
import weakref

import numpy as np
import pytest

import minigrad as mg
from conftest import assert_close, f64


# ------------------------------------------------------------ long chains
def test_100k_op_chain_backprops_iteratively():
    x = mg.tensor(1.0, dtype=mg.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    start = time.perf_counter()
    y.backward()  # a recursive traversal would hit RecursionError long before this
    assert time.perf_counter() - start < 20
    assert x.grad.item() == pytest.approx(1.0001 ** 100_000, rel=1e-9)


def test_long_chain_of_mixed_ops():
    x = mg.tensor([0.5, -0.3], dtype=mg.float64, requires_grad=True)
    h = x
    for _ in range(20_000):
        h = mg.tanh(h) + 0.0
    h.sum().backward()
    # reference: the same recurrence by hand
    v, g = np.array([0.5, -0.3]), np.ones(2)
    for _ in range(20_000):
        t = np.tanh(v)
        g = g * (1 - t * t)
        v = t
    assert_close(x.grad, g, np.float64, rtol=1e-8, atol=1e-300)


def test_dropping_a_long_unreleased_graph_does_not_crash():
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    del y
    gc.collect()


# ------------------------------------------------------------ accumulation
def test_gradients_accumulate_across_backward_calls(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert_close(x.grad, [3 + 2, 3 + 4])
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    assert_close(x.grad, [3, 3])


def test_retain_graph_allows_second_backward(backend):
    x = mg.tensor([1.0, -2.0, 0.5], requires_grad=True)
    y = (mg.exp(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward(retain_graph=True)
    assert_close(x.grad, 2 * first)
    y.backward()
    assert_close(x.grad, 3 * first)


def test_second_backward_without_retain_graph_raises(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    # a shared intermediate freed by the first backward also cannot be reused
    h = x * 2
    a, b = h.sum(), (h * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        b.backward()


def test_saved_values_are_released_after_backward(backend):
    x = mg.tensor(np.ones(1000), requires_grad=True)
    h = x * 2
    y = (h * h).sum()
    ref = weakref.ref(h.data)
    del h
    gc.collect()
    assert ref() is not None, "the graph still needs h's values before backward"
    y.backward()
    gc.collect()
    assert ref() is None, "backward without retain_graph must free the saved arrays"


def test_backward_on_non_scalar_without_grad_raises(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\)"):
        (x * 2).backward()


def test_backward_with_explicit_grad(backend):
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    g = np.array([[1.0, 0.5], [-1.0, 2.0]], dtype=np.float32)
    y.backward(mg.tensor(g))
    assert_close(x.grad, 2 * x.numpy() * g)
    x.grad = None
    (x * x).backward(grad=g)  # a numpy array works too
    assert_close(x.grad, 2 * x.numpy() * g)
    x.grad = None
    s = (x * 3).sum()
    s.backward(mg.tensor(2.0))
    assert_close(x.grad, np.full((2, 2), 6.0))


def test_backward_does_not_alias_or_mutate_the_callers_grad(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    g = mg.tensor([1.0, 1.0])
    (x + 0).backward(g)  # Add passes the incoming gradient straight through to x
    assert not np.shares_memory(x.grad.numpy(), g.numpy())
    x.grad.data *= 99.0
    assert_close(g, [1.0, 1.0])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_leaf_grads_do_not_share_memory(backend):
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10  # an optimizer may scale .grad in place
    assert_close(b.grad, [1.0, 1.0])
    assert a.grad.data.flags.writeable and b.grad.data.flags.writeable


def test_retained_grad_and_leaf_grad_do_not_share_memory(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x + 0
    h.retain_grad()
    (h * h).sum().backward()
    x.grad.data *= 0  # what an optimizer's in-place update of .grad may do
    assert_close(h.grad, [2.0, 4.0])


def test_grad_has_the_leafs_dtype_and_shape(backend):
    x32 = mg.tensor(np.ones((2, 3)), requires_grad=True)
    x64 = f64(np.ones((1, 3)))
    (x32.astype(mg.float64) * x64).sum().backward()
    assert x32.grad.dtype == np.float32 and x32.grad.shape == (2, 3)
    assert x64.grad.dtype == np.float64 and x64.grad.shape == (1, 3)
    assert isinstance(x32.grad, mg.Tensor) and not x32.grad.requires_grad


def test_unused_leaf_gets_no_grad(backend):
    x = mg.tensor([1.0], requires_grad=True)
    z = mg.tensor([1.0], requires_grad=True)
    (x * 2).sum().backward()
    assert z.grad is None


# ------------------------------------------------------------ graph shapes
def test_tensor_used_twice_gets_both_contributions(backend):
    x = mg.tensor([3.0, -1.0], requires_grad=True)
    (x * x).sum().backward()
    assert_close(x.grad, [6.0, -2.0])
    x.grad = None
    (x + x + x).sum().backward()
    assert_close(x.grad, [3.0, 3.0])


def test_diamond_graph(backend):
    x = mg.tensor([1.5, -2.0], requires_grad=True)
    a = x * 2
    b = x * 3
    c = a * b  # 6 x^2
    c.sum().backward()
    assert_close(x.grad, 12 * x.numpy())


def test_diamond_with_paths_of_different_lengths(backend):
    x = f64([0.3, -0.7, 1.1])
    assert mg.gradcheck(lambda x: (lambda y: y + mg.exp(mg.tanh(y * 3) * 2) * y)(x.exp()), [x])
    # a reused intermediate: z = y^2 + y with y = e^x  =>  dz/dx = (2y + 1) y
    y = mg.exp(x)
    (y * y + y).sum().backward()
    e = np.exp(x.numpy())
    assert_close(x.grad, (2 * e + 1) * e, np.float64)


def test_is_leaf_and_grad_fn(backend):
    x = mg.tensor([1.0], requires_grad=True)
    c = mg.tensor([2.0])
    y = x * c
    assert x.is_leaf and x.grad_fn is None
    assert c.is_leaf and not c.requires_grad
    assert not y.is_leaf and y.requires_grad
    assert y.grad_fn is not None and y.grad_fn.name == "Mul"
    z = c * 2
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(TypeError, match="int64"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int32"):
        mg.zeros(3, dtype=mg.int32, requires_grad=True)
    with pytest.raises(TypeError):
        mg.tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="bool"):
        mg.tensor([True], requires_grad=True)


def test_requires_grad_(backend):
    x = mg.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * 2).sum().backward()
    assert_close(x.grad, [2.0, 2.0])
    with pytest.raises(RuntimeError, match="detach"):
        (x * 2).requires_grad_(False)


# -------------------------------------------------------------- grad mode
def test_no_grad_context_records_no_graph(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2 + 1
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    z = x * 2
    assert z.requires_grad


def test_no_grad_as_decorator(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)

    @mg.no_grad()
    def step(t):
        assert not mg.is_grad_enabled()
        return t * 2

    y = step(x)
    assert not y.requires_grad and y.grad_fn is None
    assert mg.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with mg.no_grad():
            raise KeyError
    assert mg.is_grad_enabled()


def test_nested_grad_modes():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        with mg.enable_grad():
            assert (x * 2).requires_grad
        with mg.no_grad():
            pass
        assert not mg.is_grad_enabled()
        with mg.set_grad_enabled(True):
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    with mg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_decorator_is_reentrant():
    @mg.no_grad()
    def f(n):
        if n:
            f(n - 1)

    try:
        f(2)
        assert mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)


def test_detach_shares_data_and_cuts_the_graph(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    d = h.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), h.numpy())
    (h * d).sum().backward()  # d is a constant: d(h*d)/dx = 3 * d
    assert_close(x.grad, 3 * d.numpy())


# -------------------------------------------------------------- retain_grad
def test_retain_grad_on_non_leaf(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    other = x * 4
    (h * h + other).sum().backward()
    assert_close(h.grad, 2 * h.numpy())
    assert other.grad is None, "non-leaves keep no .grad unless asked"
    assert_close(x.grad, 3 * 2 * h.numpy() + 4)


def test_retain_grad_accumulates_with_retain_graph(backend):
    x = mg.tensor([1.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    y = (h * 5).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(h.grad, [10.0])
    assert_close(x.grad, [20.0])


# -------------------------------------------------------------------- hooks
def test_hook_is_called_with_the_gradient(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 5).sum().backward()
    assert len(seen) == 1
    assert_close(seen[0], [5.0, 5.0])
    assert_close(x.grad, [5.0, 5.0])


def test_hook_can_replace_the_gradient(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g * 10)
    (h * 3).sum().backward()
    assert_close(x.grad, [60.0, 60.0])
    y = mg.tensor([1.0], requires_grad=True)
    y.register_hook(lambda g: mg.zeros_like(g))  # on a leaf: what is stored is the hook's result
    (y * 7).sum().backward()
    assert_close(y.grad, [0.0])


def test_hook_handle_remove(backend):
    x = mg.tensor([1.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    handle.remove()  # removing twice is harmless
    (x * 2).sum().backward()
    assert calls == [1]


def test_post_accumulate_hook_sees_the_complete_gradient_once_per_backward(backend):
    """The hook runs after every use of the leaf has been added into .grad (here two uses,
    so 2 + 3), once per backward, and alongside a gradient hook, which it does not disturb."""
    w = mg.tensor([1.0, -1.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    w.register_hook(lambda g: g * 10)
    (w * 2 + w * 3).sum().backward()
    assert len(seen) == 1
    assert_close(seen[0], [50.0, 50.0])
    (w * 1).sum().backward()  # accumulates: the hook sees the running total
    assert len(seen) == 2
    assert_close(seen[1], [60.0, 60.0])
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="only a leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_post_accumulate_grad_hook(print)


def test_hooks_see_per_step_gradients_of_a_recurrence(backend):
    """The learning guide's use: watch dL/dh_t shrink through a tanh recurrence."""
    w = mg.tensor(0.5, dtype=mg.float64, requires_grad=True)
    h = mg.tensor(0.9, dtype=mg.float64, requires_grad=True)
    grads, states = {}, []
    for t in range(6):
        h = mg.tanh(h * w + 0.1)
        states.append(h.numpy().item())
        h.register_hook(lambda g, t=t: grads.__setitem__(t, g.item()))
    h.backward()
    assert sorted(grads) == list(range(6))
    assert grads[5] == 1.0
    for t in range(5):  # dL/dh_t = dL/dh_{t+1} * (1 - h_{t+1}^2) * w
        assert grads[t] == pytest.approx(grads[t + 1] * (1 - states[t + 1] ** 2) * 0.5, rel=1e-12)
    assert all(abs(grads[t]) < abs(grads[t + 1]) for t in range(5))


def test_multiple_hooks_run_in_order(backend):
    x = mg.tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert_close(x.grad, [30.0])


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_hook(lambda g: g)


# ---------------------------------------------------------------- in-place
def test_inplace_update_under_no_grad_keeps_object_and_saved_values(backend):
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    obj, g = w, w.grad
    with mg.no_grad():
        w -= 0.1 * g
    assert w is obj and w.requires_grad and w.is_leaf
    assert_close(w, [0.8, 1.6, 2.4])
    # the graph saved w's *old* values: a second backward still gives 2 * w_old
    y.backward()
    assert_close(w.grad, 2 * 2 * np.array([1.0, 2.0, 3.0]))
    # and new graphs use the new values
    w.grad = None
    (w * w).sum().backward()
    assert_close(w.grad, 2 * np.array([0.8, 1.6, 2.4]))


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_inplace_operators(backend, op):
    t = mg.tensor([2.0, 4.0])
    obj = t
    exec(f"t {op} 2.0")
    assert t is obj
    expected = {"+=": [4.0, 6.0], "-=": [0.0, 2.0], "*=": [4.0, 8.0], "/=": [1.0, 2.0]}[op]
    assert_close(t, expected)
    assert t.dtype == np.float32


def test_inplace_on_requires_grad_while_recording_raises(backend):
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 1.0
    with pytest.raises(ValueError, match="shape"):
        with mg.no_grad():
            w += mg.tensor([1.0, 2.0])


# --------------------------------------------------------- anomaly detection
def test_detect_anomaly_names_sqrt_at_zero(backend):
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(all="ignore"):
        with mg.detect_anomaly():
            assert mg.is_anomaly_enabled()
            y = (mg.sqrt(x) * 2.0).sum()
            with pytest.raises(FloatingPointError, match="Sqrt") as info:
                y.backward()
    assert not mg.is_anomaly_enabled()
    assert "test_autograd.py" in str(info.value), "the message shows where the op was created"


def test_detect_anomaly_names_log_of_zero(backend):
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"), mg.detect_anomaly():
        y = mg.log(x).sum()
        with pytest.raises(FloatingPointError, match="Log"):
            y.backward()


def test_detect_anomaly_nan_in_the_middle_of_a_graph(backend):
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"), mg.detect_anomaly():
        # every forward value is finite; Sqrt's backward (1 / (2 sqrt 0)) is the first to make inf
        y = (mg.sqrt(x * 3.0) * 2.0 + 1.0).exp().sum()
        with pytest.raises(FloatingPointError, match=r"Sqrt\.backward produced NaN/inf.*input 0.*shape \(2,\)"):
            y.backward()
    assert x.grad is None, "backward stopped before reaching the leaf"


def test_without_detect_anomaly_nonfinite_gradients_pass_silently(backend):
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        mg.log(x).sum().backward()
        assert np.isinf(x.grad.numpy()[0])
        x.grad = None
        mg.sqrt(x).sum().backward()
    assert np.isinf(x.grad.numpy()[0])
    assert_close(x.grad.numpy()[1:], [0.5])


def test_detect_anomaly_is_quiet_for_finite_gradients(backend):
    x = mg.tensor([1.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        mg.sqrt(x).sum().backward()
    assert_close(x.grad, [0.5, 0.25])


def test_detect_anomaly_can_be_disabled_explicitly():
    with mg.detect_anomaly():
        with mg.detect_anomaly(False):
            assert not mg.is_anomaly_enabled()
        assert mg.is_anomaly_enabled()


# ----------------------------------------------------------------- Function
def test_custom_function(backend):
    class Cube(mg.Function):
        def forward(self, x):
            self.save(x)
            return self.k.mul(self.k.mul(x, x), x)

        def backward(self, g):
            (x,) = self.saved
            return self.k.mul(g, self.k.mul(self.k.mul(x, x), 3.0))

    x = f64([0.5, -1.5, 2.0])
    assert_close(Cube.apply(x), x.numpy() ** 3, np.float64)
    assert mg.gradcheck(lambda t: Cube.apply(t), [x])
    assert Cube.apply(x).grad_fn.name == "Cube"


def test_bare_no_grad_decorator():
    @mg.no_grad
    def f(x):
        return x * 2

    y = f(mg.randn(3, requires_grad=True))
    assert not y.requires_grad and y.grad_fn is None
    assert mg.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = mg.randn(3, requires_grad=True)
    with mg.no_grad():
        with mg.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_zero_dim_results_are_arrays():
    x = mg.randn(4, requires_grad=True)
    s = x.sum()
    assert isinstance(s.data, np.ndarray) and s.data.shape == ()
    assert isinstance(s.tanh().data, np.ndarray)
    assert float(s) == pytest.approx(float(x.numpy().sum()), rel=1e-6)


def test_transcendental_ops_of_integer_tensors_give_default_float():
    i = mg.tensor([1, 2, 3])
    for op in (mg.exp, mg.log, mg.sqrt, mg.tanh, mg.sigmoid):
        assert op(i).dtype == np.float32


# ------------------------------------------------ Functions with several outputs
class _SplitSquares(mg.Function):
    """(x^2, x^3, 2x): three outputs, each with its own gradient path."""

    def forward(self, x):
        self.save(x)
        k = self.k
        sq = k.mul(x, x)
        return sq, k.mul(sq, x), k.mul(x, 2.0)

    def backward(self, g_sq, g_cube, g_two):
        (x,) = self.saved
        k = self.k
        self.seen = (g_sq is None, g_cube is None, g_two is None)
        total = k.zeros(x.shape, x.dtype)
        if g_sq is not None:
            total = k.add(total, k.mul(g_sq, k.mul(x, 2.0)))
        if g_cube is not None:
            total = k.add(total, k.mul(g_cube, k.mul(k.mul(x, x), 3.0)))
        if g_two is not None:
            total = k.add(total, k.mul(g_two, 2.0))
        return total


def test_function_with_several_outputs_runs_backward_once_with_every_gradient(backend):
    x = f64([0.5, -1.5, 2.0])
    sq, cube, two = _SplitSquares.apply(x)
    assert sq.grad_fn is cube.grad_fn is two.grad_fn
    (sq * 3.0 + cube).sum().backward()  # `two` is not used: its gradient arrives as None
    node = sq.grad_fn
    assert node.seen == (False, False, True)
    xs = x.numpy()
    assert_close(x.grad, 6 * xs + 3 * xs ** 2, np.float64)
    assert mg.gradcheck(lambda t: mg.cat(list(_SplitSquares.apply(t))), [f64([0.3, -0.7])])


def test_several_outputs_each_reaching_the_loss_through_other_ops(backend):
    x = f64([1.0, 2.0])
    sq, cube, two = _SplitSquares.apply(x)
    y = (sq * cube).sum() + (two.exp() * sq).sum()  # outputs feed each other's consumers
    y.backward()
    xs = x.numpy()
    expected = 5 * xs ** 4 + np.exp(2 * xs) * (2 * xs ** 2 + 2 * xs)
    assert_close(x.grad, expected, np.float64)


def test_several_outputs_hooks_and_retain_grad_per_output():
    x = f64([1.0, -2.0])
    sq, cube, _ = _SplitSquares.apply(x)
    seen = []
    sq.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 0.0)  # cut sq's path
    cube.retain_grad()
    (sq + cube).sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(cube.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)  # only the cube path


def test_several_outputs_second_backward_through_a_freed_node_is_an_error():
    x = f64([1.0])
    sq, cube, _ = _SplitSquares.apply(x)
    sq.sum().backward()
    with pytest.raises(RuntimeError, match="a second time"):
        cube.sum().backward()
    x.grad = None
    sq, cube, _ = _SplitSquares.apply(x)
    sq.sum().backward(retain_graph=True)
    cube.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0 + 3.0])


def test_several_outputs_without_grad_record_nothing():
    x = f64([1.0])
    with mg.no_grad():
        outs = _SplitSquares.apply(x)
    assert all(o.grad_fn is None and not o.requires_grad for o in outs)
