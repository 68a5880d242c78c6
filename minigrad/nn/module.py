"""Module: the base class of every layer and model.

A Module owns named Parameters (trained), buffers (saved but not trained, e.g. a
loss's class weights) and sub-Modules. Assigning one of those to an attribute
registers it in an ordered dict, so the model's structure is discovered by walking
those dicts: ``named_parameters()`` gives dotted names like ``"encoder.0.weight"``,
``state_dict()`` snapshots everything as arrays, ``load_state_dict`` puts it back.

Registered values are also stored in the instance ``__dict__``, so reading
``self.weight`` is a plain attribute lookup (no ``__getattr__`` on the hot path).
"""
from collections import OrderedDict

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .parameter import Parameter
from .state import IncompatibleKeys, StateDictError, check_state  # noqa: F401  (re-exported)


class Module:
    """Base class: subclasses set attributes in ``__init__`` and implement ``forward``."""

    def __init__(self):
        # object.__setattr__ because our own __setattr__ needs these dicts to exist.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(f"cannot assign {type(value).__name__} {name!r} before Module.__init__() "
                                     f"ran; call super().__init__() first in {type(self).__name__}.__init__")
        elif isinstance(value, Parameter):
            self._forget(name, params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, self._modules)
            self._modules[name] = value
        elif name in params or name in self._modules:
            kind = "parameter" if name in params else "submodule"
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to {kind} {name!r} of "
                                f"{type(self).__name__} (expected a {'Parameter' if name in params else 'Module'} "
                                "or None; wrap tensors in nn.Parameter)")
            (params if name in params else self._modules)[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} "
                                "(expected a Tensor or None)")
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name, keep=None):
        # ``keep``: the registry being assigned to; leaving the name in it keeps its place in the order.
        for d in (self._parameters, self._buffers, self._modules):
            if d is not keep:
                d.pop(name, None)
        self._non_persistent.discard(name)

    def _check_new_name(self, what, name, registry):
        if not isinstance(name, str):
            raise TypeError(f"{what} name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name must be non-empty and contain no '.', got {name!r}")
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register {what} {name!r} before Module.__init__() ran")
        if (name in self.__dict__ or hasattr(type(self), name)) and name not in registry:
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None as a placeholder like a missing bias) as ``name``."""
        self._check_new_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._forget(name, self._parameters)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-trained tensor; persistent buffers are part of ``state_dict()``."""
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._forget(name, self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        """Register ``module`` (or None) as a child called ``name``."""
        self._check_new_name("module", name, self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        self._forget(name, self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    # ------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield (dotted name, module) for this module and all below it, depth first, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate=True):
        # Shared tensors (tied weights) are yielded once, under their first name.
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, registry).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield (dotted name, Parameter); a parameter shared by several modules comes once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The module at dotted path ``target`` ("" is this module)."""
        mod = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"get_submodule: {type(mod).__name__} has no submodule {part!r} "
                                     f"(looking for {target!r})")
            mod = child
        return mod

    def num_parameters(self, trainable_only=False):
        """Total number of scalars in the (unique) parameters."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ------------------------------------------------------------------ modes
    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode here and in every submodule."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's ``.grad``: to None, or (``set_to_none=False``) to fresh zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:  # a new array: someone may still hold (and read) the old gradient
                p.grad = Tensor._wrap(p._k().zeros(p.shape, p.dtype), False, p.device)

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first), then on this one."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------- dtype and device
    def _convert(self, fn):
        # Swap each tensor's array (and its grad's), keeping the objects: optimizers and
        # user code holding a Parameter keep seeing the live one. Everything is converted
        # before anything is swapped, so a failure (no GPU, out of memory) changes nothing.
        with no_grad():
            tensors = list(self.parameters()) + list(self.buffers())
            converted = [(fn(t), None if t.grad is None else fn(t.grad)) for t in tensors]
        for t, (new, grad) in zip(tensors, converted):
            t.data, t._device = new.data, new.device
            if grad is not None:
                t.grad = Tensor._wrap(grad.data, False, grad.device)
        return self

    def to(self, target=None, *, device=None, dtype=None):
        """``to(float64)`` casts floating parameters and buffers; ``to("cuda")`` moves them. In place."""
        if isinstance(target, str):
            device = target
        elif target is not None:
            dtype = target
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to: only floating dtypes are allowed, got {dtype}")
            self._convert(lambda t: t.astype(dtype) if t.dtype.kind == "f" else t)
        if device is not None:
            self._convert(lambda t: t.to(device))
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        """``to("cuda")``: every parameter and buffer onto the GPU, in place (all or nothing)."""
        return self.to("cuda")

    # ------------------------------------------------------------- state dict
    def _state_items(self, prefix=""):
        # Every name, tied weights included (under each of their names), like torch.
        for name, t in self._parameters.items():
            if t is not None:
                yield prefix + name, t
        for name, t in self._buffers.items():
            if t is not None and name not in self._non_persistent:
                yield prefix + name, t
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_items(prefix + name + ".")

    def state_dict(self, prefix=""):
        """OrderedDict of dotted name -> a numpy COPY of each parameter and persistent buffer."""
        return OrderedDict((name, np.array(t.numpy(), copy=True)) for name, t in self._state_items(prefix))

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` (name -> array or Tensor) into the parameters and buffers.

        Everything is checked before anything is written: a shape mismatch, a dtype that
        cannot be cast (e.g. float -> int), and (if ``strict``) a missing or unexpected
        key all raise ``StateDictError`` listing every problem, leaving the model as it
        was. Each tensor then gets a *new* array cast to its own dtype (old arrays, which
        a graph may have saved, are never written). Returns ``(missing_keys, unexpected_keys)``.
        """
        own = OrderedDict(self._state_items())
        arrays, result = check_state(type(self).__name__, own, state, strict)
        # Build every new array before assigning any, so a failure here changes nothing.
        new = {name: own[name]._k().asarray(a, own[name].dtype) for name, a in arrays.items()}
        for name, data in new.items():
            own[name].data = data
        return result

    # ------------------------------------------------------------------- repr
    def extra_repr(self):
        """One line of this module's settings for ``repr`` (e.g. ``in_features=4``); override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): {_indent(repr(m))}" for name, m in self._modules.items()]
        if not children and len(lines) <= 1:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"


def _indent(text, spaces=2):
    return text.replace("\n", "\n" + " " * spaces)
