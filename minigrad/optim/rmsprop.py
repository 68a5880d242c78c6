"""RMSprop (Hinton, Coursera lecture 6e), PyTorch's variant.

With gradient g_t (negated when ``maximize``)::

    g_t <- g_t + weight_decay * theta_{t-1}
    s_t = alpha * s_{t-1} + (1 - alpha) * g_t^2                  (square_avg)
    centered:  a_t = alpha * a_{t-1} + (1 - alpha) * g_t         (grad_avg)
               denom = sqrt(s_t - a_t^2) + eps                   (a running variance)
    otherwise  denom = sqrt(s_t) + eps
    momentum > 0:  b_t = momentum * b_{t-1} + g_t / denom;  theta_t = theta_{t-1} - lr * b_t
    otherwise:     theta_t = theta_{t-1} - lr * g_t / denom

eps is added *outside* the square root (unlike TensorFlow's RMSprop).
"""
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False).

    State per parameter: ``step``, ``square_avg``; ``momentum_buffer`` with momentum;
    ``grad_avg`` when centered.
    """

    _array_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        self._check(group["momentum"] >= 0, f"invalid momentum={group['momentum']} (expected >= 0)")
        self._check(group["alpha"] >= 0, f"invalid alpha={group['alpha']} (expected >= 0)")

    def _state_names(self, group):
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _update(self, p, g, state, group):
        state["step"] += 1  # not used by the rule; kept so checkpoints match PyTorch's
        p._k().rmsprop_step(p.data, g, state["square_avg"], state.get("momentum_buffer"), state.get("grad_avg"),
                            group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
                            group["maximize"])
