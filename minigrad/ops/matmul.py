"""Matrix product with numpy's ``@`` semantics (1-D vectors, batched, broadcast batch dims)."""
from ..autograd import Function
from .common import pair


def _swap_last(k, x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return k.transpose(x, axes)


class MatMul(Function):
    """out = a @ b;  da = g @ b^T,  db = a^T @ g (batch dims summed where they were broadcast).

    A 1-D ``a`` acts as a row (1, n) and a 1-D ``b`` as a column (n, 1); the axis this
    adds is removed from the output, so it is put back on g before the products.
    """

    def forward(self, a, b):
        self.saved = (a, b)
        return self.k.matmul(a, b)

    def backward(self, g):
        a, b = self.saved
        k = self.k
        a2 = k.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
        b2 = k.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
        if a.ndim == 1:
            g = k.reshape(g, g.shape[:-1] + (1,) + g.shape[-1:]) if b.ndim > 1 else k.reshape(g, (1,) + g.shape)
        if b.ndim == 1:
            g = k.reshape(g, g.shape + (1,))
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = k.reshape(k.sum_to_shape(k.matmul(g, _swap_last(k, b2)), a2.shape), a.shape)
        if self.needs_input_grad[1]:
            gb = k.reshape(k.sum_to_shape(k.matmul(_swap_last(k, a2), g), b2.shape), b.shape)
        return ga, gb


def matmul(a, b):
    a, b = pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape} "
                         "(use * to multiply by a scalar)")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: the last dimension of the first "
                         f"({a.shape[-1]}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} dimension "
                         f"of the second ({inner_b})")
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} cannot be broadcast together") from None
