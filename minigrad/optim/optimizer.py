"""Optimizer: the bookkeeping every update rule shares.

An optimizer holds ``param_groups`` -- a list of dicts, each with its ``"params"`` (a
list of tensors) and its hyper-parameters (``lr``, ``momentum``...; a group's own
values override the optimizer's ``defaults``) -- and ``state``, a dict from parameter
to that parameter's buffers (moment estimates, step count...).

``step()`` walks every parameter that has a gradient and hands it, with its state, to
the subclass's ``_update``, which makes ONE call to the parameter's backend kernel
(``p._k().adam_step(...)`` and friends). The kernel updates ``p.data`` and the state
arrays in place, so no numpy arithmetic happens here: on a device (the planned CUDA backend) the whole update stays on
the device, and the numba/cython backends run their fused loops.

``state_dict()`` / ``load_state_dict()`` follow PyTorch's layout: parameters are
referred to by their integer position (counting through the groups in order), so a
checkpoint is plain data -- dicts, lists, numbers and numpy arrays.
"""
import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor


class Optimizer:
    """Base class. Subclasses set ``_array_names`` and implement ``_validate``, ``_state_names``, ``_update``.

    Args:
        params: an iterable of tensors, or of dicts ``{"params": [...], **overrides}``
            (one dict per param group).
        defaults: the hyper-parameters a group gets when it does not set its own.
    """

    #: every state entry of this optimizer that is an array shaped like its parameter
    _array_names = ()
    #: whether the state keeps a per-parameter step count under "step"
    _has_step = True

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of tensors or of dicts, got a single "
                            "Tensor (wrap it in a list)")
        if isinstance(params, set):
            raise TypeError(f"{self._name}: params must be an ordered collection (list), not a set: the order "
                            "of a set changes between runs and state_dict() refers to parameters by position")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with "params" and optional hyper-parameter overrides)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}.add_param_group: the group has no 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{self._name}: a group's params must be a list, not a set (its order is not stable)")
        params = list(params)
        gi = len(self.param_groups)
        if not params:
            raise ValueError(f"{self._name}: param group {gi} has an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: parameter {i} of group {gi} is a {type(p).__name__}, "
                                "expected a Tensor")
            if not p.requires_grad:
                raise ValueError(f"{self._name}: parameter {i} of group {gi} (shape {p.shape}) does not require "
                                 "grad; create it with requires_grad=True or leave it out")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: parameter {i} of group {gi} is not a leaf tensor (it was computed "
                                 "by an op); optimize the leaf it came from, or detach() it")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self._name}: param group {gi} lists the same parameter twice")
        if seen.intersection(ids):
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        self._validate(group)
        group["params"] = params
        self.param_groups.append(group)

    def _validate(self, group):
        """Raise ValueError naming the bad hyper-parameter of ``group``; subclasses extend."""
        self._check(group.get("lr", 0) >= 0, f"invalid learning rate lr={group.get('lr')} (expected lr >= 0)")
        if "weight_decay" in group:
            wd = group["weight_decay"]
            self._check(wd >= 0, f"invalid weight_decay={wd} (expected >= 0)")
        if "eps" in group:
            self._check(group["eps"] >= 0, f"invalid eps={group['eps']} (expected >= 0)")

    def _check(self, ok, message):
        if not ok:
            raise ValueError(f"{self._name}: {message}")

    # ------------------------------------------------------------------- steps
    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (``None``), or with ``set_to_none=False`` make it zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data = p._k().zeros(p.grad.shape, p.grad.dtype)

    def step(self, closure=None):
        """Update every parameter that has a gradient; return ``closure()``'s loss (or None).

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with
        grad mode on, before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue  # took no part in the loss: leave it (and its state) alone
                g = p.grad.data
                if g.shape != p.data.shape:  # the kernels would broadcast it silently
                    raise ValueError(f"{self._name}.step: a parameter of shape {p.shape} has a gradient of "
                                     f"shape {tuple(g.shape)}")
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p, group)
                self._update(p, g, state, group)
        return loss

    def _init_state(self, p, group):
        """A parameter's state before its first step: step 0 and zero buffers, same dtype as ``p``."""
        k = p._k()
        state = {"step": 0} if self._has_step else {}
        for name in self._state_names(group):
            state[name] = k.zeros(p.shape, p.dtype)
        return state

    def _state_names(self, group):
        """The array buffers a parameter in ``group`` must have once it has state."""
        return ()

    def _update(self, p, g, state, group):
        """Apply one update to ``p`` (gradient array ``g``) with one backend kernel call."""
        raise NotImplementedError

    # ------------------------------------------------------------- checkpoint
    def state_dict(self):
        """A snapshot as plain data: ``{"state": {index: {name: array|number}}, "param_groups": [...]}``.

        Parameters appear as integer indices counted through the groups in order; state
        arrays are copied to host numpy arrays.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    k = p._k()
                    state[index[id(p)]] = {name: (np.array(k.to_numpy(v)) if not _is_scalar(v) else v)
                                           for name, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore from ``state_dict()``'s output. Everything is checked first; on error nothing changes.

        The loaded groups must match this optimizer's: same number of groups and of
        parameters in each, and every state array shaped like its parameter.
        """
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups' (from state_dict())")
        saved_groups = _as_list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        index_to_param = {}
        new_groups = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, dict):
                raise ValueError(f"{name}: parameter group {gi} should be a dict, got {type(saved).__name__}")
            saved_ids = [int(i) for i in _as_list(saved.get("params", []))]
            if len(saved_ids) != len(group["params"]):
                raise ValueError(f"{name}: parameter group {gi} has {len(saved_ids)} parameters in the state dict "
                                 f"but {len(group['params'])} in this optimizer")
            index_to_param.update(zip(saved_ids, group["params"]))
            new = dict(self.defaults)  # a group saved before a hyper-parameter existed gets its default
            new.update({k: self._plain_hyper(k, v) for k, v in saved.items() if k != "params"})
            new["params"] = group["params"]
            self._validate(new)
            new_groups.append(new)
        group_of = {id(p): g for g in new_groups for p in g["params"]}

        new_state = {}
        for key, entry in state_dict["state"].items():
            idx = int(key)
            if idx not in index_to_param:
                raise ValueError(f"{name}: state refers to parameter {idx}, but there are only "
                                 f"{len(index_to_param)} parameters")
            p = index_to_param[idx]
            if not isinstance(entry, dict):
                raise ValueError(f"{name}: state of parameter {idx} should be a dict, got {type(entry).__name__}")
            required = list(self._state_names(group_of[id(p)])) + (["step"] if self._has_step else [])
            missing = [n for n in required if n not in entry]
            if missing:
                raise ValueError(f"{name}: state of parameter {idx} lacks {', '.join(missing)}")
            loaded = {}
            for n, v in entry.items():
                if n in self._array_names:
                    shape = tuple(np.shape(v))
                    if shape != p.shape:
                        raise ValueError(f"{name}: state '{n}' of parameter {idx} has shape {shape}, "
                                         f"but the parameter has shape {p.shape}")
                    loaded[n] = v
                elif _is_scalar(v) or np.ndim(v) == 0:
                    loaded[n] = v.item() if hasattr(v, "item") else v
                else:
                    raise ValueError(f"{name}: state '{n}' of parameter {idx} should be a number, "
                                     f"got an array of shape {tuple(np.shape(v))}")
            new_state[p] = loaded

        # All checks passed: now copy the arrays onto each parameter's device and swap in.
        for p, entry in new_state.items():
            k = p._k()
            for n in self._array_names:
                if n in entry:
                    entry[n] = k.asarray(entry[n], p.dtype)
            if "step" in entry:
                entry["step"] = int(entry["step"])
        self.param_groups = new_groups
        self.state = new_state

    def _plain_hyper(self, key, value):
        """Undo what a round trip through files does to hyper-parameters (0-d arrays, lists for tuples)."""
        if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, np.generic):
            value = value.item()
        if isinstance(self.defaults.get(key), tuple):
            value = tuple(v.item() if hasattr(v, "item") else v for v in value)
        return value

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _is_scalar(v):
    return v is None or isinstance(v, (bool, int, float, np.generic))


def _as_list(x):
    """A list from a list/tuple/array, or from a dict keyed "0", "1", ... (as a file round trip may leave it)."""
    if isinstance(x, dict):
        return [x[k] for k in sorted(x, key=int)]
    return list(x)
