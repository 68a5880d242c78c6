"""No rank waits forever: time limits on collectives, and a failed rank ends the job.

MPI's collectives block until every rank has joined. If one rank hangs (a deadlock, a
stuck read), dies, or simply makes a different call (one more batch than the others),
the rest would wait forever. Three guards, installed by ``init()`` when there is more
than one rank:

1. **Time limits.** Every collective is started non-blocking (``Iallreduce``,
   ``Ibcast``, ``Ibarrier``) and then polled by ``wait`` until it completes or the
   timeout (``init(timeout=)``) passes. On a timeout the waiting ranks compare notes
   over a separate communicator (``diagnose``): each tells the others which collective
   it is stuck in. A rank that does not answer within a short grace period is hung,
   busy or dead; one that answers from another collective made different calls. The
   ``DistributedTimeoutError`` names them.
2. **Uncaught exceptions abort the job.** One rank's error would otherwise leave the
   others blocked in their next collective; ``sys.excepthook`` prints it and calls
   ``MPI_Abort``, which ends every rank (as ``python -m mpi4py`` does).
3. **A killed rank.** MPI's launcher notices a rank that exits and ends the job. MPICH's
   ``mpiexec`` kills the others at once and prints the dead process's PID (match it to
   the rank with the table ``describe()`` gives, which ``fit`` prints at the start);
   under ``mpiexec -disable-auto-cleanup`` it first sends the others SIGUSR1, and the
   handler here prints which rank died before the launcher ends them.
"""
import os
import sys
import time
import traceback

from . import world

_TAG = 7177           # the watchdog's messages on the health communicator
_calls = 0            # collectives started by this rank: the same count on every rank, call by call
_SPIN_SECONDS = 1.0   # how long a wait polls without pause before it starts sleeping between polls


class DistributedError(RuntimeError):
    """Another rank failed, or the ranks stopped agreeing on what to do next."""


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective did not complete within the time limit; the message names the ranks."""


def next_call():
    """Number this rank's next collective (0, 1, 2, ...): ranks compare these when stuck."""
    global _calls
    _calls += 1
    return _calls - 1


def wait(request, what, call):
    """Poll ``request`` (an MPI request) until it completes; raise after the time limit.

    ``what`` describes the collective for messages ("all-reduce of gradient bucket 0");
    ``call`` is its number from ``next_call``. Polling instead of a blocking ``Wait`` is
    what makes the limit possible. For the first second the polls follow each other
    without pause, as MPI's own blocking wait does: MPI moves a non-blocking collective
    forward only inside MPI calls, so every pause delays the exchange for all ranks (a
    sleep of 1 ms between polls made a step's gradient all-reduce several times slower).
    A rank still waiting after a second is waiting for a slow peer (a compilation, a
    hang); from then on it sleeps up to 1 ms between polls, to leave the core to others.
    """
    if request.Test():
        return
    limit = world.timeout()
    start = time.monotonic()
    pause = 0.0
    while True:
        for _ in range(1000):  # reading the clock costs more than a poll
            if request.Test():
                return
        waited = time.monotonic() - start
        if waited > limit:
            raise DistributedTimeoutError(diagnose(what, call, waited))
        if waited > _SPIN_SECONDS:
            pause = min(max(pause * 2, 1e-5), 1e-3)  # 10 us, 20 us, ... 1 ms
            time.sleep(pause)


