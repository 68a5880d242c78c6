"""Optimizers by Keras name, with Keras's defaults, run by minigrad's optimizers.

A Keras optimizer is created before the model has weights (``compile`` comes before
the first ``fit``); here each is a recipe that ``bind(params)`` turns into the
minigrad optimizer doing the same update:

    SGD(learning_rate=0.01, momentum=0, nesterov=False)
    RMSprop(learning_rate=0.001, rho=0.9, momentum=0, epsilon=1e-7, centered=False)
    Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)
    AdamW(..., weight_decay=0.004)
    Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)

each run by ``KerasRule`` below, which applies Keras 3's update rules (epsilon inside the
square root for RMSprop and Adagrad, "epsilon hat" for Adam, decoupled weight decay).
The names "sgd", "rmsprop", "adam", "adamw", "adagrad" give these defaults; note that
Keras's "rmsprop" learns at 0.001 where PyTorch's RMSprop defaults to 0.01.
``clipnorm`` (per weight), ``global_clipnorm`` and ``clipvalue`` clip gradients before
each step.
"""
import minigrad as mg
from minigrad import optim


class Optimizer:
    """A Keras optimizer recipe; ``bind(params)`` builds the minigrad optimizer."""

    def __init__(self, learning_rate, clipnorm=None, clipvalue=None, global_clipnorm=None, lr=None, **unknown):
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected argument(s) {', '.join(sorted(unknown))}")
        self.learning_rate = float(lr if lr is not None else learning_rate)
        if self.learning_rate <= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be > 0, got {self.learning_rate}")
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.bound = None  # the minigrad optimizer, once bound to the model's weights

    def bind(self, params):
        """Build the minigrad optimizer for ``params`` (state starts fresh)."""
        self.bound = self._make(list(params))
        return self.bound

    def bound_to(self, params):
        """True if bound to exactly these parameters (a model rebuilt or changed needs a new binding)."""
        if self.bound is None:
            return False
        mine = {id(p) for group in self.bound.param_groups for p in group["params"]}
        return mine == {id(p) for p in params}

    def clip(self, params):
        """Clip the gradients of ``params`` as asked (before the step)."""
        params = [p for p in params if p.grad is not None]
        if self.clipvalue is not None:
            optim.clip_grad_value_(params, self.clipvalue)
        if self.clipnorm is not None:
            for p in params:
                optim.clip_grad_norm_([p], self.clipnorm)
        if self.global_clipnorm is not None:
            optim.clip_grad_norm_(params, self.global_clipnorm)

    def _make(self, params):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate})"


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay or 0.0

    def _make(self, params):
        return KerasRule(params, "sgd", lr=self.learning_rate, momentum=self.momentum, nesterov=self.nesterov,
                         weight_decay=self.weight_decay)


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)
        self.weight_decay = weight_decay or 0.0

    def _make(self, params):
        return KerasRule(params, "rmsprop", lr=self.learning_rate, rho=self.rho, eps=self.epsilon,
                         momentum=self.momentum, centered=self.centered, weight_decay=self.weight_decay)


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, bool(amsgrad)
        self.weight_decay = weight_decay or 0.0

    def _make(self, params):
        return KerasRule(params, "adam", lr=self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2,
                         eps=self.epsilon, amsgrad=self.amsgrad, weight_decay=self.weight_decay)


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon
        self.weight_decay = weight_decay or 0.0

    def _make(self, params):
        return KerasRule(params, "adagrad", lr=self.learning_rate, init=self.initial_accumulator_value,
                         eps=self.epsilon, weight_decay=self.weight_decay)


