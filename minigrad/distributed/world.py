"""The process group: which process am I, and how many are there?

Data-parallel training runs the same script in several processes, started by MPI's
launcher::

    mpiexec -n 4 python train.py

Every process (a *rank*, numbered 0 .. world_size-1) holds a full copy of the model and
trains on its own share of each batch; they talk through ``MPI.COMM_WORLD``, the
communicator that contains all of them. A script started without ``mpiexec`` is a world
of one process, rank 0, and everything here still works.

mpi4py is imported only when ``init()`` runs, so ``import minigrad.distributed`` works
on a machine without MPI; ``init()`` then raises an ImportError that says what to install.

In a world of more than one rank, ``init()`` also makes failures end the whole job
instead of leaving the other ranks waiting forever (``watchdog.py``): an exception that
nothing catches aborts every rank (``MPI_Abort``), and every wait on another rank has a
time limit (``timeout``, 30 minutes by default).
"""
import os
import socket

INSTALL_HINT = ("minigrad.distributed needs mpi4py and an MPI library: `pip install mpi4py mpich` "
                "(or install your system's OpenMPI, e.g. `apt install libopenmpi-dev`, then `pip install mpi4py`)")

DEFAULT_TIMEOUT = 1800.0  # seconds; PyTorch's process groups wait 30 minutes too

_comm = None      # the communicator every function here uses, once init() has run
_health = None    # a duplicate of it for the watchdog's messages, so they never mix with training's
_where = None     # [(host, pid)] of every rank, gathered at init(): error messages name them
_timeout = None   # seconds any one wait on the other ranks may take


def _import_mpi():
    """``mpi4py.MPI``, or an ImportError naming the packages to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT}; importing mpi4py failed with: {e}") from e
    return MPI


def _timeout_from_env():
    raw = os.environ.get("MINIGRAD_DIST_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"MINIGRAD_DIST_TIMEOUT must be a number of seconds > 0, got {raw!r}")
    return value


def init(timeout=None):
    """Join the process group (``MPI.COMM_WORLD``) and return ``(rank, world_size)``.

    Idempotent: later calls return the same pair (and may change the timeout). Importing
    ``mpi4py.MPI`` initialises MPI (``MPI_Init``) and registers ``MPI_Finalize`` at
    interpreter exit, so there is nothing to tear down by hand.

    Args:
        timeout: how many seconds one collective call (an all-reduce, a broadcast, a
            barrier) may wait for the other ranks before ``DistributedTimeoutError``
            names the ranks that did not arrive. Default: ``$MINIGRAD_DIST_TIMEOUT``,
            else 1800. It must cover the slowest step of any rank, including the first
            step's kernel compilation.

    Raises:
        ImportError: mpi4py (or the MPI library under it) is not installed; the message
            gives the install line.
    """
    global _comm, _health, _where, _timeout
    if timeout is not None:
        set_timeout(timeout)
    elif _timeout is None:
        _timeout = _timeout_from_env()
    if _comm is None:
        MPI = _import_mpi()
        comm = MPI.COMM_WORLD
        # Collective set-up, done once by every rank in the same order: where each rank runs
        # (for messages), and the watchdog's own channel.
        _where = comm.allgather((socket.gethostname(), os.getpid()))
        _health = comm.Dup()
        _comm = comm
        if comm.Get_size() > 1:
            from . import watchdog
            watchdog.install()
    return _comm.Get_rank(), _comm.Get_size()


def set_timeout(seconds):
    """Change how long a collective may wait for the other ranks (seconds > 0)."""
    global _timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"distributed: timeout must be a number of seconds > 0, got {seconds!r}")
    _timeout = float(seconds)


def timeout():
    """Seconds a collective may wait for the other ranks (see ``init``)."""
    init()
    return _timeout


def comm():
    """The communicator of the process group (``MPI.COMM_WORLD``), after ``init()``."""
    init()
    return _comm


def rank():
    """This process's number, 0 .. world_size()-1 (0 without mpiexec). Calls ``init()`` if needed."""
    return init()[0]


def world_size():
    """How many processes train together (1 without mpiexec). Calls ``init()`` if needed."""
    return init()[1]


def is_main():
    """True on rank 0: the one process that should print, plot and save checkpoints."""
    return rank() == 0


def where(r):
    """``"rank r (pid P on HOST)"``: how messages name a rank, so a launcher's report of a
    dead PID can be matched to it."""
    init()
    host, pid = _where[r]
    return f"rank {r} (pid {pid} on {host})"


def describe():
    """One line naming every rank's process: ``"2 ranks: rank 0 (pid ...), rank 1 (...)"``."""
    size = world_size()
    return f"{size} rank{'s' if size > 1 else ''}: " + ", ".join(where(r) for r in range(size))


def barrier():
    """Wait until every rank has reached this call (e.g. before reading a file rank 0 wrote).

    Bounded by the timeout, like every collective here."""
    from . import collectives
    collectives.barrier()

