"""Adagrad (Duchi, Hazan & Singer, 2011), PyTorch's variant.

With gradient g_t (negated when ``maximize``), step count t = 1, 2, ...::

    g_t <- g_t + weight_decay * theta_{t-1}
    clr   = lr / (1 + (t - 1) * lr_decay)
    S_t   = S_{t-1} + g_t^2                 (S_0 = initial_accumulator_value)
    theta_t = theta_{t-1} - clr * g_t / (sqrt(S_t) + eps)

Each coordinate's step shrinks as its squared gradients pile up: rarely-updated
coordinates keep large steps.
"""
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False).

    State per parameter: ``step``, ``sum`` (the accumulator S).
    """

    _array_names = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check(group["lr_decay"] >= 0, f"invalid lr_decay={group['lr_decay']} (expected >= 0)")
        iav = group["initial_accumulator_value"]
        self._check(iav >= 0, f"invalid initial_accumulator_value={iav} (expected >= 0)")

    def _state_names(self, group):
        return ("sum",)

    def _init_state(self, p, group):
        return {"step": 0, "sum": p._k().full(p.shape, group["initial_accumulator_value"], p.dtype)}

    def _update(self, p, g, state, group):
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        p._k().adagrad_step(p.data, g, state["sum"], clr, group["eps"], group["weight_decay"], group["maximize"])
