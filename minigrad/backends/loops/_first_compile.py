"""Saying so when numba compiles: the first run of a program pays ~10 s that nothing else explains.

numba compiles a kernel the first time it is called with new argument types and writes
the machine code to its disk cache; later processes load it in milliseconds. The first
compilation in a process announces itself once, on stderr, with how to do it ahead of
time (``python -m minigrad.warmup``). Loads from the cache are silent.
``MINIGRAD_QUIET_COMPILE=1`` silences the message.
"""
import os
import sys

_state = {"installed": False, "announced": False, "compiles": 0}

MESSAGE = ("minigrad: compiling numba kernels on their first use (first run only: about 10 s in all, then cached "
           "on disk; `python -m minigrad.warmup` compiles them ahead of time)")


def compiles():
    """How many minigrad kernels numba has compiled in this process (cache loads not counted)."""
    return _state["compiles"]


def install():
    """Listen to numba's compile events (once per process)."""
    if _state["installed"]:
        return
    _state["installed"] = True
    from numba.core import event

    class Announce(event.Listener):
        def on_start(self, ev):
            fn = getattr(ev.data.get("dispatcher"), "py_func", None)
            if fn is None or not getattr(fn, "__module__", "").startswith("minigrad."):
                return
            _state["compiles"] += 1
            if not _state["announced"] and os.environ.get("MINIGRAD_QUIET_COMPILE", "") in ("", "0"):
                _state["announced"] = True
                print(MESSAGE, file=sys.stderr, flush=True)

        def on_end(self, ev):
            pass

    event.register("numba:compile", Announce())
