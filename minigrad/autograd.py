"""Reverse-mode automatic differentiation.

Every differentiable op is a ``Function`` subclass with a ``forward`` (arrays in, an
array out, or a tuple of arrays for an op with several outputs) and a ``backward``
(the gradient of each output in, the gradient of each input out), written side by
side. ``Function.apply`` runs forward and, when some input requires a gradient and
grad mode is on, records the op as the ``_ctx`` of its output tensors: that link from
output to op to inputs *is* the graph.

``backward(root)`` walks that graph from the root to the leaves in reverse
topological order (iteratively: a 100,000-step chain must not hit Python's recursion
limit), calls each op's backward once the gradients of all its outputs have arrived,
and accumulates the gradients that reach the leaves into their ``.grad``.
"""
import contextlib
import threading
import traceback
import weakref

from . import backends

# ----------------------------------------------------------------- grad mode
class _GradMode(threading.local):
    grad = True  # a class default: every thread starts with grad mode on, and reads never miss


_state = _GradMode()


def is_grad_enabled():
    return _state.grad


class set_grad_enabled:
    """Turn graph recording on or off: ``set_grad_enabled(False)`` or ``with set_grad_enabled(flag):``."""

    def __init__(self, mode):
        self.prev = is_grad_enabled()
        self.mode = bool(mode)
        _state.grad = self.mode

    def __enter__(self):
        _state.grad = self.mode
        return self

    def __exit__(self, *exc):
        _state.grad = self.prev
        return False


class _GradModeContext(contextlib.ContextDecorator):
    """Set grad mode inside a ``with`` block or a decorated function, restoring it after.

    The previous modes live on a stack, so one decorator instance can be re-entered
    (a decorated function that calls itself) and still restore correctly.
    """

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._prev = []
        return self(func) if callable(func) else self  # allows bare @no_grad as well as @no_grad()

    def __init__(self, func=None):
        pass

    def __enter__(self):
        self._prev.append(_state.grad)
        _state.grad = self.mode

    def __exit__(self, *exc):
        _state.grad = self._prev.pop()
        return False


class no_grad(_GradModeContext):
    """``with no_grad():`` or ``@no_grad``: ops inside record no graph (inference, updates)."""

    mode = False


class enable_grad(_GradModeContext):
    """Turn graph recording back on inside a ``no_grad`` region."""

    mode = True


# ---------------------------------------------------------- anomaly detection
class _AnomalyMode(threading.local):
    on = False  # per thread, like grad mode: one thread debugging does not slow the others


_anomaly = _AnomalyMode()


def is_anomaly_enabled():
    return _anomaly.on


@contextlib.contextmanager
def detect_anomaly(enabled=True):
    """Check every gradient for NaN/inf as backward produces it (in this thread).

    When one appears, backward stops with a ``FloatingPointError`` naming the op whose
    backward produced it and showing where in your code that op was created. Slow (it
    records a stack per op and scans every gradient): use it to debug, not to train.
    """
    prev, _anomaly.on = _anomaly.on, bool(enabled)
    try:
        yield
    finally:
        _anomaly.on = prev


