"""DataParallel: one model replica per process, gradients averaged after every backward.

Each of the R ranks holds the same parameters, runs forward and backward on its own
shard of the global batch, and then all ranks sum their gradients (MPI ``Allreduce``)
and divide by R. For a loss that is a mean over the batch, with equal shards of size
B/R, that average is exactly the gradient of the whole batch::

    L = (1/B) sum_{i<B} l_i = (1/R) sum_r L_r,   L_r = (R/B) sum_{i in shard r} l_i
    => dL/dw = (1/R) sum_r dL_r/dw

so every rank then takes the same optimizer step from the same parameters and the
replicas stay identical -- the same training as one process at batch B, R times the
compute. (See docs/distributed.md.)

    import minigrad.distributed as dist
    model = dist.DataParallel(model)         # rank 0's parameters copied to every rank
    loss = loss_fn(model(x_shard), y_shard)
    loss.backward()
    model.sync_gradients()                   # average .grad over ranks
    opt.step()

Communication can overlap the rest of backward (``overlap=True``): each parameter's
gradient is complete as soon as backward has accumulated it (a post-accumulate hook
tells), and the moment the last gradient of a bucket is complete the bucket's
``Iallreduce`` starts while backward goes on to earlier layers. ``sync_gradients()``
then only waits. Buckets start strictly in order on every rank, which MPI requires of
collectives; a bucket that backward did not complete (a parameter this rank's batch did
not use) starts in ``sync_gradients()``.
"""
import contextlib

import numpy as np

from ..nn import Module
from . import collectives, world
from .buckets import plan_buckets


