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
"""
import numpy as np

from ..nn import Module
from . import world
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
        comm: the MPI communicator to use; by default ``MPI.COMM_WORLD`` (``init()``).

    All ranks must build the same model (same parameter names, shapes and dtypes, in the
    same order); construction checks that and raises ValueError otherwise, rather than
    letting mismatched all-reduces hang or mix unrelated numbers.

    MPI here moves host (numpy) buffers: gradients and parameters of a model on the CUDA
    backend are copied to the host, reduced there and copied back to the device.
    """

    def __init__(self, module, bucket_mb=25, average=True, comm=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be an nn.Module, got {type(module).__name__}")
        self.module = module
        self.comm = world.comm() if comm is None else comm
        self.average = bool(average)
        self.buckets = plan_buckets(list(module.parameters()), bucket_mb)
        self.bucket_mb = bucket_mb
        self._check_same_model()
        self.broadcast_parameters()

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
        layouts = self.comm.allgather(layout)
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
            self.comm.Bcast(host, root=root)
            # A new array rather than a write into the old one, as the optimizers do.
            t.data = t._k().asarray(host, t.dtype)

    def sync_gradients(self):
        """All-reduce every parameter's ``.grad`` across ranks, bucket by bucket (sum, then / R).

        Call it after ``loss.backward()`` and before ``optimizer.step()``, on every rank.
        A parameter without a gradient on this rank contributes zeros; afterwards every
        parameter that requires grad has a ``.grad`` (the same on all ranks).
        """
        MPI = world._import_mpi()
        R = self.world_size
        for bucket in self.buckets:
            buf = bucket.pack()
            self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            if self.average and R > 1:
                buf /= R
            bucket.unpack(buf)

    def extra_repr(self):
        return (f"world_size={self.world_size}, buckets={len(self.buckets)}, bucket_mb={self.bucket_mb}, "
                f"average={self.average}")