def diagnose(what, call, waited, grace=None):
    """Ask the other ranks where they are; return the message that names the missing ones.

    Every rank that times out runs this: it sends ``(call, what)`` to all the others on the
    health communicator (non-blocking sends, so a dead or hung peer cannot block it) and
    listens for their notes for ``grace`` seconds (10% of the timeout, 1-10 s). Ranks
    stuck in the same collective time out at about the same moment and hear each other.
    """
    MPI = world._import_mpi()
    health, me, size = world._health, world.rank(), world.world_size()
    if grace is None:
        grace = min(max(0.1 * world.timeout(), 1.0), 10.0)
    for q in range(size):
        if q != me:
            try:
                health.isend((call, what), dest=q, tag=_TAG)
            except MPI.Exception:  # a peer the MPI library already knows to be gone
                pass
    heard, end = {}, time.monotonic() + grace
    while len(heard) < size - 1 and time.monotonic() < end:
        for q in range(size):
            if q != me and q not in heard and health.iprobe(source=q, tag=_TAG):
                heard[q] = health.recv(source=q, tag=_TAG)
        time.sleep(0.01)
    silent = [q for q in range(size) if q != me and q not in heard]
    elsewhere = {q: note for q, note in heard.items() if tuple(note) != (call, what)}
    lines = [f"distributed: {world.where(me)} waited {waited:.1f} s in {what} (collective #{call}) and the "
             f"other ranks did not all arrive."]
    if silent:
        lines.append(f"  Not responding within {grace:.0f} s: " + ", ".join(world.where(q) for q in silent)
                     + ". Such a rank is hung, stuck in a long computation, or dead.")
    for q, (their_call, their_what) in sorted(elsewhere.items()):
        lines.append(f"  {world.where(q)} is waiting in {their_what} (collective #{their_call}) instead: the ranks "
                     "made different collective calls (a different number of batches or of epochs, or a step "
                     "that only some ranks take).")
    same = [q for q in heard if q not in elsewhere]
    if same:
        lines.append("  Waiting in the same collective: " + ", ".join(f"rank {q}" for q in sorted([me, *same])) + ".")
    lines.append(f"  The time limit is {world.timeout():.0f} s (minigrad.distributed.init(timeout=...) or "
                 "MINIGRAD_DIST_TIMEOUT); the job is aborted so that no rank waits forever.")
    return "\n".join(lines)


# ---------------------------------------------------------------- job-wide failure handling
_installed = False


def install():
    """Abort the job on an uncaught exception; report a failed rank on MPICH's SIGUSR1."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = sys.excepthook

    def abort_on_uncaught(kind, value, tb):
        # Print first: MPI_Abort ends this process, and the others with it. Often every rank
        # fails at once and the first Abort kills the others mid-print, so the report goes
        # out in one write (a pipe keeps a write of up to 4 KiB whole).
        header = f"[{world.where(world.rank())}] uncaught exception; aborting all ranks\n"
        if previous is sys.__excepthook__:
            sys.stderr.flush()
            os.write(2, (header + "".join(traceback.format_exception(kind, value, tb))).encode())
        else:
            sys.stderr.write(header)
            previous(kind, value, tb)
            sys.stderr.flush()
        world.comm().Abort(1)

    sys.excepthook = abort_on_uncaught
    import signal
    if signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL:
        signal.signal(signal.SIGUSR1, _on_failed_rank)


def dead_ranks():
    """The ranks on this machine whose process has exited (or is a zombie): what a failure
    notice cannot say by itself. Ranks on other machines cannot be checked from here."""
    import socket
    here, dead = socket.gethostname(), []
    for r, (host, pid) in enumerate(world._where):
        if host != here:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X"):
                dead.append(r)
        except OSError:
            dead.append(r)
    return dead


def _on_failed_rank(signum, frame):
    """MPICH's notice (SIGUSR1, under ``mpiexec -disable-auto-cleanup``) that a rank exited."""
    dead, deadline = dead_ranks(), time.monotonic() + 0.05
    while not dead and time.monotonic() < deadline:  # the notice can overtake the process's exit
        time.sleep(0.005)
        dead = dead_ranks()
    names = ", ".join(world.where(r) for r in dead) if dead else "a rank on another machine"
    msg = (f"distributed: {world.where(world.rank())}: the MPI launcher reports a failed process: {names} "
           "exited; the job is ending\n")
    os.write(2, msg.encode())
    raise DistributedError(msg.strip())

