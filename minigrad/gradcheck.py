"""Check analytic gradients against central finite differences, in float64.

For f with inputs x_1..x_n, the check computes, for every input element x_j,

    numeric_j  = (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)        (error O(eps^2))
    analytic_j = dL/dx_j from backward()

where L = sum(w * f(x)) with fixed random weights w: a random projection of the
output, so one backward pass checks the whole vector-Jacobian product and a wrong
gradient cannot hide behind a symmetric output. ``full=True`` checks the complete
Jacobian row by row instead (one backward per output element).
"""
import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    pass


def _as_output(y):
    if not isinstance(y, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(y).__name__}")
    return y


def _numeric(fn, inputs, i, weights, eps):
    """Central differences of L = sum(weights * f) with respect to every element of inputs[i]."""
    x = inputs[i]
    on_host = x.device == "cpu"
    original = x.data
    host = x.numpy().copy()
    flat = (x.data if on_host else host).reshape(-1)  # on the CPU a view of x: perturbed in place

    def evaluate():
        if not on_host:  # a device tensor gets the perturbed values as a new array
            x.data = x._k().asarray(host, x.dtype)
        return np.sum(weights * _as_output(fn(*inputs)).numpy())

    out = np.zeros(flat.size)
    with no_grad():
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = evaluate()
            flat[j] = orig - eps
            minus = evaluate()
            flat[j] = orig
            out[j] = (plus - minus) / (2 * eps)
    x.data = original
    return out.reshape(x.shape)


def _analytic(fn, inputs, weights):
    for x in inputs:
        x.grad = None
    y = _as_output(fn(*inputs))
    if not y.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any input that requires grad")
    y.backward(Tensor(np.asarray(weights).reshape(y.shape), dtype=y.dtype, device=y.device))
    return [np.zeros(x.shape) if x.grad is None else x.grad.numpy().astype(np.float64) for x in inputs]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, full=False, seed=0, raise_exception=True):
    """Return True if fn's backward matches finite differences for every input that requires grad.

    ``inputs``: a tensor or a sequence of tensors; those with ``requires_grad=True`` are
    checked and must be float64 (finite differences in float32 are too noisy to trust).
    On failure raises ``GradcheckError`` naming the input, the worst element's index,
    the analytic and numeric values (or returns False if ``raise_exception=False``).
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 inputs "
                            "(e.g. mg.tensor(x, dtype=mg.float64, requires_grad=True))")
    with no_grad():
        y0 = _as_output(fn(*inputs))
    rng = np.random.default_rng(seed)
    projections = [np.eye(y0.size)[r].reshape(y0.shape) for r in range(y0.size)] if full else \
        [rng.uniform(0.5, 1.5, y0.shape) * rng.choice([-1.0, 1.0], y0.shape)]
    for w in projections:
        analytic = _analytic(fn, inputs, w)
        for i in checked:
            numeric = _numeric(fn, inputs, i, w, eps)
            a = analytic[i]
            err = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
            if err.size and err.max() > 0:
                j = np.unravel_index(int(np.argmax(err)), err.shape)
                msg = (f"gradcheck failed for input {i} (shape {inputs[i].shape}) at index {tuple(int(v) for v in j)}: "
                       f"analytic {a[j]:.8g}, numeric {numeric[j]:.8g}, |diff| {abs(a[j] - numeric[j]):.3g} "
                       f"> atol {atol} + rtol {rtol} * |numeric|")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    for x in inputs:
        if isinstance(x, Tensor):
            x.grad = None
    return True
