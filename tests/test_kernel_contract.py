"""The kernel contract (minigrad/backends/kernel_set.py): what a backend must provide, and the
checks that reject one that does not fit it."""
import inspect

import numpy as np
import pytest

import minigrad as mg
from minigrad.backends import ContractError, assemble, get_backend, kernel_set

NUMPY = get_backend("numpy")
REQUIRED = kernel_set.names(kernel_set.REQUIRED)
FUSED = kernel_set.names(kernel_set.FUSED)
LOADED = [n for n, info in mg.available_backends().items() if info["available"]]


def test_every_kernel_is_written_down_once_with_a_doc_and_a_tier():
    assert len(kernel_set.SPECS) == len(set(kernel_set.SPECS))
    assert {"add", "matmul", "sum", "scatter_add", "getitem", "setitem", "tanh"} <= set(REQUIRED)
    assert {"tanh_backward", "cross_entropy", "adam_step", "lstm_backward", "sigmoid", "softmax"} <= set(FUSED)
    for spec in kernel_set.SPECS.values():
        assert spec.doc and spec.family in kernel_set.FAMILIES, spec.name
        if spec.tier == kernel_set.FUSED:  # every fused kernel has a default composed from the required tier
            assert spec.default is not None, spec.name
            assert tuple(inspect.signature(spec.default).parameters) == ("k",) + spec.params, spec.name


@pytest.mark.parametrize("name", LOADED)
def test_every_backend_has_every_kernel_with_the_contracts_parameters(name):
    b = get_backend(name)
    for spec in kernel_set.SPECS.values():
        fn = getattr(b, spec.name)
        assert tuple(inspect.signature(fn).parameters) == spec.params, (name, spec.name)
        assert b.origin[spec.name] in ("own", "composed") or b.origin[spec.name] in LOADED, (name, spec.name)
    report = mg.available_backends(kernels=True)[name]
    assert report["kernels"] == b.origin
    assert {n for n, o in b.origin.items() if o not in ("own", "composed")
            and kernel_set.SPECS[n].family != "arrays"} == set(report["reuses"])


def test_numpy_implements_the_required_tier_and_composes_the_rest():
    """numpy's own fused kernels are its in-place optimizer steps; every other fused kernel is composed."""
    assert all(NUMPY.origin[n] == "own" for n in REQUIRED)
    optim = set(kernel_set.names(family="optim"))
    assert all(NUMPY.origin[n] == ("own" if n in optim else "composed") for n in FUSED)


def test_loop_backends_run_their_own_compiled_kernels():
    report = mg.available_backends(kernels=True)
    for name in ("numba", "python", "cython"):
        if not report[name]["available"]:
            continue
        kernels = report[name]["kernels"]
        for own in ("tanh_backward", "sigmoid", "softmax", "cross_entropy", "adam_step", "lstm_backward", "sum"):
            assert kernels[own] == "own", (name, own)
        assert kernels["add"] == "numpy" and kernels["reshape"] == "numpy"


def _required_from_numpy(skip=()):
    return {NUMPY: [n for n in REQUIRED if n not in skip]}


def test_a_backend_missing_a_required_kernel_is_rejected_naming_it():
    with pytest.raises(ContractError, match=r"'tiny' lacks the required kernel\(s\) matmul, scatter_add"):
        assemble("tiny", device="cpu", description="", own={}, take=_required_from_numpy({"matmul", "scatter_add"}))


def test_a_kernel_with_the_wrong_parameters_is_rejected_naming_it():
    def tanh_backward(y, grad):  # the contract says (y, g)
        return grad
    with pytest.raises(ContractError, match=r"tanh_backward\(y, grad\) does not match the contract's "
                                            r"tanh_backward\(y, g\)"):
        assemble("bad", device="cpu", description="", own={"tanh_backward": tanh_backward},
                 take=_required_from_numpy())


def test_an_unknown_kernel_name_is_rejected():
    with pytest.raises(ContractError, match="'tahn' is not a kernel of the contract"):
        assemble("typo", device="cpu", description="", own={"tahn": np.tanh}, take=_required_from_numpy())


