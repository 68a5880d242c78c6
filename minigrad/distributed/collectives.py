"""The collective operations training needs, each bounded by the watchdog's time limit.

    start_allreduce(buf, what)  -> Pending; .wait()   sum a float buffer over ranks, in place
    allreduce_(buf, what)                             the same, waiting at once
    broadcast_(buf, root)                             rank root's buffer to every rank, in place
    sum_over_ranks(values)                            a few Python numbers summed over ranks
    broadcast_object(obj, root) / allgather_object(obj)   small Python objects (pickled)
    barrier()

Buffers are contiguous numpy arrays: MPI reads and writes host memory (a CUDA tensor's
data is copied to the host first; see ``buckets.py``). Every function takes the
communicator (default: ``world.comm()``) and numbers its call (``watchdog.next_call``), so
that stuck ranks can tell each other where they are. In a world of one rank nothing is
sent and nothing waits.
"""
import numpy as np

from . import watchdog, world


class Pending:
    """A started collective: ``wait()`` blocks (at most the time limit) until it is done."""

    __slots__ = ("request", "what", "call", "done")

    def __init__(self, request, what, call):
        self.request, self.what, self.call, self.done = request, what, call, request is None

    def test(self):
        """True once the collective has completed (and drives MPI's progress meanwhile)."""
        if not self.done:
            self.done = bool(self.request.Test())
        return self.done

    def wait(self):
        if not self.done:
            watchdog.wait(self.request, self.what, self.call)
            self.done = True


def _comm(comm):
    return world.comm() if comm is None else comm


def start_allreduce(buf, what="all-reduce", comm=None):
    """Start summing ``buf`` (a contiguous numpy array) over all ranks, in place; returns Pending."""
    comm = _comm(comm)
    if comm.Get_size() == 1:
        return Pending(None, what, None)
    MPI = world._import_mpi()
    call = watchdog.next_call()
    return Pending(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM), what, call)


def allreduce_(buf, what="all-reduce", comm=None):
    """Sum ``buf`` over all ranks in place (every rank ends with the same sum)."""
    start_allreduce(buf, what, comm).wait()
    return buf


def broadcast_(buf, root=0, what="broadcast", comm=None):
    """Overwrite ``buf`` on every rank with rank ``root``'s (contiguous numpy array)."""
    comm = _comm(comm)
    if comm.Get_size() > 1:
        call = watchdog.next_call()
        watchdog.wait(comm.Ibcast(buf, root=root), what, call)
    return buf


def sum_over_ranks(values, what="sum of training statistics", comm=None):
    """The element-wise sum over ranks of a few numbers (a float64 array back)."""
    return allreduce_(np.array(values, dtype=np.float64), what, comm)


def barrier(what="barrier", comm=None):
    """Wait until every rank has reached a barrier (bounded by the time limit)."""
    comm = _comm(comm)
    if comm.Get_size() > 1:
        call = watchdog.next_call()
        watchdog.wait(comm.Ibarrier(), what, call)


def broadcast_object(obj, root=0, what="broadcast of a Python object", comm=None):
    """Rank ``root``'s ``obj`` on every rank (pickled). A bounded barrier first makes sure
    every rank is there, since the pickled ``bcast`` itself cannot be polled."""
    comm = _comm(comm)
    if comm.Get_size() == 1:
        return obj
    barrier(what, comm)
    return comm.bcast(obj, root=root)


def allgather_object(obj, what="all-gather of a Python object", comm=None):
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (pickled), after a bounded barrier."""
    comm = _comm(comm)
    if comm.Get_size() == 1:
        return [obj]
    barrier(what, comm)
    return comm.allgather(obj)
