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
"""

INSTALL_HINT = ("minigrad.distributed needs mpi4py and an MPI library: `pip install mpi4py mpich` "
                "(or install your system's OpenMPI, e.g. `apt install libopenmpi-dev`, then `pip install mpi4py`)")

_comm = None  # the communicator every function here uses, once init() has run


def _import_mpi():
    """``mpi4py.MPI``, or an ImportError naming the packages to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT}; importing mpi4py failed with: {e}") from e
    return MPI


def init():
    """Join the process group (``MPI.COMM_WORLD``) and return ``(rank, world_size)``.

    Idempotent: later calls return the same pair. Importing ``mpi4py.MPI`` initialises MPI
    (``MPI_Init``) and registers ``MPI_Finalize`` at interpreter exit, so there is nothing
    to tear down by hand.

    Raises:
        ImportError: mpi4py (or the MPI library under it) is not installed; the message
            gives the install line.
    """
    global _comm
    if _comm is None:
        _comm = _import_mpi().COMM_WORLD
    return _comm.Get_rank(), _comm.Get_size()


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


def barrier():
    """Wait until every rank has reached this call (e.g. before reading a file rank 0 wrote)."""
    comm().Barrier()
