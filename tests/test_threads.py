"""Per-thread state: the active CPU backend, grad mode and anomaly detection."""
import threading

import numpy as np

import minigrad as mg
from tests.conftest import CPU_BACKENDS


def _in_threads(*targets):
    errors = []

    def run(fn):
        try:
            fn()
        except BaseException as e:  # noqa: BLE001  (reported to the test below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_two_threads_with_different_backends_each_use_their_own():
    other = next(n for n in CPU_BACKENDS if n != "numpy")
    barrier = threading.Barrier(2)
    seen, results = {}, {}

    def work(name):
        def run():
            with mg.backend(name):
                barrier.wait()  # both threads are inside their `with` at once
                for step in range(50):
                    w = mg.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
                    loss = (mg.tensor(np.ones((2, 3))) @ w).tanh().sigmoid().sum()
                    loss.backward()
                    seen.setdefault(name, set()).add(loss.grad_fn.k.name)
                results[name] = w.grad.numpy()
                barrier.wait()
            seen[name + ":after"] = mg.get_backend().name
        return run

    start = mg.get_backend().name
    _in_threads(work("numpy"), work(other))
    assert seen["numpy"] == {"numpy"} and seen[other] == {other}
    np.testing.assert_allclose(results[other], results["numpy"], rtol=1e-5, atol=1e-6)
    default = mg.backends._ThreadState.backend.name  # what every thread starts with
    assert seen["numpy:after"] == seen[other + ":after"] == default
    assert mg.get_backend().name == start  # the main thread's backend never moved


def test_a_new_thread_starts_with_the_process_default_not_the_callers_choice():
    seen = []
    with mg.backend("numpy"):
        _in_threads(lambda: seen.append(mg.get_backend().name))
    assert seen == [mg.backends._ThreadState.backend.name]


def test_grad_mode_and_anomaly_detection_are_per_thread():
    barrier = threading.Barrier(2)
    seen = {}

    def no_grad_thread():
        with mg.no_grad(), mg.detect_anomaly():
            barrier.wait()
            seen["a"] = (mg.is_grad_enabled(), mg.is_anomaly_enabled())
            barrier.wait()

    def plain_thread():
        barrier.wait()
        seen["b"] = (mg.is_grad_enabled(), mg.is_anomaly_enabled())
        x = mg.tensor([1.0], requires_grad=True)
        seen["b_records"] = (x * 2).requires_grad
        barrier.wait()

    _in_threads(no_grad_thread, plain_thread)
    assert seen["a"] == (False, True)
    assert seen["b"] == (True, False) and seen["b_records"]
