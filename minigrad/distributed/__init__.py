"""Data-parallel training over MPI: one process per replica, gradients averaged each step.

    mpiexec -n 2 python train.py              # pip install mpi4py mpich

    import minigrad.distributed as dist
    rank, size = dist.init()
    model = dist.DataParallel(model)           # same start on every rank
    sampler = dist.DistributedSampler(len(x))  # this rank's share of each epoch
    ...
    loss.backward(); model.sync_gradients(); opt.step()

Files: ``world.py`` (init, rank, world_size, is_main, barrier), ``collectives.py`` (the
all-reduces, broadcasts and barriers, each with a time limit), ``watchdog.py`` (the time
limits, and what happens when a rank hangs or dies), ``buckets.py`` (packing gradients
into flat buffers), ``data_parallel.py`` (DataParallel), ``sampler.py``
(DistributedSampler), ``training.py`` (what ``fit(distributed=True)`` does each step).
mpi4py is imported only by ``init()``; see docs/distributed.md.
"""
from .buckets import Bucket, plan_buckets
from .data_parallel import DataParallel
from .sampler import DistributedSampler
from .watchdog import DistributedError, DistributedTimeoutError
from .world import barrier, comm, describe, init, is_main, rank, set_timeout, timeout, world_size

__all__ = ["init", "comm", "rank", "world_size", "is_main", "barrier", "describe", "set_timeout", "timeout",
           "DataParallel", "DistributedSampler", "Bucket", "plan_buckets",
           "DistributedError", "DistributedTimeoutError"]
