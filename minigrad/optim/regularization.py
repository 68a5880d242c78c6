"""L1 and L2 penalties: differentiable terms to add to the loss.

    l1_penalty(params, c) = c * sum_p sum_i |w_pi|            d/dw = c * sign(w)
    l2_penalty(params, c) = c / 2 * sum_p sum_i w_pi^2        d/dw = c * w

The 1/2 in the L2 penalty is there so that its gradient is exactly ``c * w``: adding
``l2_penalty(params, c)`` to the loss and stepping plain SGD is then the same update as
``SGD(..., weight_decay=c)``. (Keras' ``l2(c)`` has no 1/2: it equals ours with 2c.)
For Adam that equivalence is what AdamW's decoupled decay deliberately breaks.
"""
from ..tensor import Tensor


def _params(params, name):
    if isinstance(params, Tensor):
        params = [params]
    params = list(params)
    if not params:
        raise ValueError(f"{name}: got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Tensor")
    return params


def l1_penalty(params, coeff):
    """``coeff * sum |w|`` over all elements of all ``params``: a scalar Tensor (drives weights to exactly 0)."""
    total = None
    for p in _params(params, "l1_penalty"):
        term = p.abs().sum()
        total = term if total is None else total + term
    return total * coeff


def l2_penalty(params, coeff):
    """``coeff / 2 * sum w^2`` over all elements of all ``params``: a scalar Tensor whose gradient is ``coeff * w``."""
    total = None
    for p in _params(params, "l2_penalty"):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total * (0.5 * coeff)
