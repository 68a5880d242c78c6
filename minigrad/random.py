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


def get_state():
    """Every random state a training run draws from, as plain data (for checkpoints).

    Three generators: minigrad's own (dropout, initialisation, ``fit``'s shuffling),
    numpy's global one (``np.random.*``, which user code and data helpers often call)
    and Python's ``random`` module. Restoring all three with ``set_state`` makes the
    next draws of each exactly those the run would have made.
    """
    import random as pyrandom
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = pyrandom.getstate()
    return {"minigrad": _gen[0].bit_generator.state,
            "numpy": {"name": name, "keys": np.asarray(keys), "pos": int(pos), "has_gauss": int(has_gauss),
                      "cached_gaussian": float(cached)},
            "python": {"version": version, "internal": np.asarray(internal, dtype=np.uint64),
                       "gauss": gauss}}


def set_state(state):
    """Restore what ``get_state`` returned. Everything is checked before anything changes."""
    import random as pyrandom
    try:
        bits = state["minigrad"]
        gen = np.random.Generator(getattr(np.random, bits["bit_generator"])())
        gen.bit_generator.state = bits
        legacy = state["numpy"]
        legacy = (legacy["name"], np.asarray(legacy["keys"], dtype=np.uint32), int(legacy["pos"]),
                  int(legacy["has_gauss"]), float(legacy["cached_gaussian"]))
        py = state["python"]
        py = (int(py["version"]), tuple(int(v) for v in py["internal"]), py["gauss"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"random.set_state: not a state from random.get_state() ({type(e).__name__}: {e})") from None
    check = np.random.RandomState()
    check.set_state(legacy)  # validates the legacy state on a throwaway generator first
    pyrandom.Random().setstate(py)
    _gen[0] = gen
    np.random.set_state(legacy)
    pyrandom.setstate(py)