# ------------------------------------------------------------------ Function
class Function:
    """One differentiable op. Subclasses implement ``forward`` and ``backward``.

    ``forward(self, *arrays, **params)`` gets the input tensors' arrays and returns the
    output array, or a tuple of arrays for an op with several outputs (an LSTM layer
    returns its outputs, h_n and c_n); it keeps what backward needs in ``self.saved``
    (``self.save(a, b)`` stores the tuple ``(a, b)`` there).
    ``backward(self, *grads)`` gets dL/d(output), one array per output (``None`` for an
    output no gradient reached), and returns dL/d(input) for each tensor input (a
    tuple, or a single array for one input); ``None`` for inputs that need no gradient
    (``self.needs_input_grad[i]`` says which do).
    ``self.k`` is the backend whose kernels do the arithmetic.
    """

    __slots__ = ("k", "parents", "saved", "needs_input_grad", "created_at")
    outputs = None  # several outputs: weak references to them, in forward's order

    def save(self, *arrays):
        self.saved = arrays

    @classmethod
    def apply(cls, *inputs, **params):
        # This runs for every op, so it is written for speed: one pass over the
        # inputs checks devices and whether any needs a gradient.
        fn = cls.__new__(cls)
        device = inputs[0]._device
        needs = False
        for t in inputs:
            if t._device != device:
                raise RuntimeError(
                    f"{cls.__name__}: inputs are on different devices "
                    f"({', '.join(x._device for x in inputs)}); move them with .to(device) first")
            if t.requires_grad:
                needs = True
        # the calling thread's CPU backend (get_backend(), read without the call: every op pays it)
        fn.k = backends._state.backend if device == "cpu" else backends.for_device(device)
        out = fn.forward(*[t.data for t in inputs], **params)
        record = needs and _state.grad
        if type(out) is tuple:
            results = tuple(_result(fn, o, device, record) for o in out)
            if record:
                fn.outputs = tuple(weakref.ref(r) for r in results)
        else:
            results = _result(fn, out, device, record)
        if record:
            fn.parents = inputs
            if _anomaly.on:
                fn.created_at = "".join(traceback.format_stack(limit=12)[:-2])
        return results

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}>"


def _result(fn, out, device, record):
    """One output array as a tensor, linked to ``fn`` when the graph is being recorded."""
    if out.ndim == 0:  # numpy returns scalars from 0-d ufuncs/reductions; keep tensors array-backed
        out = fn.k.ensure_array(out)
    result = _Tensor._wrap(out, False, device)
    if record:
        result.requires_grad = True
        result._ctx = fn
    return result


_Tensor = None  # set by tensor.py (avoids an import cycle)


# -------------------------------------------------------------------- engine
def _topological_order(root):
    """Tensors reachable from ``root`` that need grad, each after everything it depends on.

    Iterative depth-first search with an explicit stack, emitting a node after all of
    its parents (post-order).
    """
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        fn = t._ctx
        if fn is not None:
            if fn.parents is None:
                raise RuntimeError(
                    f"backward through {fn.name} a second time: its saved values were freed by the "
                    "first backward. Pass retain_graph=True to the first backward() to keep them.")
            for p in fn.parents:
                if p.requires_grad and id(p) not in seen:
                    stack.append((p, False))
    return order


def _check_finite(fn, i, g, k):
    if k.any_nonfinite(g):
        where = getattr(fn, "created_at", None) or "(creation stack not recorded)\n"
        raise FloatingPointError(
            f"detect_anomaly: {fn.name}.backward produced NaN/inf in the gradient of its input {i} "
            f"(shape {tuple(g.shape)}, dtype {g.dtype}). The {fn.name} op was created at:\n{where}")


