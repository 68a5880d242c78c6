"""Moving a tensor between devices (CPU <-> a device backend such as the planned CUDA one), differentiably."""
from .. import backends
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor


class ToDevice(Function):
    """out = x copied to another device;  dx = g copied back."""

    def backward(self, g):
        src_k, dst_k = self.saved
        return src_k.asarray(dst_k.to_numpy(g), g.dtype)


def to_device(x, device):
    dst_k = backends.for_device(device)  # raises a clear error if the device is unavailable
    src_k = x._k()
    out = Tensor._wrap(dst_k.asarray(src_k.to_numpy(x.data), x.dtype), False, device)
    if is_grad_enabled() and x.requires_grad:
        fn = ToDevice()
        fn.k, fn.parents, fn.needs_input_grad, fn.saved = src_k, (x,), (True,), (src_k, dst_k)
        out.requires_grad, out._ctx = True, fn
    return out
