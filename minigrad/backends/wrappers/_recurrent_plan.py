"""How a fused recurrent kernel runs its sequence: one BLAS call per step, or split across cores.

Two ways to run a sequence, chosen per call by ``plan``:

* ``"blas"``: the loops of ``loops/recurrent.py`` (Cython's too), one BLAS call per step,
  which BLAS spreads over its own threads;
* ``"split"``: the loops of ``loops/recurrent_parallel.py`` (numba's threads) or their
  Cython twins (``cython/recurrent.pyx``, OpenMP threads), the hidden units split across
  threads, each core keeping its block of W_hh for the whole sequence, BLAS on one
  thread inside each share (``_blas_lib.single_threaded``). Only a loop set that can run
  threads says how many it has (``loops.threads``); the python backend always runs "blas".

``MINIGRAD_RNN_SPLIT`` = ``auto`` (default: "split" from ``SPLIT_MIN_WORK`` on, with two
threads or more, units in chunks of a multiple of ``SPLIT_ALIGN``), ``1`` (always where
there are two threads and two units, chunks of ceil(H / threads): for tests and
measurements) or ``0`` (never). The thread count is numba's (``NUMBA_NUM_THREADS``,
``numba.set_num_threads``) or OpenMP's (Cython), capped by ``OMP_NUM_THREADS`` where that
is set. docs/kernels.md has the measurements behind the threshold.
"""
import os

import numpy as np

from .. import _blas_lib

SPLIT_ENV = "MINIGRAD_RNN_SPLIT"
# Per-step multiply-adds, B * G*H * H, from which "split" measured faster than "blas".
SPLIT_MIN_WORK = 1 << 19
# Units per core come in multiples of this: one AVX-512 vector of float32.
SPLIT_ALIGN = 16

# GNU OpenMP, which runs numba's threads here and Cython's, does not survive fork(): a
# child that enters a parallel region waits forever for threads that stayed in the
# parent (Cython) or is terminated (numba). A forked child (multiprocessing's default on
# Linux) therefore runs every loop on its one thread.
_forked = False


def _in_forked_child():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_forked_child)


def loop_threads(loops):
    """Threads the loop set can run on: numba's or OpenMP's count, capped by OMP_NUM_THREADS; 1 without
    threads, and in a forked child."""
    count = getattr(loops, "threads", None)
    if count is None or _forked:
        return 1
    n = int(count())
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        n = min(n, int(omp))
    return n


def plan(L, dtype, batch, hidden, gates):
    """How a sequence of this size runs: {"path": "split" or "blas", "threads", "unit", "why"}.

    ``gates``: 1 (RNN), 3 (GRU) or 4 (LSTM). "unit" is the number of hidden units per core
    on the "split" path (0 on "blas")."""
    loops = L[np.dtype(dtype).char]
    threads = loop_threads(loops)
    setting = os.environ.get(SPLIT_ENV, "auto").strip().lower() or "auto"
    if setting not in ("auto", "0", "1"):
        raise ValueError(f"{SPLIT_ENV}={setting!r}: expected auto, 0 or 1")
    unit = -(-hidden // max(threads, 1))
    if setting != "1":  # forced, any size splits (tests reach the uneven and tiny splits this way)
        unit = -(-unit // SPLIT_ALIGN) * SPLIT_ALIGN
    work = batch * gates * hidden * hidden
    if not hasattr(loops, "lstm_forward_parts") or threads < 2:
        why = "no split loops" if threads >= 2 else ("one thread: a forked child (OpenMP's threads stay in the "
                                                      "parent)" if _forked else "one thread")
        return dict(path="blas", threads=threads, unit=0, why=why)
    if setting == "0":
        return dict(path="blas", threads=threads, unit=0, why=f"{SPLIT_ENV}=0")
    if unit >= hidden:
        return dict(path="blas", threads=threads, unit=0, why=f"{hidden} units make one chunk of {unit}")
    if setting == "auto" and work < SPLIT_MIN_WORK:
        return dict(path="blas", threads=threads, unit=0, why=f"{work} multiply-adds per step < {SPLIT_MIN_WORK}")
    why = f"{SPLIT_ENV}=1" if setting == "1" else f"{work} multiply-adds per step >= {SPLIT_MIN_WORK}"
    return dict(path="split", threads=threads, unit=unit, why=why)


def run_loop(L, dt, name, B, H, G, head, tail):
    """Call ``name``'s loop: ``name_parts(*head, unit, *tail)`` on the split path, else ``name_loop(*head, *tail)``."""
    loops = L[dt.char]
    unit = plan(L, dt, B, H, G)["unit"] if hasattr(loops, "threads") else 0
    if unit:  # each thread's share calls BLAS on that thread
        with _blas_lib.single_threaded():
            return getattr(loops, name + "_parts")(*head, unit, *tail)
    if not getattr(loops, "blas_on_caller", False):  # python, cython: BLAS keeps its own threads
        return getattr(loops, name + "_loop")(*head, *tail)
    # numba: BLAS runs on the calling thread either way. Its threads would otherwise spin
    # after each step's product while numba's threads wait for the next matmul, and the
    # two pools take turns on the same cores (an LSTM layer step at (8, 100, 32, 64): 8 ms
    # instead of 2).
    with _blas_lib.single_threaded():
        return getattr(loops, name + "_loop")(*head, *tail)
