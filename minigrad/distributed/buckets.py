"""Gradient buckets: many small gradients packed into a few large flat buffers.

An all-reduce costs a fixed latency per call (a round of messages between the ranks)
plus a time per byte. A GRU's parameters are a handful of arrays, a deep model's
hundreds; reducing them one call each pays the latency hundreds of times. Packing them
into flat host buffers of about ``bucket_mb`` MiB each makes a step a few large calls::

    bucket 0: [ g_k | g_k-1 | ... ]   ~bucket_mb MiB, one dtype
    bucket 1: [ ... | g_1 | g_0 ]

Parameters are assigned in reverse registration order: backward reaches the last layer
first, so that is the order in which gradients become ready (what an all-reduce that
overlaps backward would need). A bucket holds one dtype only (MPI reduces one element
type per call). ``bucket_mb=0`` gives every parameter its own bucket: one call each.
"""
import numpy as np


class Bucket:
    """Parameters whose gradients travel together in one flat buffer.

    Attributes:
        params: the parameters, in buffer order.
        offsets: where each parameter's gradient starts in the buffer (elements).
        size: the buffer's length in elements; dtype: its numpy dtype.
    """

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.params, self.offsets, self.size = [], [], 0

    def add(self, p):
        self.params.append(p)
        self.offsets.append(self.size)
        self.size += p.size

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def pack(self):
        """A new flat host buffer (size,) holding every gradient (zeros where ``p.grad`` is None).

        A gradient on the GPU is copied to the host here (``to_numpy``).
        """
        buf = np.zeros(self.size, self.dtype)
        for p, off in zip(self.params, self.offsets):
            if p.grad is not None:
                buf[off:off + p.size] = p.grad._k().to_numpy(p.grad.data).reshape(-1)
        return buf

    def unpack(self, buf):
        """Give each parameter its slice of ``buf`` as ``.grad``, copied onto the parameter's device.

        Every parameter gets a gradient, also one that had none on this rank: another rank
        may have had one, and all ranks must take the same optimizer step.
        """
        from ..tensor import Tensor
        for p, off in zip(self.params, self.offsets):
            g = p._k().asarray(buf[off:off + p.size].reshape(p.shape), self.dtype)  # a copy: .grad owns its array
            p.grad = Tensor._wrap(g, False, p.device)


def plan_buckets(params, bucket_mb):
    """Split ``params`` (those that require grad) into Buckets of about ``bucket_mb`` MiB.

    A parameter larger than the cap gets a bucket to itself; ``bucket_mb=0`` gives every
    parameter its own. Returns the buckets in the order gradients become ready (reverse).
    """
    if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) or not bucket_mb >= 0:
        raise ValueError(f"plan_buckets: bucket_mb must be a number >= 0 (0: one bucket per parameter), "
                         f"got {bucket_mb!r}")
    cap = bucket_mb * 2 ** 20
    buckets, current = [], None
    for p in reversed([p for p in params if p.requires_grad]):
        full = current is not None and (current.nbytes + p.size * p.dtype.itemsize > cap and current.size > 0)
        if current is None or current.dtype != p.dtype or full:
            current = Bucket(p.dtype)
            buckets.append(current)
        current.add(p)
    return buckets
