"""Learning-rate schedules: change each param group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per batch), *after* ``optimizer.step()``.
Constructing a scheduler already takes step 0: it records each group's starting lr as
``group["initial_lr"]`` (``base_lrs``) and sets ``last_epoch = 0``.

The numbers and the call sequence are PyTorch's. StepLR, MultiStepLR and
ExponentialLR update *multiplicatively* from the group's current lr (as PyTorch does),
so they compose with one another and with manual changes to ``lr``; LambdaLR and
CosineAnnealingLR compute the lr from ``base_lrs`` in closed form.
``ReduceLROnPlateau`` is different in kind: it watches a metric, ``step(metric)``.
"""
import math

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses implement ``get_lr()``, the new lr of every group at ``last_epoch``."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr' while resuming "
                                   f"with last_epoch={last_epoch}; load the optimizer's state dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True  # the constructor's step only sets things up
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def get_last_lr(self):
        """The lr of every group as of the last ``step()``."""
        return list(self._last_lr)

    def step(self):
        """Advance one epoch and write the new lr into every param group."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    # ------------------------------------------------------------- checkpoint
    _not_state = ("optimizer", "lr_lambdas")  # the optimizer has its own state dict; functions are code

    def state_dict(self):
        """Every attribute except the optimizer (and functions), as plain data."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(self).items()
                if k not in self._not_state}

    def load_state_dict(self, state_dict):
        """Restore from ``state_dict()``; unknown keys or a wrong number of groups raise ValueError."""
        name = f"{type(self).__name__}.load_state_dict"
        unknown = sorted(set(state_dict) - set(self.state_dict()))
        if unknown:
            raise ValueError(f"{name}: unknown entries {unknown}")
        for key in ("base_lrs", "_last_lr", "min_lrs"):
            if key in state_dict and len(state_dict[key]) != len(self.optimizer.param_groups):
                raise ValueError(f"{name}: '{key}' has {len(state_dict[key])} entries but the optimizer has "
                                 f"{len(self.optimizer.param_groups)} param groups")
        self.__dict__.update({k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in state_dict.items()})


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs: lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones``.

    lr = base_lr * gamma ** (number of milestones <= epoch); a milestone listed twice counts twice.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.count(self.last_epoch)
        if not hits:
            return self._current_lrs()
        return [lr * self.gamma ** hits for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch: lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from base_lr down to ``eta_min`` over ``T_max`` epochs (SGDR without restarts).

        lr(epoch) = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Closed form, so it does not drift. Past ``T_max`` the cosine keeps going (the lr
    climbs back up over the next ``T_max`` epochs), as in PyTorch. PyTorch's recursive
    form gives the same numbers unless something else changes ``lr`` between steps.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be > 0, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cos = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cos for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch); ``lr_lambda`` is one function, or a list with one per group.

    The functions are not part of ``state_dict()``: re-create the scheduler with them, then load.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]


class ReduceLROnPlateau(LRScheduler):
    """Cut the lr by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    ``step(metric)`` once per epoch. A value is an improvement over the best so far when
    (mode min) ``metric < best * (1 - threshold)`` [rel] or ``metric < best - threshold`` [abs]
    (mode max) ``metric > best * (1 + threshold)`` [rel] or ``metric > best + threshold`` [abs].
    After more than ``patience`` epochs in a row without one, every group's lr becomes
    ``max(lr * factor, min_lr)`` (a change smaller than ``eps`` is skipped), and the next
    ``cooldown`` epochs do not count as bad.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected an Optimizer, got {type(optimizer).__name__}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"ReduceLROnPlateau: expected {n} min_lrs (one per param group), got {len(min_lr)}")
            self.default_min_lr, self.min_lrs = None, list(min_lr)
        else:
            self.default_min_lr, self.min_lrs = min_lr, [min_lr] * n
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def step(self, metrics):
        """Record this epoch's metric (a number or a one-element tensor) and cut the lr if it has plateaued."""
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a):
        best, t = self.best, self.threshold
        if self.mode == "min":
            return a < best * (1 - t) if self.threshold_mode == "rel" else a < best - t
        return a > best * (1 + t) if self.threshold_mode == "rel" else a > best + t

    def _reduce_lr(self):
        if len(self.min_lrs) != len(self.optimizer.param_groups):
            if self.default_min_lr is not None:  # a group was added since: it gets the common min_lr
                self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        if len(self.min_lrs) != len(self.optimizer.param_groups):
            raise RuntimeError(f"ReduceLROnPlateau: the optimizer now has {len(self.optimizer.param_groups)} param "
                               f"groups but min_lrs has {len(self.min_lrs)}; set scheduler.min_lrs to match")
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new
