"""What a backend is: a named kernel set, assembled from its own kernels and checked
against the contract (``kernel_set.py``).

A backend is a plain object with one attribute per kernel, ``k.add(a, b)``. Each
kernel comes from one of three places, recorded in ``k.origin``:

* ``"own"``: the backend's own implementation;
* the name of another backend whose kernel it takes, explicitly (the CPU backends take
  numpy's array plumbing, since they all hold numpy arrays);
* ``"composed"``: a fused kernel the backend does not implement runs the contract's
  default, composed from this backend's own required kernels.

Backends do not inherit from each other: nothing arrives unannounced, and a device
backend can never end up running numpy on device arrays. ``assemble`` rejects, naming
the kernel, a backend that lacks a required kernel, defines a name the contract does
not know, or gives a kernel other parameters than the contract's.
"""
import inspect
import types

from . import kernel_set

OWN, COMPOSED = "own", "composed"


class ContractError(TypeError):
    """A backend does not fit the kernel contract."""


class Backend:
    """A named set of kernels for one device (see the module docstring)."""

    def __init__(self, name, device, description):
        self.name, self.device, self.description = name, device, description
        self.origin = {}  # kernel -> "own", "composed" or the name of the backend it is taken from

    def __repr__(self):
        return f"<minigrad backend {self.name!r} on {self.device}>"


def assemble(name, *, device, description, own, take=None, extras=None):
    """Build and check a backend.

    own: {kernel name: callable} implemented by this backend.
    take: {other backend: [kernel names]} used as they are (same device only).
    extras: {attribute: value} that is not a kernel (e.g. ``loops``, for benchmarks).
    """
    take = take or {}
    backend = Backend(name, device, description)
    given = dict(own)
    origin = {n: OWN for n in own}
    for other, kernels in take.items():
        if other.device != device:
            raise ContractError(f"backend {name!r} ({device}) cannot take kernels of {other.name!r} "
                                f"({other.device}): they act on another device's arrays")
        for n in kernels:
            if n in given:
                raise ContractError(f"backend {name!r}: kernel {n!r} is both its own and taken from {other.name!r}")
            given[n], origin[n] = getattr(other, n), other.name
    unknown = sorted(set(given) - set(kernel_set.SPECS))
    if unknown:
        raise ContractError(f"backend {name!r}: {', '.join(map(repr, unknown))} "
                            f"{'is not a kernel' if len(unknown) == 1 else 'are not kernels'} of the contract "
                            "(minigrad/backends/kernel_set.py)")
    missing = [n for n in kernel_set.names(kernel_set.REQUIRED) if n not in given]
    if missing:
        raise ContractError(f"backend {name!r} lacks the required kernel(s) {', '.join(missing)} "
                            "(minigrad/backends/kernel_set.py lists them)")
    for n, fn in own.items():
        _check_signature(name, n, fn)
    for spec in kernel_set.SPECS.values():
        if spec.name not in given:  # a fused kernel this backend does not implement
            if spec.default is None:
                raise ContractError(f"no composed default for {spec.name!r} is registered: import "
                                    "minigrad.backends.reference (which defines them) first")
            given[spec.name], origin[spec.name] = types.MethodType(spec.default, backend), COMPOSED
        setattr(backend, spec.name, given[spec.name])
    backend.origin = {n: origin[n] for n in kernel_set.SPECS}
    for attr, value in (extras or {}).items():
        if attr in kernel_set.SPECS or attr in vars(backend):
            raise ContractError(f"backend {name!r}: extra attribute {attr!r} would hide a kernel or a field")
        setattr(backend, attr, value)
    return backend


def _check_signature(backend_name, kernel, fn):
    """The kernel's parameters must be the contract's, by name and in order."""
    expected = kernel_set.SPECS[kernel].params
    try:
        params = tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # a callable without an inspectable signature: trust it
        return
    if params != expected:
        raise ContractError(f"backend {backend_name!r}: kernel {kernel}({', '.join(params)}) does not match "
                            f"the contract's {kernel}({', '.join(expected)})")


def kernels_of(*modules, bind=None):
    """{name: function} of the kernels defined in ``modules``: every public function defined
    there (helpers, and the composed defaults of the reference modules, are private:
    ``_name``). With ``bind``, each is bound to it as a method's ``self`` is: the loop
    wrappers take the loop set as their first argument."""
    found = {}
    for module in modules:
        for n, fn in vars(module).items():
            if n.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.__name__:
                continue
            if n in found:
                raise ContractError(f"kernel {n!r} is defined twice ({found[n].__module__}, {module.__name__})")
            found[n] = fn
    if bind is not None:
        found = {n: types.MethodType(fn, bind) for n, fn in found.items()}
    return found
