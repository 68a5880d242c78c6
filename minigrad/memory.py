"""Keep freed memory for the next training step (glibc's malloc, Linux).

A training step allocates the same large arrays every time: an LSTM layer at
B=32, T=100, H=128 makes a 6.5 MB (T, B, 4H) gate array, its gradient, the input
projection, the states... and frees them all when the step ends. glibc's malloc
gives that memory back to the operating system as soon as it is free at the top of
the heap ("trimming"), so the next step gets fresh pages, and the kernel must fault
in and zero-fill every 4 KiB page on its first touch. Measured on the 2-core machine
of benchmarks/RESULTS.md: ~2,500 page faults per LSTM training step at that size,
costing 25-28 ms per step instead of 17.5-19 ms, about a third of the time in the
kernel rather than in minigrad.

The fix is two malloc settings. ``M_TOP_PAD`` makes malloc keep that many bytes at the
top of the heap when it trims, so a step's arrays land on pages the previous step
already touched. It is what ``MALLOC_TOP_PAD_=...`` in the environment does, set from
Python with ``mallopt``. But setting it also freezes glibc's mmap threshold where it
stands (normally the threshold follows the largest block freed so far, up to 32 MiB),
and every array above that threshold is then its own ``mmap``: fresh pages, every
step. The char-LSTM's 13 MB gate arrays measured ~2,100 faults and 9.5 ms of system time
per training step that way. So ``M_MMAP_THRESHOLD`` is set to glibc's largest value,
32 MiB, with it: arrays up to that size come from the heap too. minigrad applies 64 MiB
of padding when it is imported; the cost is that the process keeps up to that much
freed memory resident. Set the environment variable
``MINIGRAD_MALLOC_TOP_PAD_MB`` to another size, or to 0 to leave malloc alone; other
platforms and C libraries are left alone.

``status()`` says what was applied. The setting is process-wide, so PyTorch running in
the same process (as in the benchmarks) gets it too.
"""
import ctypes
import os
import platform
import sys

DEFAULT_MB = 64
_M_TOP_PAD = -2  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2 ** 20  # glibc's maximum on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)
_applied = {"top_pad_bytes": None, "reason": "not applied yet"}


def keep_freed_memory(nbytes):
    """Ask glibc's malloc to keep ``nbytes`` of freed memory at the top of the heap, and to take
    arrays up to ``MMAP_THRESHOLD`` from the heap.

    Returns True if the setting was applied. ``nbytes=0`` restores glibc's default
    (no padding). On anything but Linux with glibc it does nothing and returns False.
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        _applied.update(top_pad_bytes=None, reason=f"not glibc on Linux ({sys.platform}, {platform.libc_ver()[0]!r})")
        return False
    nbytes = int(nbytes)
    if nbytes < 0:
        raise ValueError(f"keep_freed_memory: nbytes must be >= 0, got {nbytes}")
    try:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(_M_TOP_PAD, ctypes.c_int(min(nbytes, 2 ** 31 - 1))) == 1
        if ok and nbytes:  # the mmap threshold stopped following freed blocks: see the module docstring
            ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(MMAP_THRESHOLD)) == 1
    except (OSError, AttributeError) as e:
        _applied.update(top_pad_bytes=None, reason=f"mallopt unavailable: {e}")
        return False
    _applied.update(top_pad_bytes=nbytes if ok else None, reason="applied" if ok else "mallopt refused it")
    return ok


def status():
    """{'top_pad_bytes': bytes kept or None, 'reason': what happened}."""
    return dict(_applied)


def _apply_default():
    raw = os.environ.get("MINIGRAD_MALLOC_TOP_PAD_MB", str(DEFAULT_MB))
    try:
        mb = float(raw)
    except ValueError:
        raise ValueError(f"MINIGRAD_MALLOC_TOP_PAD_MB must be a number of MiB (0 to disable), got {raw!r}") from None
    if mb <= 0:
        _applied.update(top_pad_bytes=None, reason="disabled by MINIGRAD_MALLOC_TOP_PAD_MB")
        return
    keep_freed_memory(int(mb * 2 ** 20))
