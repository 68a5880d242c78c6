"""Tensor: an array plus what autograd needs to know about it.

A tensor holds ``data`` (a numpy array on the CPU, a ``CudaArray`` on "cuda"), its
``device``, whether it ``requires_grad``, and, once backward has run, its ``grad`` (a
Tensor of the same shape, dtype and device). A tensor made by an op while a graph is
being recorded also remembers that op in ``_ctx``; tensors without one are *leaves*.

Every operator here is a one-line call into ``minigrad.ops``, where each op's forward
and backward are written side by side.
"""
import numpy as np

from . import autograd, backends
from .dtypes import infer_dtype, is_floating


class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_device", "_hooks", "_retains_grad",
                 "__weakref__")
    # numpy must not treat a Tensor as an array in `ndarray + tensor`: with this, numpy
    # returns NotImplemented and Python calls Tensor.__radd__, which keeps the graph.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device="cpu"):
        """Copy ``data`` (array, list, scalar or Tensor) into a new leaf tensor.

        Floating data becomes float32 unless ``dtype`` says otherwise.
        """
        if isinstance(data, Tensor):
            data = data.numpy()
        dtype = infer_dtype(data, dtype)
        self.data = backends.for_device(device).asarray(data, dtype)
        self._device = device
        self._init(requires_grad)

    def _init(self, requires_grad):
        self._set_requires_grad(requires_grad)
        self.grad = None
        self._ctx = None
        self._hooks = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, data, requires_grad=False, device="cpu"):
        """Wrap an existing array without copying (the fast path used by ops)."""
        t = cls.__new__(cls)
        t.data = data
        t._device = device
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = None
        t._hooks = None
        t._retains_grad = False
        return t

    def _k(self):
        """The backend whose kernels act on this tensor's data."""
        return backends.for_device(self._device)

    # -------------------------------------------------------------- properties
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        """Number of elements (numpy's meaning of ``size``)."""
        return int(self.data.size)

    def numel(self):
        return int(self.data.size)

    @property
    def device(self):
        return self._device

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        """The op that made this tensor (None for leaves)."""
        return self._ctx

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ------------------------------------------------------------- conversion
    def numpy(self):
        """The data as a numpy array (the tensor's own array on CPU: no copy)."""
        return self._k().to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got dtype {self.dtype}")
        return int(self.item())

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self.data, False, self._device)

    def to(self, target):
        """``to("cpu")``/``to("cuda")`` moves data (differentiably; without a GPU, "cuda" says what to
        do instead); ``to(float64)`` casts (differentiably)."""
        if isinstance(target, str):
            if target == self._device:
                return self
            return _ops.to_device(self, target)
        return self.astype(target)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        """``to("cuda")``: a copy on the GPU (numba.cuda kernels; see docs/cuda.md)."""
        return self.to("cuda")

    def astype(self, dtype):
        return _ops.astype(self, dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    # --------------------------------------------------------------- autograd
    def backward(self, grad=None, retain_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad, adding it into ``leaf.grad``.

        ``self`` must have one element unless ``grad`` (dL/dself, same shape) is given.
        The graph's saved values are freed afterwards unless ``retain_graph=True``.
        """
        autograd.backward(self, grad, retain_graph)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor too (leaves always keep theirs)."""
        self._retains_grad = True
        return self

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.

        Returns a handle with ``.remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad, so no gradient will reach it")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _HookHandle(self._hooks, fn)

    def register_post_accumulate_grad_hook(self, fn):
        """Call ``fn(self)`` each time backward has finished adding into this leaf's ``.grad``.

        PyTorch's hook of the same name: the moment a parameter's gradient for this backward
        is complete, e.g. to start sending it to other processes while backward goes on
        (``minigrad.distributed.DataParallel(overlap=True)``). Leaves only. Returns a handle
        with ``.remove()``.
        """
        if self._ctx is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only a leaf tensor accumulates into .grad; "
                               "use register_hook on a tensor computed by an op")
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: the tensor does not require grad, so no "
                               "gradient will reach it")
        if self._hooks is None:
            self._hooks = []
        hook = autograd.PostAccumulateHook(fn)
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def requires_grad_(self, flag=True):
        if self._ctx is not None and not flag:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach() instead")
        self._set_requires_grad(flag)
        return self

    def _set_requires_grad(self, flag):
        if flag and not is_floating(self.data.dtype):
            raise TypeError(f"requires_grad=True needs a floating-point tensor, got dtype {self.data.dtype} "
                            "(integer and boolean tensors have no gradient)")
        self.requires_grad = bool(flag)

    def zero_grad(self):
        self.grad = None

    # ----------------------------------------------------------- arithmetic
    def __add__(self, o): return _ops.add(self, o)
    def __radd__(self, o): return _ops.add(o, self)
    def __sub__(self, o): return _ops.sub(self, o)
    def __rsub__(self, o): return _ops.sub(o, self)
    def __mul__(self, o): return _ops.mul(self, o)
    def __rmul__(self, o): return _ops.mul(o, self)
    def __truediv__(self, o): return _ops.div(self, o)
    def __rtruediv__(self, o): return _ops.div(o, self)
    def __pow__(self, o): return _ops.pow(self, o)
    def __rpow__(self, o): return _ops.pow(o, self)
    def __matmul__(self, o): return _ops.matmul(self, o)
    def __rmatmul__(self, o): return _ops.matmul(o, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)

    # In-place forms keep the tensor object (so ``p -= lr * p.grad`` updates a model's
    # parameter) but swap in a *new* array, never writing into the old one: an array
    # that some graph saved for backward stays intact.
    def _inplace(self, name, o):
        o_rg = isinstance(o, Tensor) and o.requires_grad
        if autograd.is_grad_enabled() and (self.requires_grad or o_rg):
            raise RuntimeError(f"in-place {name} on a tensor that requires grad while recording a graph; "
                               "wrap the update in `with minigrad.no_grad():` or use the out-of-place form")
        with autograd.no_grad():
            new = getattr(_ops, name)(self, o)
        if new.shape != self.shape:
            raise ValueError(f"in-place {name}: result shape {new.shape} differs from the tensor's {self.shape}")
        self.data = self._k().astype(new.data, self.dtype)
        return self

    def __iadd__(self, o): return self._inplace("add", o)
    def __isub__(self, o): return self._inplace("sub", o)
    def __imul__(self, o): return self._inplace("mul", o)
    def __itruediv__(self, o): return self._inplace("div", o)

    # ----------------------------------------------- comparisons (no gradient)
    def __eq__(self, o): return _ops.compare("eq", self, o)
    def __ne__(self, o): return _ops.compare("ne", self, o)
    def __lt__(self, o): return _ops.compare("lt", self, o)
    def __le__(self, o): return _ops.compare("le", self, o)
    def __gt__(self, o): return _ops.compare("gt", self, o)
    def __ge__(self, o): return _ops.compare("ge", self, o)
    __hash__ = object.__hash__  # tensors are hashed by identity (== is elementwise)

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.size} elements is ambiguous; "
                             "use .any() or .all()")
        return bool(self.item())

    def any(self):
        return bool(self.numpy().any())

    def all(self):
        return bool(self.numpy().all())

    # ------------------------------------------------------- elementwise math
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def abs(self): return _ops.abs(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def leaky_relu(self, negative_slope=0.01): return _ops.leaky_relu(self, negative_slope)
    def clip(self, min=None, max=None): return _ops.clip(self, min, max)
    clamp = clip

    # ------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _ops.min(self, axis, keepdims)
    def var(self, axis=None, ddof=0, keepdims=False): return _ops.var(self, axis, ddof, keepdims)
    def argmax(self, axis=None, keepdims=False): return _ops.argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _ops.argmin(self, axis, keepdims)

    # ----------------------------------------------------------- shape/movement
    def reshape(self, *shape): return _ops.reshape(self, *shape)
    view = reshape

    def flatten(self, start_axis=0, end_axis=-1): return _ops.flatten(self, start_axis, end_axis)
    def transpose(self, axis0=-2, axis1=-1): return _ops.transpose(self, axis0, axis1)
    def permute(self, *axes): return _ops.permute(self, *axes)

    @property
    def T(self):
        return _ops.permute(self, *reversed(range(self.ndim)))

    def expand(self, *shape): return _ops.expand(self, *shape)
    def broadcast_to(self, shape): return _ops.broadcast_to(self, shape)
    def squeeze(self, axis=None): return _ops.squeeze(self, axis)
    def unsqueeze(self, axis): return _ops.unsqueeze(self, axis)
    def flip(self, axis=None): return _ops.flip(self, axis)
    def split(self, split_size_or_sections, axis=0): return _ops.split(self, split_size_or_sections, axis)
    def chunk(self, chunks, axis=0): return _ops.chunk(self, chunks, axis)
    def __getitem__(self, index): return _ops.getitem(self, index)

    def __setitem__(self, index, value):
        """Assign into a copy of the data (saved arrays stay intact); no gradient flows."""
        if autograd.is_grad_enabled() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            raise RuntimeError("__setitem__ on a tensor that requires grad while recording a graph; "
                               "wrap it in `with minigrad.no_grad():` or build the tensor with where()/cat()")
        k = self._k()
        new = k.copy(self.data)
        k.setitem(new, _ops.indexing.raw_index(index), value.data if isinstance(value, Tensor) else value)
        self.data = new

    # ------------------------------------------------------------------ repr
    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", precision=4)
        extra = ""
        if self.dtype != np.float32 and self.dtype != np.int64 and self.dtype != np.bool_:
            extra += f", dtype={self.dtype}"
        if self._device != "cpu":
            extra += f", device={self._device!r}"
        if self._ctx is not None:
            extra += f", grad_fn=<{self._ctx.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"


class _HookHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


autograd._Tensor = Tensor
from . import ops as _ops  # noqa: E402  (ops import Tensor, so they come after it)
