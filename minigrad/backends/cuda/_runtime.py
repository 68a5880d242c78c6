"""The CUDA runtime of the "cuda" backend: numba.cuda loaded on demand, launch sizes, memory, transfers.

Nothing here runs at ``import minigrad``: the registry calls ``load()`` the first time a
tensor asks for the "cuda" device. Without a GPU, numba's simulator runs the same
kernels (``NUMBA_ENABLE_CUDASIM=1`` before Python starts): each GPU thread becomes a
Python thread, so it is for tests at tiny shapes, not for speed.
"""
import os
import weakref

import numpy as np

THREADS = 256  # threads per block for the one-thread-per-element kernels


def load():
    """numba.cuda, ready to compile kernels; ImportError saying why not and what to do."""
    if not hasattr(np, "row_stack"):
        # numba-cuda 0.30.4 registers an overload for np.row_stack, which numpy 2.5 removed:
        # without the name, compiling any kernel fails. The alias is what numpy had.
        np.row_stack = np.vstack
    try:
        from numba import cuda
    except ImportError as e:
        raise ImportError(f"the CUDA backend needs numba ({e}); pip install -e \".[cuda]\"") from None
    if not cuda.is_available():
        raise ImportError("no CUDA GPU is available here (numba.cuda.is_available() is False). To run the CUDA "
                          "kernels without one, start Python with NUMBA_ENABLE_CUDASIM=1: numba's simulator "
                          "runs them on the CPU, one Python thread per GPU thread (tiny shapes only)")
    return cuda


def simulated():
    """True under numba's CUDA simulator."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0")


def blocks(n, threads=THREADS):
    """Blocks of ``threads`` covering n elements (at least one)."""
    return max(1, (n + threads - 1) // threads)


class Stats:
    """What crossed the bus and what the device holds: counted by the backend, reset by tests."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.to_host = 0        # device -> host copies (``to_numpy``)
        self.to_host_bytes = 0
        self.to_device = 0      # host -> device copies (``asarray`` and the host arguments of kernels)
        self.to_device_bytes = 0
        self.in_use = 0         # bytes held by live arrays
        self.peak = 0           # most bytes held at once since the last reset
        self.allocations = 0    # buffers newly allocated on the device (not reused from the cache)


STATS = Stats()


class BufferCache:
    """A caching allocator: a freed device buffer waits, by byte size, for the next request of
    that size. A training step allocates the same sizes every step, so after the first one it
    takes all its memory from here instead of the driver (cudaMalloc synchronises the device)."""

    def __init__(self, cuda):
        self._cuda = cuda
        self._free = {}

    def take(self, size, dtype):
        """A 1-D device buffer of ``size`` elements of ``dtype`` (contents undefined)."""
        dtype = np.dtype(dtype)
        nbytes = max(1, size) * dtype.itemsize
        free = self._free.get(nbytes)
        raw = free.pop() if free else None
        if raw is None:
            raw = self._cuda.device_array(nbytes, np.uint8)
            STATS.allocations += 1
        STATS.in_use += nbytes
        STATS.peak = max(STATS.peak, STATS.in_use)
        return raw, raw.view(dtype)[:size]

    def give_back(self, raw):
        """Return a buffer ``take`` handed out (called when its last array is gone)."""
        STATS.in_use -= raw.size
        self._free.setdefault(raw.size, []).append(raw)

    def clear(self):
        """Release every cached buffer to the driver."""
        self._free.clear()


def track(owner, raw, cache):
    """Give ``raw`` back to ``cache`` once ``owner`` (the array using it) is garbage."""
    weakref.finalize(owner, cache.give_back, raw)