class DataParallel(Module):
    """Wrap ``module`` for data-parallel training over MPI (``mpiexec -n R python ...``).

    Args:
        module: the model (an ``nn.Module``); ``forward`` passes straight through, and
            ``parameters()``, ``named_parameters()``, ``buffers()``, ``state_dict()`` and
            ``load_state_dict()`` are the inner module's (same names, no prefix), so a
            checkpoint loads into the bare model.
        bucket_mb: gradients are all-reduced in flat buffers of about this many MiB
            (``minigrad.distributed.buckets``): a few large calls per step. 0 reduces
            each parameter with a call of its own.
        average: divide the summed gradients by the world size (the gradient of the mean
            loss over the global batch); False leaves the sum.
        overlap: start each bucket's all-reduce during backward, as soon as its gradients
            are complete (see the module docstring). Then accumulating gradients over
            several backward calls before one ``sync_gradients()`` needs ``no_sync()``
            around all but the last.
        comm: the MPI communicator to use; by default ``MPI.COMM_WORLD`` (``init()``).

    All ranks must build the same model (same parameter names, shapes and dtypes, in the
    same order); construction checks that and raises ValueError otherwise, rather than
    letting mismatched all-reduces hang or mix unrelated numbers.

    MPI here moves host (numpy) buffers: gradients and parameters of a model on the CUDA
    backend are copied to the host, reduced there and copied back to the device.
    """

    def __init__(self, module, bucket_mb=25, average=True, overlap=False, comm=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be an nn.Module, got {type(module).__name__}")
        self.module = module
        self.comm = world.comm() if comm is None else comm
        self.average = bool(average)
        self.buckets = plan_buckets(list(module.parameters()), bucket_mb)
        self.bucket_mb = bucket_mb
        self.overlap = bool(overlap)
        self._check_same_model()
        self.broadcast_parameters()
        # which bucket each parameter's gradient goes into, and the step's progress
        self._bucket_of = {id(p): b for b, bucket in enumerate(self.buckets) for p in bucket.params}
        self._syncing = True
        self._reset()
        if self.overlap and self.world_size > 1:
            for bucket in self.buckets:
                for p in bucket.params:
                    p.register_post_accumulate_grad_hook(self._gradient_ready)

    # ----------------------------------------------------- the inner module's view
    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self.module.named_parameters(prefix, recurse, remove_duplicate)

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self.module.named_buffers(prefix, recurse, remove_duplicate)

    def state_dict(self, prefix=""):
        return self.module.state_dict(prefix)

    def load_state_dict(self, state, strict=True):
        return self.module.load_state_dict(state, strict)

    @property
    def rank(self):
        return self.comm.Get_rank()

    @property
    def world_size(self):
        return self.comm.Get_size()

    # ------------------------------------------------------------ communication
    def _check_same_model(self):
        layout = [(name, p.shape, str(p.dtype), p.requires_grad) for name, p in self.module.named_parameters()]
        layouts = collectives.allgather_object(layout, "DataParallel's check that every rank built the same model",
                                               self.comm)
        for r, other in enumerate(layouts):
            if other != layout:
                diff = next((f"{a} vs {b}" for a, b in zip(layout, other) if a != b),
                            f"{len(layout)} vs {len(other)} parameters")
                raise ValueError(f"DataParallel: rank {self.rank} and rank {r} hold different models "
                                 f"(first difference: {diff}); every rank must build the same model")

    def broadcast_parameters(self, root=0):
        """Copy rank ``root``'s parameters and buffers to every rank (one ``Bcast`` each).

        Called at construction, so every replica starts from the same point whatever each
        rank's random initialisation drew.
        """
        if self.world_size == 1:
            return
        for t in [*self.module.parameters(), *(b for b in self.module.buffers() if b is not None)]:
            host = np.array(t._k().to_numpy(t.data), order="C")  # a contiguous host copy MPI can write into
            collectives.broadcast_(host, root, f"broadcast of the initial weights (shape {t.shape})", self.comm)
            # A new array rather than a write into the old one, as the optimizers do.
            t.data = t._k().asarray(host, t.dtype)

    def _reset(self):
        """Forget the step's progress: no bucket started, no gradient seen."""
        self._pending = [None] * len(self.buckets)  # (Pending, buffer) once a bucket's all-reduce started
        self._ready = [set() for _ in self.buckets]
        self._next = 0  # buckets start in order: the next one to start

    def _start(self, b):
        buf = self.buckets[b].pack()
        what = f"all-reduce of gradient bucket {b} ({self.buckets[b].nbytes / 2 ** 20:.2f} MiB)"
        self._pending[b] = (collectives.start_allreduce(buf, what, self.comm), buf)

    def _gradient_ready(self, p):
        """Post-accumulate hook (``overlap=True``): start every bucket that is now complete, in order."""
        if not self._syncing:
            return
        b = self._bucket_of[id(p)]
        if id(p) in self._ready[b]:
            raise RuntimeError("DataParallel: a second backward reached a parameter before sync_gradients(); with "
                               "overlap=True, accumulate gradients over several backward calls inside "
                               "`with model.no_sync():`, all but the last")
        self._ready[b].add(id(p))
        while self._next < len(self.buckets) and len(self._ready[self._next]) == len(self.buckets[self._next].params):
            self._start(self._next)
            self._next += 1
        for started in self._pending[:self._next]:
            started[0].test()  # MPI makes progress on a non-blocking collective only inside MPI calls

    @contextlib.contextmanager
    def no_sync(self):
        """Backward calls inside do not start any all-reduce (``overlap=True``): gradients
        accumulate locally, and the next backward outside, then ``sync_gradients()``,
        averages the sum. (Without overlap nothing starts before ``sync_gradients()`` anyway.)"""
        previous, self._syncing = self._syncing, False
        try:
            yield
        finally:
            self._syncing = previous

    def sync_gradients(self):
        """All-reduce every parameter's ``.grad`` across ranks, bucket by bucket (sum, then / R).

        Call it after ``loss.backward()`` and before ``optimizer.step()``, on every rank.
        A parameter without a gradient on this rank contributes zeros; afterwards every
        parameter that requires grad has a ``.grad`` (the same on all ranks). Every wait
        is bounded by the time limit of ``minigrad.distributed.init``.
        """
        try:
            for b in range(self._next, len(self.buckets)):  # all of them, unless backward started some
                self._start(b)
            R = self.world_size
            for bucket, (pending, buf) in zip(self.buckets, self._pending):
                pending.wait()
                if self.average and R > 1:
                    buf /= R
                bucket.unpack(buf)
        finally:
            self._reset()

    def extra_repr(self):
        return (f"world_size={self.world_size}, buckets={len(self.buckets)}, bucket_mb={self.bucket_mb}, "
                f"average={self.average}, overlap={self.overlap}")