class KerasRule(optim.Optimizer):
    """The minigrad optimizer behind the recipes above: Keras 3's update rules, written with
    tensor ops (so they run on every backend). Per weight p with gradient g, step t:

        weight decay (decoupled, every rule):  p <- p - lr * weight_decay * p
        sgd:      m <- momentum m - lr g;  p <- p + m   (nesterov: p <- p + momentum m - lr g)
        rmsprop:  v <- rho v + (1 - rho) g^2;  step = lr g / sqrt(v + eps)      (eps INSIDE the root;
                  centered: v - a^2 with a <- rho a + (1 - rho) g)
                  momentum: m <- momentum m + step, step = m;  p <- p - step
        adam:     m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v)
                  p <- p - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)  (eps outside the
                  bias correction: Keras's "epsilon hat"; amsgrad: v replaced by its running max)
        adagrad:  a <- a + g^2 (a starts at initial_accumulator_value);  p <- p - lr g / sqrt(a + eps)

    PyTorch's optimizers (minigrad.optim) differ in where eps goes and in how weight decay
    enters; these give Keras's numbers (a test compares them with Keras's own steps).
    """

    _array_names = ("m", "v", "v_max", "a", "avg")

    def __init__(self, params, rule, **hyper):
        if rule not in ("sgd", "rmsprop", "adam", "adagrad"):
            raise ValueError(f"KerasRule: unknown rule {rule!r}")
        self.rule = rule
        defaults = dict(lr=hyper.pop("lr"), weight_decay=hyper.pop("weight_decay", 0.0), **hyper)
        super().__init__(params, defaults)

    def _state_names(self, group):
        if self.rule == "sgd":
            return ("m",) if group["momentum"] > 0 else ()
        if self.rule == "rmsprop":
            return ("v",) + (("m",) if group["momentum"] > 0 else ()) + (("avg",) if group["centered"] else ())
        if self.rule == "adam":
            return ("m", "v") + (("v_max",) if group["amsgrad"] else ())
        return ("a",)

    def _update(self, p, g, state, group):
        state["step"] += 1
        t, lr = state["step"], group["lr"]
        wrap = lambda a: mg.Tensor._wrap(a, device=p.device)  # noqa: E731
        with mg.no_grad():
            grad, w = wrap(g), wrap(p.data)
            if group["weight_decay"]:
                w = w - w * (lr * group["weight_decay"])
            if self.rule == "sgd":
                if group["momentum"] > 0:
                    m = wrap(state["m"]) * group["momentum"] - grad * lr
                    state["m"] = m.data
                    w = w + (m * group["momentum"] - grad * lr if group["nesterov"] else m)
                else:
                    w = w - grad * lr
            elif self.rule == "rmsprop":
                rho = group["rho"]
                v = wrap(state["v"]) * rho + grad * grad * (1 - rho)
                state["v"] = v.data
                if group["centered"]:
                    avg = wrap(state["avg"]) * rho + grad * (1 - rho)
                    state["avg"] = avg.data
                    v = v - avg * avg
                step = grad * lr / (v + group["eps"]).sqrt()
                if group["momentum"] > 0:
                    step = wrap(state["m"]) * group["momentum"] + step
                    state["m"] = step.data
                w = w - step
            elif self.rule == "adam":
                b1, b2 = group["beta_1"], group["beta_2"]
                m = wrap(state["m"]) + (grad - wrap(state["m"])) * (1 - b1)
                v = wrap(state["v"]) + (grad * grad - wrap(state["v"])) * (1 - b2)
                state["m"], state["v"] = m.data, v.data
                if group["amsgrad"]:
                    v = mg.maximum(wrap(state["v_max"]), v)
                    state["v_max"] = v.data
                alpha = lr * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t)
                w = w - m * alpha / (v.sqrt() + group["eps"])
            else:
                if t == 1 and group["init"]:
                    state["a"] = (wrap(state["a"]) + group["init"]).data
                a = wrap(state["a"]) + grad * grad
                state["a"] = a.data
                w = w - grad * lr / (a + group["eps"]).sqrt()
            p.data = w.data


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad}


def get(optimizer):
    """An Optimizer from a name (Keras's defaults) or an Optimizer object."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in _BY_NAME:
        return _BY_NAME[optimizer.lower()]()
    if isinstance(optimizer, optim.Optimizer):
        raise TypeError("compile: give a Keras-style optimizer (rnn.keras.optimizers.Adam(learning_rate=...)) or "
                        "a name; a minigrad optimizer is already bound to parameters the model may not have yet")
    raise ValueError(f"unknown optimizer {optimizer!r}; accepted: {', '.join(sorted(_BY_NAME))} or an optimizer "
                     "from rnn.keras.optimizers")
