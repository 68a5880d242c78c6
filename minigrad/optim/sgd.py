"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

With gradient g_t of parameter theta (negated when ``maximize``), PyTorch's rule::

    g_t   <- g_t + weight_decay * theta_{t-1}                      (coupled L2 decay)
    b_1   =  g_1                                                   (first step)
    b_t   =  momentum * b_{t-1} + (1 - dampening) * g_t            (later steps)
    d_t   =  g_t + momentum * b_t   if nesterov   else   b_t       (d_t = g_t if momentum == 0)
    theta_t = theta_{t-1} - lr * d_t

Note the momentum buffer starts as the first gradient itself (not ``(1 - dampening) g``).
"""
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False).

    State per parameter (only with momentum): ``momentum_buffer``, shaped like the parameter.
    """

    _array_names = ("momentum_buffer",)
    _has_step = False

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check(group["momentum"] >= 0, f"invalid momentum={group['momentum']} (expected >= 0)")
        if group["nesterov"]:
            self._check(group["momentum"] > 0 and group["dampening"] == 0,
                        f"Nesterov momentum requires momentum > 0 and dampening == 0, got "
                        f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p, g, state, group):
        k = p._k()
        buf, first = None, False
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            first = buf is None  # the kernel copies g into a fresh buffer on the first step
            if first:
                buf = state["momentum_buffer"] = k.zeros(p.shape, p.dtype)
        k.sgd_step(p.data, g, buf, group["lr"], group["momentum"], group["dampening"], group["nesterov"],
                   group["weight_decay"], group["maximize"], first)
