"""Containers: modules that hold other modules.

``Sequential`` chains its children (the output of one is the input of the next);
``ModuleList`` and ``ModuleDict`` only hold them, so that their parameters are
registered, and leave the wiring to the owner's ``forward``. Children are named by
position ("0", "1", ...) or by key, which is where names like ``"0.weight"`` come from.
"""
import inspect
import operator
from collections import OrderedDict

from .module import Module


def _index(container, idx):
    """``idx`` as a non-negative position, with a clear error when out of range."""
    idx = operator.index(idx)
    n = len(container)
    if not -n <= idx < n:
        raise IndexError(f"{type(container).__name__}: index {idx} is out of range for {n} modules")
    return idx % n


class _ModuleSequence(Module):
    """What ModuleList and Sequential share: children in order, numbered by position."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self._slice(idx)
        return list(self._modules.values())[_index(self, idx)]

    def __setitem__(self, idx, module):
        self.add_module(list(self._modules)[_index(self, idx)], module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        del mods[idx]
        self._renumber(mods)

    def _renumber(self, mods):
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def append(self, module):
        # The new child's name is its position, even after named ones (as in torch).
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._renumber(mods)


class ModuleList(_ModuleSequence):
    """A list of modules: ``append``, ``extend``, ``insert``, indexing (int or slice), ``len``, iteration.

    It has no ``forward``: the owner decides how the modules are wired.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _slice(self, idx):
        return ModuleList(list(self._modules.values())[idx])


class Sequential(_ModuleSequence):
    """Apply modules in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Also ``Sequential(OrderedDict(name=module, ...))`` to name the children.
    Slicing gives a new Sequential sharing the same modules (and their names).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            self.extend(modules)

    def _slice(self, idx):
        return Sequential(OrderedDict(list(self._modules.items())[idx]))

    def forward(self, x, **kwargs):
        """x through every module in turn.

        Keyword arguments go to each module whose ``forward`` takes them: e.g.
        ``model(x, lengths=lengths)`` hands a padded batch's lengths to the recurrent
        layers and nothing else (Keras passes its masks along a model the same way).
        """
        if not kwargs:
            for m in self._modules.values():
                x = m(x)
            return x
        used = set()
        for m in self._modules.values():
            mine = {k: v for k, v in kwargs.items() if k in _keywords(type(m))}
            used.update(mine)
            x = m(x, **mine)
        unused = sorted(set(kwargs) - used)
        if unused:
            raise TypeError(f"Sequential: no module takes the keyword argument(s) {', '.join(unused)} "
                            f"(modules: {', '.join(type(m).__name__ for m in self._modules.values())})")
        return x


_KEYWORDS = {}


def _keywords(cls):
    """Names ``cls.forward`` accepts as keyword arguments (cached per class)."""
    if cls not in _KEYWORDS:
        params = inspect.signature(cls.forward).parameters.values()
        _KEYWORDS[cls] = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return _KEYWORDS[cls]


class ModuleDict(Module):
    """A dict of modules keyed by name, in insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for key, m in items:
            self[key] = m
