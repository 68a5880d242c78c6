"""Backend registry: which kernel set runs the numbers.

A backend is an object whose attributes are kernels (see ``numpy_backend.py`` for the
full set, with the numpy reference implementation of each). CPU tensors use the
*active* CPU backend, chosen with::

    minigrad.set_backend("numba")
    with minigrad.backend("numpy"):
        ...

A tensor on another device (``"cuda"``) always uses that device's backend.

``available_backends()`` reports every known backend: whether it loaded, why not if it
did not, and which kernels it takes from another backend instead of implementing them
itself. Nothing falls back silently.

The default CPU backend is the fastest one that loads (numba, then cython, then
numpy); the environment variable ``MINIGRAD_BACKEND`` picks another at import time.
"""
import contextlib
import importlib
import os
import threading

from .numpy_backend import NumpyBackend

# Known backends: name -> (module, attribute). Loaded lazily so that importing
# minigrad does not pay for numba or CUDA until a backend is asked for.
_KNOWN = {
    "numpy": ("minigrad.backends.numpy_backend", "NumpyBackend"),
    "numba": ("minigrad.backends.numba_backend", "NumbaBackend"),
    "python": ("minigrad.backends.python_backend", "PythonBackend"),
    "cython": ("minigrad.backends.cython_backend", "CythonBackend"),
}
# Preference order for the default CPU backend: fastest first.
_CPU_PREFERENCE = ("numba", "cython", "numpy")

_loaded = {"numpy": NumpyBackend}
_errors = {}


class _ThreadState(threading.local):
    """The active CPU backend, per thread. A new thread starts with the process default
    (the class attribute, set at import); ``set_backend`` changes the calling thread's only."""
    backend = NumpyBackend


_state = _ThreadState()


def active():
    """The calling thread's active CPU backend (what ``Function.apply`` runs CPU ops on)."""
    return _state.backend


def kernel_names(include_plumbing=False):
    """The compute kernels of the kernel set: NumpyBackend's public kernels, including
    those it takes from mixin classes (e.g. the recurrent reference kernels).

    Array plumbing (allocation, copies, views, transfers: ``NumpyBackend.PLUMBING``) is
    left out unless asked for: every CPU backend shares numpy's arrays, so only the
    kernels that compute are worth comparing between backends.
    """
    names = set()
    for cls in NumpyBackend.__mro__:
        names.update(n for n, v in vars(cls).items()
                     if isinstance(v, (staticmethod, classmethod)) and not n.startswith("_"))
    return sorted(n for n in names if include_plumbing or n not in NumpyBackend.PLUMBING)


def _load(name):
    if name in _loaded:
        return _loaded[name]
    if name not in _KNOWN:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(_KNOWN)}")
    if name in _errors:
        return None
    module, attr = _KNOWN[name]
    try:
        _loaded[name] = getattr(importlib.import_module(module), attr)
    except Exception as e:  # report why, never fail silently
        _errors[name] = f"{type(e).__name__}: {e}"
        return None
    return _loaded[name]


def get_backend(name=None):
    """The active CPU backend (or the backend called ``name``)."""
    if name is None:
        return _state.backend
    b = _load(name)
    if b is None:
        raise RuntimeError(f"backend {name!r} is not available: {_errors[name]}")
    return b


def set_backend(name):
    """Make ``name`` the CPU backend for this thread's later ops. Returns the previous backend's name."""
    b = get_backend(name)
    if b.device != "cpu":
        raise ValueError(f"set_backend: {name!r} is a {b.device} backend; "
                         f"tensors on {b.device} use it automatically (move them with .to({b.device!r}))")
    previous, _state.backend = _state.backend.name, b
    return previous


@contextlib.contextmanager
def backend(name):
    """Context manager: run the enclosed ops on CPU backend ``name``."""
    previous = set_backend(name)
    try:
        yield get_backend(name)
    finally:
        set_backend(previous)


def for_device(device):
    """The backend that runs ops on tensors living on ``device``."""
    if device == "cpu":
        return _state.backend
    if device not in _KNOWN:
        raise RuntimeError(f"device {device!r} is not available: no backend for it "
                           f"(backends: {', '.join(_KNOWN)}; see minigrad.available_backends())")
    b = _load(device)
    if b is None or getattr(b, "device", None) != device:
        why = _errors.get(device, f"no backend for device {device!r}")
        raise RuntimeError(f"device {device!r} is not available: {why}")
    return b


def reused_kernels(b):
    """Kernels that backend ``b`` takes from another backend: {kernel: owner backend name}.

    A backend that runs another's kernel *sources* (python runs numba's loops
    uncompiled) is measured against that backend: it reuses what that backend reuses.
    """
    source = getattr(b, "runs_source_of", None)
    if source is not None and source != b.name:
        return {k: owner for k, owner in reused_kernels(get_backend(source)).items() if k not in vars(b)}
    out = {}
    for kname in kernel_names():
        owner = None  # the backend class whose definition (directly or via its mixins) wins
        for cls in type.mro(b):
            if "name" in vars(cls):
                owner = cls  # a backend class; the mixins listed after it in the MRO are its own
            if kname in vars(cls):
                if owner is not b:
                    out[kname] = owner.name
                break
    return out


def available_backends():
    """Report every known backend as {name: {"available", "device", "reason", "reuses"}}.

    ``reason`` says why a backend is missing; ``reuses`` maps each kernel the backend
    does not implement itself to the backend whose kernel it runs instead.
    """
    report = {}
    for name in _KNOWN:
        b = _load(name)
        if b is None:
            report[name] = {"available": False, "device": None, "reason": _errors[name], "reuses": {}}
        else:
            report[name] = {"available": True, "device": b.device, "reason": b.description,
                            "reuses": reused_kernels(b)}
    return report


def default_cpu_backend():
    """The fastest CPU backend that loads here."""
    for name in _CPU_PREFERENCE:
        if _load(name) is not None:
            return name
    return "numpy"


def _initial_backend():
    requested = os.environ.get("MINIGRAD_BACKEND")
    if requested:
        b = get_backend(requested)  # a clear error if it is unknown or unavailable
        if b.device != "cpu":
            raise ValueError(f"MINIGRAD_BACKEND={requested!r} is not a CPU backend")
        return b
    return get_backend(default_cpu_backend())


_ThreadState.backend = _initial_backend()
