"""Data-parallel training over MPI: one process per replica, gradients averaged each step.

    mpiexec -n 2 python train.py              # pip install mpi4py mpich

    import minigrad.distributed as dist
    rank, size = dist.init()
    model = dist.DataParallel(model)           # same start on every rank
    sampler = dist.DistributedSampler(len(x))  # this rank's share of each epoch
    ...
    loss.backward(); model.sync_gradients(); opt.step()

Files: ``world.py`` (init, rank, world_size, is_main, barrier), ``buckets.py`` (packing
gradients into flat buffers), ``data_parallel.py`` (DataParallel), ``sampler.py``
(DistributedSampler). mpi4py is imported only by ``init()``; see docs/distributed.md.
"""
from .buckets import Bucket, plan_buckets
from .data_parallel import DataParallel
from .sampler import DistributedSampler
from .world import barrier, comm, init, is_main, rank, world_size

__all__ = ["init", "comm", "rank", "world_size", "is_main", "barrier",
           "DataParallel", "DistributedSampler", "Bucket", "plan_buckets"]
