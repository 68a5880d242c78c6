"""Backend registry: which kernel set runs the numbers.

A backend is a named set of kernels (``backend.py``); what each kernel must do is the
contract in ``kernel_set.py``. CPU tensors use the calling thread's *active* CPU backend:

    minigrad.set_backend("numba")          # this thread, from now on
    with minigrad.backend("numpy"):        # this thread, inside the block
        ...

A new thread starts with the process default: the fastest CPU backend that loads here
(numba, then cython, then numpy), or the one the environment variable
``MINIGRAD_BACKEND`` names at import time. A tensor on another device ("cuda") always
uses that device's backend.

``available_backends()`` reports every known backend: whether it loaded, why not if it
did not, and which kernels it takes from another backend instead of implementing them
itself; ``available_backends(kernels=True)`` adds, per kernel, "own", "composed" (the
contract's default, built from the backend's required kernels) or the backend it is
taken from. Nothing falls back silently. ``register`` adds a backend of your own.
"""
import contextlib
import importlib
import os
import threading

from . import kernel_set
from .backend import COMPOSED, OWN, Backend, ContractError, assemble  # noqa: F401  (public: see register)
from .reference import BACKEND as _NUMPY

# Known backends: name -> (module, factory). Loaded lazily, so that importing minigrad
# does not pay for numba or a device until a backend is asked for.
_KNOWN = {
    "numpy": ("minigrad.backends.reference", None),
    "numba": ("minigrad.backends.loops", "numba_backend"),
    "python": ("minigrad.backends.loops", "python_backend"),
    "cython": ("minigrad.backends.cython", "cython_backend"),
    "cuda": ("minigrad.backends.cuda", "cuda_backend"),
}
_DEVICES = ("cuda",)  # backends that own a device rather than computing on the CPU
# Preference order for the default CPU backend: fastest first.
_CPU_PREFERENCE = ("numba", "cython", "numpy")

_loaded = {"numpy": _NUMPY}
_errors = {}


class _ThreadState(threading.local):
    """The active CPU backend, per thread. A new thread starts with the process default
    (the class attribute, set at import); ``set_backend`` changes the calling thread's only."""
    backend = _NUMPY


_state = _ThreadState()


def kernel_names(include_plumbing=False):
    """The kernels of the contract that compute; with ``include_plumbing``, also the array
    plumbing (allocation, copies, views), which every CPU backend shares with numpy."""
    return [n for n in kernel_set.names() if include_plumbing or kernel_set.SPECS[n].family != "arrays"]


def _load(name):
    if name in _loaded:
        return _loaded[name]
    if name not in _KNOWN:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(_KNOWN)}")
    if name in _errors:
        return None
    module, factory = _KNOWN[name]
    try:
        _loaded[name] = getattr(importlib.import_module(module), factory)()
    except ContractError:
        raise  # a backend that breaks the contract is a bug to see, not a backend to skip
    except Exception as e:  # report why, never fail silently
        _errors[name] = f"{type(e).__name__}: {e}"
        return None
    return _loaded[name]


def register(name, own, *, device="cpu", description="", take=None):
    """Add a backend: ``own`` maps kernel names to functions, ``take`` maps another backend
    to the kernel names used from it (``{get_backend("numpy"): [...]}``). Every required kernel
    must be given; fused kernels not given run the contract's composed defaults. A backend
    that does not fit the contract raises ``ContractError`` naming the kernel."""
    if name in _KNOWN:
        raise ValueError(f"register: a backend named {name!r} already exists")
    b = assemble(name, device=device, description=description or f"registered backend {name!r}", own=own,
                 take=take)
    _KNOWN[name] = (None, None)
    _loaded[name] = b
    return b


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
    if name in _DEVICES:
        raise ValueError(f"set_backend: {name!r} is a device, not a CPU backend: tensors on it always use its "
                         f"kernels; move them there with .to({name!r})")
    b = get_backend(name)
    if b.device != "cpu":
        raise ValueError(f"set_backend: {name!r} is a {b.device} backend; "
                         f"tensors on {b.device} use it automatically (move them with .to({b.device!r}))")
    previous, _state.backend = _state.backend.name, b
    return previous


@contextlib.contextmanager
def backend(name):
    """Context manager: run the enclosed ops of this thread on CPU backend ``name``."""
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
    """The compute kernels backend ``b`` takes from another backend: {kernel: that backend's name}."""
    plumbing = set(kernel_set.names(family="arrays"))
    return {n: o for n, o in b.origin.items() if o not in (OWN, COMPOSED) and n not in plumbing}


def available_backends(kernels=False):
    """Report every known backend as {name: {"available", "device", "reason", "reuses"}}.

    ``reason`` says what the backend is, or why it is missing; ``reuses`` maps each compute
    kernel the backend takes from another backend to that backend's name. With
    ``kernels=True`` each entry also has "kernels": {kernel: "own" | "composed" | backend name}.
    """
    report = {}
    for name in _KNOWN:
        b = _load(name)
        if b is None:
            report[name] = {"available": False, "device": None, "reason": _errors[name], "reuses": {}}
        else:
            report[name] = {"available": True, "device": b.device, "reason": b.description,
                            "reuses": reused_kernels(b)}
        if kernels:
            report[name]["kernels"] = dict(b.origin) if b is not None else {}
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