def backward(root, grad=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad``; see ``Tensor.backward``."""
    if not root.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph "
                           "(was it created under no_grad, or from tensors with requires_grad=False?)")
    k = backends.for_device(root._device)
    if grad is None:
        if root.size != 1:
            raise RuntimeError(f"backward: the output has shape {root.shape}; backward() without a "
                               "gradient argument needs a single-element output (e.g. call .sum() or "
                               "pass grad= of the same shape)")
        g0 = k.full(root.shape, 1, root.dtype)
    else:
        g0 = grad.data if isinstance(grad, _Tensor) else k.asarray(grad, root.dtype)
        if tuple(g0.shape) != root.shape:
            raise ValueError(f"backward: grad has shape {tuple(g0.shape)} but the output has shape {root.shape}")
        g0 = k.copy(g0)  # never let the caller's array end up (and be mutated) in some .grad

    anomaly = _anomaly.on
    order = _topological_order(root)
    # An op with several outputs runs its backward once, after the last of its outputs
    # that the graph reaches: ``waiting`` holds the gradients collected so far.
    waiting = {}
    for t in order:
        fn = t._ctx
        if fn is not None and fn.outputs is not None:
            if fn not in waiting:
                waiting[fn] = [0, [None] * len(fn.outputs)]
            waiting[fn][0] += 1
    grads = {id(root): g0}
    handed_to_leaves = set()  # ids of arrays some .grad now owns: never hand one out twice
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is not None:
            if t._hooks:
                g = _run_hooks(t, g)
            if t._ctx is None:
                _accumulate_leaf(t, g, handed_to_leaves)
                if t._hooks:
                    _run_post_accumulate_hooks(t)
                continue
            if t._retains_grad:
                _retain(t, g, handed_to_leaves)
        fn = t._ctx
        out_grads = None if fn is None else _gradients_for(fn, t, g, waiting)
        if out_grads is None:  # a leaf without gradient, or an op still waiting for an output's
            continue
        fn.needs_input_grad = tuple([p.requires_grad for p in fn.parents])
        in_grads = fn.backward(*out_grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for i, (p, pg) in enumerate(zip(fn.parents, in_grads)):
            if pg is None or not p.requires_grad:
                continue
            if anomaly:
                _check_finite(fn, i, pg, fn.k)
            key = id(p)
            grads[key] = pg if key not in grads else fn.k.add(grads[key], pg)
        if not retain_graph:
            fn.parents = None
            fn.saved = None
    return None


class PostAccumulateHook:
    """A hook that runs after a leaf's ``.grad`` is complete (``register_post_accumulate_grad_hook``);
    kept in the same list as the gradient hooks, which skip it."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def _run_post_accumulate_hooks(t):
    for hook in list(t._hooks):
        if type(hook) is PostAccumulateHook:
            hook.fn(t)


def _run_hooks(t, g):
    """Each hook sees the gradient; one that returns a tensor (or array) replaces it."""
    for hook in t._hooks:
        if type(hook) is PostAccumulateHook:
            continue
        new = hook(_Tensor._wrap(g, False, t._device))
        if new is not None:
            g = new.data if isinstance(new, _Tensor) else new
    return g


def _accumulate_leaf(t, g, handed_to_leaves):
    """Add g into a leaf's .grad. A leaf's .grad must own its array: backward may hand the
    same array (or a view of it) to several tensors, and optimizers scale .grad in place."""
    k = t._k()
    if g.dtype != t.dtype:
        g = k.astype(g, t.dtype)
    if not k.owns(g) or id(g) in handed_to_leaves:
        g = k.copy(g)
    handed_to_leaves.add(id(g))
    t.grad = _Tensor._wrap(g if t.grad is None else _accumulate(t, g), False, t._device)


def _retain(t, g, handed_to_leaves):
    """Keep g as a non-leaf's .grad (retain_grad). The array also flows on to the parents
    (often unchanged, e.g. through an add), so it is registered like a leaf's."""
    kept = t._k().copy(g) if id(g) in handed_to_leaves else g
    handed_to_leaves.add(id(kept))
    t.grad = _Tensor._wrap(kept if t.grad is None else _accumulate(t, kept), False, t._device)


def _gradients_for(fn, t, g, waiting):
    """The gradients to call fn.backward with now that its output t is done, or None.

    One output: (g,), or None when no gradient reached it. Several: g is filed under t's
    position, and the tuple is handed over once the last of fn's reached outputs is done
    (None if it is not, or if none of them received a gradient).
    """
    if fn.outputs is None:
        return None if g is None else (g,)
    entry = waiting[fn]
    if g is not None:
        entry[1][_output_index(fn, t)] = g
    entry[0] -= 1
    if entry[0] or all(x is None for x in entry[1]):
        return None
    return entry[1]


def _output_index(fn, t):
    """Which of fn's outputs the tensor t is."""
    for i, ref in enumerate(fn.outputs):
        if ref() is t:
            return i
    raise RuntimeError(f"{fn.name}: tensor is not one of its outputs")


def _accumulate(t, g):
    """Accumulate a new gradient into t.grad (out of place, so earlier references stay valid)."""
    return t._k().add(t.grad.data, g)
