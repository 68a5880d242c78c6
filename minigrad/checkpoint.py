"""Training checkpoints: everything a run needs to continue as if it had never stopped.

    mg.save_checkpoint("run.npz", model, optimizer, scheduler, epoch=5, step=1200)
    ...                                    # a new process, the same code
    info = mg.load_checkpoint("run.npz", model, optimizer, scheduler)
    info["epoch"], info["step"]            # 5, 1200: continue from there

A weights file (``mg.save(model.state_dict(), path)``) is enough to *use* a model; to
*continue training* it bit for bit, a run also needs the optimizer's moments and step
counts, the scheduler's position, where it is in its data, and every random generator's
state, since the next epoch's shuffle and dropout masks are drawn from them. Callbacks
with memory (EarlyStopping's patience, ReduceLROnPlateau's best value, the History) are
saved too: any object with ``state_dict()`` / ``load_state_dict()`` can be passed.

The file is written by ``mg.save``: atomically, no pickle. ``load_checkpoint`` is all or
nothing: if any part does not fit (another model, another optimizer, a corrupt file),
it raises and the model, optimizer, scheduler, callbacks and random state are as before.
"""
import os

from . import random as _random
from .serialization import CheckpointError, load, save

FORMAT = "minigrad.training-checkpoint"
VERSION = 1


def _state_of(obj):
    return None if obj is None else obj.state_dict()


def _names(objects):
    return [type(o).__name__ for o in objects]


def save_checkpoint(path, model, optimizer=None, scheduler=None, *, epoch=0, step=0, stateful=(), extra=None):
    """Write a resumable training state to ``path`` (atomically).

    model, optimizer, scheduler: their ``state_dict()``s. epoch, step: ints, where the run
    stands (by convention the number of epochs and updates completed). stateful: more
    objects with ``state_dict()`` (callbacks, a History, a TBPTT trainer), restored in the
    same order by ``load_checkpoint``. extra: a dict of anything ``mg.save`` can store.
    Every random state (``minigrad.random.get_state``) is saved with them.
    """
    stateful = list(stateful)
    state = {"format": FORMAT, "version": VERSION, "epoch": int(epoch), "step": int(step),
             "model": model.state_dict(), "optimizer": _state_of(optimizer), "scheduler": _state_of(scheduler),
             "stateful": [_state_of(o) for o in stateful], "stateful_types": _names(stateful),
             "random": _random.get_state(), "extra": extra or {}}
    save(state, path)
    return os.fspath(path)


def read_checkpoint(path):
    """The raw contents of a training checkpoint, after checking that it is one."""
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        kind = "a dict of arrays (a weights file?)" if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"load_checkpoint: {os.fspath(path)} is a minigrad file but not a training checkpoint "
                              f"(it holds {kind}); write one with save_checkpoint, or load weights with "
                              "model.load_state_dict(mg.load(path))")
    if state.get("version") != VERSION:
        raise CheckpointError(f"load_checkpoint: {os.fspath(path)} is version {state.get('version')} of the format; "
                              f"this minigrad reads version {VERSION}")
    return state


def load_checkpoint(path, model, optimizer=None, scheduler=None, *, stateful=(), restore_random=True):
    """Restore what ``save_checkpoint`` wrote into ``model`` (and the others given); all or nothing.

    Returns {"epoch", "step", "extra"}. ``stateful`` must list objects of the same types in
    the same order as at saving. ``restore_random=False`` leaves the random generators as
    they are (to continue from the weights but draw different shuffles).
    """
    stateful = list(stateful)
    state = read_checkpoint(path)
    where = f"load_checkpoint: {os.fspath(path)}"
    for what, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and state[what] is None:
            raise CheckpointError(f"{where} holds no {what} state, but a {type(obj).__name__} was given to restore")
    saved_types = list(state["stateful_types"])
    if saved_types != _names(stateful):
        raise CheckpointError(f"{where} holds the state of {saved_types or 'no callbacks'}, but "
                              f"{_names(stateful) or 'none'} were given to restore: pass the same callbacks, in the "
                              "same order, as the run that wrote it")
    # Keep what is there now, so that a part that does not fit leaves everything as it was.
    parts = [(model, state["model"])]
    parts += [(o, state[k]) for k, o in (("optimizer", optimizer), ("scheduler", scheduler)) if o is not None]
    parts += [(o, s) for o, s in zip(stateful, state["stateful"]) if o is not None]
    before = [(obj, obj.state_dict()) for obj, _ in parts]
    before_random = _random.get_state()
    try:
        for obj, saved in parts:
            obj.load_state_dict(saved)
        if restore_random:
            _random.set_state(state["random"])
    except Exception as e:
        for obj, old in before:
            obj.load_state_dict(old)
        _random.set_state(before_random)
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{where} does not fit what was given to restore ({type(e).__name__}: {e}); nothing "
                              "was changed") from e
    return {"epoch": int(state["epoch"]), "step": int(state["step"]), "extra": state["extra"]}
