"""DistributedSampler: each rank's share of the sample indices, as in PyTorch.

Data parallelism needs every rank to see a different part of each epoch, and all ranks
together to see it all. The sampler draws one permutation of ``range(n)`` from
``(seed, epoch)`` -- the same on every rank, with no communication -- and gives rank r
the elements r, r + R, r + 2R, ... (R = world size). For the shares to be equally long
(every rank must run the same number of steps, or the gradient all-reduce of the longest
one waits forever), the permutation is first padded by repeating its start, or, with
``drop_last=True``, its tail is dropped. This is ``torch.utils.data.DistributedSampler``'s
behaviour, index for index apart from the random generator (numpy's PCG64 here).

    sampler = DistributedSampler(len(x))
    for epoch in range(epochs):
        sampler.set_epoch(epoch)          # a new permutation each epoch
        idx = sampler.indices()           # this rank's indices, (len(sampler),) int64
"""
import math

import numpy as np


class DistributedSampler:
    """This rank's shard of a per-epoch permutation of ``range(n)``.

    Args:
        n: number of samples (>= 0).
        shuffle: draw a permutation from ``(seed, epoch)``; False keeps ``0 .. n-1``.
        seed: the seed shared by all ranks.
        drop_last: drop the tail so that it divides evenly, instead of padding with
            repeated indices.
        rank, world_size: this process's place; by default from ``minigrad.distributed``
            (which needs mpi4py). Give both to use the sampler without MPI.

    ``len(sampler)`` is ``ceil(n / R)`` (padding) or ``floor(n / R)`` (drop_last), the
    same on every rank.
    """

    def __init__(self, n, shuffle=True, seed=0, drop_last=False, rank=None, world_size=None):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"DistributedSampler: n must be an integer >= 0, got {n!r}")
        if (rank is None) != (world_size is None):
            raise ValueError(f"DistributedSampler: give both rank and world_size or neither, "
                             f"got rank={rank!r}, world_size={world_size!r}")
        if rank is None:
            from . import world
            rank, world_size = world.init()
        if not isinstance(world_size, (int, np.integer)) or world_size < 1:
            raise ValueError(f"DistributedSampler: world_size must be an integer >= 1, got {world_size!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < world_size:
            raise ValueError(f"DistributedSampler: rank must be in [0, {world_size}), got {rank!r}")
        self.n, self.shuffle, self.seed, self.drop_last = int(n), bool(shuffle), int(seed), bool(drop_last)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        self.num_samples = self.n // self.world_size if self.drop_last else math.ceil(self.n / self.world_size)
        self.total_size = self.num_samples * self.world_size

    def set_epoch(self, epoch):
        """Use the permutation of ``epoch``; call it at the start of every epoch on every rank."""
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch: an int64 array of length ``len(self)``."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.total_size > self.n:  # pad by repeating the start (more than once if n < world_size)
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return order[self.rank:self.total_size:self.world_size].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(n={self.n}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last}, rank={self.rank}, world_size={self.world_size})")
