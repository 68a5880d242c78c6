"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019).

With gradient g_t (negated when ``maximize``), step count t = 1, 2, ...::

    Adam:  g_t <- g_t + weight_decay * theta_{t-1}          (L2 decay, enters the moments)
    AdamW: theta_{t-1} <- theta_{t-1} * (1 - lr * weight_decay)   (decoupled: never enters them)
    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    amsgrad: v_t <- max(v_max, v_t), kept in v_max
    theta_t = theta_{t-1} - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

On the first step m/(1-beta1) = g and sqrt(v/(1-beta2)) = |g|, so every element moves by
about ``lr * sign(g)`` whatever the gradient's scale -- the property tests check.
"""
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
    decoupled_weight_decay=False).

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad,
    ``max_exp_avg_sq``.
    """

    _array_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False, decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _validate(self, group):
        super()._validate(group)
        betas = group["betas"]
        self._check(len(betas) == 2, f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            self._check(0 <= b < 1, f"invalid beta parameter at index {i}: {b} (expected 0 <= beta < 1)")

    def _state_names(self, group):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _update(self, p, g, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        p._k().adam_step(p.data, g, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                         state["step"], group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                         group["decoupled_weight_decay"], group["maximize"])


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False).

    Adam with *decoupled* weight decay: the parameter shrinks by ``lr * weight_decay``
    of itself each step, and the decay never passes through the adaptive moments.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)

    def _validate(self, group):
        group["decoupled_weight_decay"] = True  # it is what makes this AdamW, whatever a checkpoint says
        super()._validate(group)
