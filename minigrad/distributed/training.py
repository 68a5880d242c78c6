"""What a training loop does differently on R ranks, gathered in one object.

``rnn.train.fit(distributed=True)``, ``rnn.TBPTT.fit`` and the Keras front end's ``fit``
make the same few changes to their step; ``DistributedRun`` holds them::

    run = DistributedRun(model)                 # DataParallel: same weights on every rank
    order = run.same_order(order)               # the epoch's shuffle: rank 0's, everywhere
    for idx in batches(order):                  # global batches of B examples
        mine = run.share(idx)                   # this rank's part, B/R of them
        loss = loss_fn(model(x[mine]), y[mine])
        (loss * run.loss_scale(len(mine), len(idx))).backward()
        run.sync_gradients()                    # now every rank holds the whole batch's gradient
        logs, n, stop = run.batch_means({"loss": loss.item()}, len(mine), ctrl_c)
        ...

**Why the loss is scaled.** The gradient of the whole batch's mean loss is the
weighted mean of the shards' mean-loss gradients, each weighted by its share
``n_r / B``. ``sync_gradients`` averages (divides the sum by R), so each rank scales its
loss by ``n_r R / B`` first: 1 when the shards are equal, and exact when the last
batch of an epoch does not divide evenly (a rank may even get none of it, and then
contributes zeros). So R ranks train exactly like one process at batch B, whatever B.

**Why the order is broadcast.** Every rank must cut the epoch into the same global
batches; drawing the permutation on rank 0 and sending it makes that true whatever the
ranks' random generators hold (their dropout masks, say, may differ).
"""
import numpy as np

from . import collectives, world
from .data_parallel import DataParallel


class DistributedRun:
    """The distributed side of one training run (see the module docstring).

    model: the model, or a ``DataParallel`` already wrapping it; bucket_mb, overlap: given
    to ``DataParallel`` when it wraps the model here.
    """

    def __init__(self, model, bucket_mb=25, overlap=False):
        self.rank, self.size = world.init()
        self.model = model if isinstance(model, DataParallel) else DataParallel(model, bucket_mb, overlap=overlap)
        self.is_main = self.rank == 0

    def same_order(self, order):
        """Rank 0's ``order`` (the epoch's sample order) on every rank."""
        return collectives.broadcast_object(np.asarray(order), what="broadcast of the epoch's sample order")

    def share(self, idx):
        """This rank's part of a global batch ``idx``: every R-th element from the rank's own."""
        return idx[self.rank::self.size]

    def loss_scale(self, mine, total):
        """The factor for this rank's mean loss over ``mine`` of the batch's ``total`` examples."""
        return mine * self.size / total

    def sync_gradients(self):
        self.model.sync_gradients()

    def batch_means(self, values, mine, stop=False):
        """Combine per-rank means into the global batch's.

        values: {name: mean over this rank's ``mine`` examples} (the same names on every
        rank; zeros where ``mine`` is 0). Returns ``(means, total, stop)``: the means over
        all ranks' examples, their number, and whether any rank asked to stop (Ctrl-C).
        """
        names = sorted(values)
        summed = collectives.sum_over_ranks([values[k] * mine if mine else 0.0 for k in names] + [mine, float(stop)],
                                            "sum of the batch's loss and metrics")
        total = summed[-2]
        means = {k: float(summed[i] / total) if total else 0.0 for i, k in enumerate(names)}
        return means, int(total), bool(summed[-1])

    def evaluate_share(self, n, names, evaluate):
        """Score a data set of ``n`` examples together: ``evaluate(indices)`` returns this
        rank's means {name: value} over its share (every R-th example); the result is the
        means over all ``n``. A rank whose share is empty adds nothing (``names`` are the keys)."""
        mine = self.share(np.arange(n))
        values = evaluate(mine) if len(mine) else {k: 0.0 for k in names}
        return self.batch_means(values, len(mine))[0]

    def any(self, flag, what="agreement on stopping"):
        """True on every rank if ``flag`` is True on any of them."""
        return bool(collectives.sum_over_ranks([float(bool(flag))], what)[0])

    def gather(self, obj):
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank (for checkpoints: what differs by rank)."""
        return collectives.allgather_object(obj, "all-gather of the ranks' states for a checkpoint")

    def describe(self):
        return f"data-parallel over {world.describe()}"
