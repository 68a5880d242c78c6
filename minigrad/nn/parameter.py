"""Parameter: a tensor that a Module trains.

A Parameter is an ordinary Tensor with two promises: it requires grad unless told
otherwise, and it is always a leaf (it owns its data; no op made it). Assigning one
to a Module attribute registers it, which is how ``model.parameters()`` finds it.
"""
from ..tensor import Tensor


class Parameter(Tensor):
    """A trainable leaf tensor. ``Parameter(data)`` copies ``data`` (array, list or Tensor).

    A Tensor keeps its dtype and device; other data follows ``minigrad.tensor``'s rules
    (float data becomes the default float dtype unless ``dtype`` is given).
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None):
        device = "cpu"
        if isinstance(data, Tensor):
            dtype = dtype if dtype is not None else data.dtype
            device = data.device
            # Copy on the tensor's own device rather than through the host.
            k = data._k()
            arr = k.astype(data.data, dtype)
            self.data = k.copy(arr) if arr is data.data else arr  # astype returns its input when nothing changes
            self._device = device
            self._init(requires_grad)
        else:
            super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