def test_kernels_of_another_device_cannot_be_taken():
    class Fake:
        name, device = "gpu-ish", "cuda"
    with pytest.raises(ContractError, match="cannot take kernels of 'gpu-ish' \\(cuda\\)"):
        assemble("mixed", device="cpu", description="", own={}, take={Fake(): ["add"]})


def test_register_rejects_before_adding_and_refuses_duplicates():
    before = set(mg.available_backends())
    with pytest.raises(ContractError, match="lacks the required kernel"):
        mg.backends.register("half-done", own={}, take=_required_from_numpy({"add"}))
    assert set(mg.available_backends()) == before
    with pytest.raises(ValueError, match="already exists"):
        mg.backends.register("numpy", own={}, take=_required_from_numpy())


def test_the_required_tier_alone_makes_a_working_backend():
    """The conftest's "required-only" backend: numpy's primitives, every fused kernel composed.
    (The whole op suite runs on it through the ``backend`` fixture; here one training step.)"""
    b = get_backend("required-only")
    assert all(b.origin[n] == "numpy" for n in REQUIRED) and all(b.origin[n] == "composed" for n in FUSED)
    grads = {}
    for name in ("numpy", "required-only"):
        mg.manual_seed(1)
        lstm = mg.nn.Linear(3, 4)
        x = mg.randn(5, 3)
        with mg.backend(name):
            loss = mg.cross_entropy(lstm(x).tanh(), np.array([0, 1, 2, 3, 0])) + lstm.weight.sigmoid().mean()
            loss.backward()
        grads[name] = lstm.weight.grad.numpy()
    np.testing.assert_allclose(grads["required-only"], grads["numpy"], rtol=1e-6)


def test_a_composed_default_runs_on_the_backends_own_kernels():
    """A fused kernel a backend lacks calls the kernels of *that* backend, never numpy's."""
    calls = []

    def add(a, b):
        calls.append("add")
        return np.add(a, b)

    b = assemble("spy", device="cpu", description="", own={"add": add}, take=_required_from_numpy({"add"}))
    y = np.tanh(np.linspace(-1, 1, 5))
    b.tanh_backward(y, np.ones(5))  # composed: g * (1 - y*y) has no add
    b.softmax_backward(y, np.ones(5), 0)  # no add either
    b.sgd_step(np.ones(3), np.ones(3), np.zeros(3), 0.1, 0.9, 0.0, False, 0.01, False, False)
    assert calls == ["add", "add"]  # weight decay (g + wd p) and momentum (m b + (1 - d) g)


def test_cython_loops_carry_the_names_parameters_and_families_of_the_numba_loops():
    """One glue layer (backends/wrappers) drives both compiled loop sets: every numba loop
    has a Cython twin of the same name, parameters and family file, and nothing else.
    The recurrences split across threads (numba's recurrent_parallel.py) live in Cython's
    recurrent.pyx, next to the one-thread loops whose helpers they share."""
    if not mg.available_backends()["cython"]["available"]:
        pytest.skip("cython extension not built")
    from minigrad.backends import loops
    numba_loops = vars(loops.collect(loops.MODULES, compiled=False))
    cython_loops = {n: f for n, f in vars(get_backend("cython").loops).items() if n != "threads"}
    assert set(cython_loops) == set(numba_loops)
    assert {n for n in cython_loops if n.endswith("_parts")} == {f"{m}_{d}_parts" for m in ("rnn", "lstm", "gru")
                                                                 for d in ("forward", "backward")}
    assert "matmul_split" in cython_loops
    family = {"recurrent_parallel": "recurrent"}
    for name, fn in numba_loops.items():
        twin = cython_loops[name]
        assert tuple(inspect.signature(twin["double"]).parameters) == tuple(inspect.signature(fn).parameters), name
        numba_family = fn.__module__.rsplit(".", 1)[-1]
        assert twin.__module__.rsplit(".", 1)[-1] == family.get(numba_family, numba_family), name
