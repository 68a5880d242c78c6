"""Data-parallel training equals one process at the whole batch.

Run under MPI with two ranks (tests/test_distributed.py does)::

    mpiexec -n 2 python tests/distributed_equivalence.py OUT.npz

Every rank builds a GRU + Linear model from a *different* seed (DataParallel's broadcast
must make them identical), then trains STEPS steps of SGD with momentum, each rank on its
contiguous half of every global batch of B sequences, calling ``sync_gradients()``
between backward and the step. This runs three times (``RUNS``): with buckets
(``bucket_mb=25``: all parameters in one all-reduce), with ``bucket_mb=0`` (one
all-reduce per parameter) and with ``overlap=True`` (each started during backward).
Rank 0 writes the final parameters of both runs, rank 1's too (the replicas must agree)
and the number of Allreduce calls per run to OUT.npz. The test trains the same model
in one process at batch B (``train`` below, no MPI) and compares.

Everything is float64 on the numpy backend, so the two trainings agree to rounding.
"""
import sys

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn

B, T, I, H, STEPS = 8, 5, 3, 6, 4
SEED = 1
# (name, bucket_mb, overlap): all parameters in one all-reduce; one per parameter, started
# after backward; one per parameter, each started during backward as its gradient is complete
RUNS = (("bucketed", 25, False), ("per_param", 0, False), ("overlap", 0, True))


class CountingComm:
    """A communicator that counts its all-reduce calls and passes everything through."""

    def __init__(self, comm):
        self.comm, self.allreduces = comm, 0

    def Iallreduce(self, *args, **kwargs):
        self.allreduces += 1
        return self.comm.Iallreduce(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.comm, name)


def make_data():
    """STEPS global batches: x (STEPS, B, T, I), y (STEPS, B, 1), float64."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, B, T, I))
    return x, np.tanh(x.sum(axis=(2, 3)))[..., None]


def make_model(seed):
    mg.manual_seed(seed)
    return nn.Sequential(rnn.GRU(I, H, batch_first=True, return_sequences=False), nn.Linear(H, 1)).double()


def train(model, x, y, sync=None):
    """SGD with momentum over the batches (x[s], y[s]); ``sync()`` runs between backward and step."""
    opt = mg.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    loss_fn = nn.MSELoss()
    for xs, ys in zip(x, y):
        opt.zero_grad()
        loss_fn(model(mg.tensor(xs, dtype=mg.float64)), mg.tensor(ys, dtype=mg.float64)).backward()
        if sync is not None:
            sync()
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def main(out):
    import minigrad.distributed as dist
    rank, size = dist.init()
    x, y = make_data()
    share = B // size  # contiguous shard of every global batch, as a DistributedSampler without shuffling
    x, y = x[:, rank * share:(rank + 1) * share], y[:, rank * share:(rank + 1) * share]
    result = {}
    for name, bucket_mb, overlap in RUNS:
        comm = CountingComm(dist.comm())
        model = dist.DataParallel(make_model(SEED + rank), bucket_mb=bucket_mb, overlap=overlap, comm=comm)
        started = []  # buckets whose all-reduce backward had already started when sync was called

        def sync():
            started.append(model._next)
            model.sync_gradients()
        params = train(model, x, y, sync)
        gathered = dist.comm().gather(params, root=0)
        if rank == 0:
            for r, ps in enumerate(gathered):
                for i, p in enumerate(ps):
                    result[f"{name}_rank{r}_{i}"] = p
            result[f"{name}_allreduces"] = np.array(comm.allreduces)
            result[f"{name}_buckets"] = np.array(len(model.buckets))
            result[f"{name}_started_in_backward"] = np.array(started)
    if rank == 0:
        result["world_size"] = np.array(size)
        np.savez(out, **result)


if __name__ == "__main__":
    mg.set_backend("numpy")
    main(sys.argv[1])
