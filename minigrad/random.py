"""One random generator behind every random op (randn, rand, dropout, nn.init).

``manual_seed(s)`` resets it, so a script that seeds once is reproducible end to end.
"""
import numpy as np

_gen = [np.random.default_rng()]


def manual_seed(seed):
    """Reseed minigrad's generator; every later random op is then deterministic."""
    _gen[0] = np.random.default_rng(seed)


seed = manual_seed


def generator():
    """The numpy ``Generator`` that minigrad's random ops draw from."""
    return _gen[0]
