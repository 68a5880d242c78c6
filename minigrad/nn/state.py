"""Checking a state dict against a model before loading it.

``Module.load_state_dict`` is all-or-nothing: a checkpoint that fits half a model
would leave it in a state that matches neither the checkpoint nor the old model, and
the bug would surface much later as a bad loss. So every key is checked first, every
problem is collected, and they are reported together in one error.
"""
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from ..tensor import Tensor

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(ValueError):
    """A state dict does not fit a model. ``.problems`` lists one line per mismatch;
    ``.missing_keys``, ``.unexpected_keys`` and ``.mismatched_keys`` list the names."""

    def __init__(self, message, problems, missing, unexpected, mismatched):
        super().__init__(message)
        self.problems = problems
        self.missing_keys = missing
        self.unexpected_keys = unexpected
        self.mismatched_keys = mismatched


def _host_array(value):
    """A state value (array, Tensor, list, number) as a numpy array, or None if it is not numeric data."""
    if isinstance(value, Tensor):
        return value.numpy()
    try:
        a = np.asarray(value)
    except Exception:  # ragged lists and the like: reported as a dtype problem
        return None
    return a


def check_state(owner, own, state, strict):
    """Check ``state`` against ``own`` (name -> Tensor); return (name -> array to load, IncompatibleKeys).

    Raises StateDictError naming every missing/unexpected key (when ``strict``) and
    every shape or dtype mismatch (always: such an entry can never be loaded).
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"load_state_dict: expected a mapping of name -> array, got {type(state).__name__}")
    missing = [name for name in own if name not in state]
    unexpected = [name for name in state if name not in own]
    problems, mismatched, arrays = [], [], {}
    if strict:
        for name in missing:
            t = own[name]
            problems.append(f"missing key {name!r}: the model expects shape {t.shape}, {t.dtype}")
        for name in unexpected:
            a = _host_array(state[name])
            desc = f"shape {a.shape}, {a.dtype}" if a is not None else type(state[name]).__name__
            problems.append(f"unexpected key {name!r}: {desc} (the model has no such parameter or buffer)")
    for name, t in own.items():
        if name not in state:
            continue
        a = _host_array(state[name])
        if a is None or not np.can_cast(a.dtype, t.dtype, casting="same_kind"):
            have = a.dtype if a is not None else type(state[name]).__name__
            problems.append(f"dtype mismatch for {name!r}: cannot cast {have} to the model's {t.dtype}")
            mismatched.append(name)
        elif a.shape != t.shape:
            problems.append(f"shape mismatch for {name!r}: the state has shape {a.shape}, "
                            f"the model expects {t.shape}")
            mismatched.append(name)
        else:
            arrays[name] = a
    if problems:
        raise StateDictError(f"load_state_dict: the state does not fit {owner}; nothing was loaded. "
                             f"{len(problems)} problem(s):\n  " + "\n  ".join(problems),
                             problems, missing, unexpected, mismatched)
    return arrays, IncompatibleKeys(missing, unexpected)
