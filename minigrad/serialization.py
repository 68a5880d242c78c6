"""Saving and loading checkpoints: nested dicts of arrays and numbers in one ``.npz`` file.

    mg.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": 1200}, "ckpt.npz")
    state = mg.load("ckpt.npz")
    model.load_state_dict(state["model"])

Arrays are stored as npz members named by their path in the nested structure
(``model/lstm.weight_ih_l0``); everything else (the nesting, numbers, strings, None,
lists) is stored as one JSON document beside them. No pickle is ever written or read,
so loading a file cannot run code.

A save is atomic: it writes a temporary file next to the target, flushes it to disk,
then renames it over the target. An interrupted save leaves the previous checkpoint
intact.
"""
import io
import json
import os
import tempfile

import numpy as np

from .tensor import Tensor

_STRUCTURE = "__minigrad_structure__"


def _encode(obj, arrays, path):
    """Replace arrays in ``obj`` by {"__array__": member name}, collecting them in ``arrays``."""
    if isinstance(obj, Tensor):
        obj = obj.numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"save: the array at {path or '/'} has dtype object, which cannot be stored without pickle")
        name = f"a{len(arrays)}:{path}"
        arrays[name] = obj
        return {"__array__": name}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} at {path or '/'}")
            out[f"{'i' if isinstance(key, int) else 's'}:{key}"] = _encode(value, arrays, f"{path}/{key}")
        return {"__dict__": out}
    if isinstance(obj, (list, tuple)):
        return {"__list__" if isinstance(obj, list) else "__tuple__":
                [_encode(v, arrays, f"{path}/{i}") for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {path or '/'} "
                    "(supported: dict, list, tuple, ndarray, Tensor, numbers, str, None)")


def _decode(obj, npz):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return npz[obj["__array__"]]
        if "__dict__" in obj:
            return {(int(k[2:]) if k[0] == "i" else k[2:]): _decode(v, npz) for k, v in obj["__dict__"].items()}
        if "__list__" in obj:
            return [_decode(v, npz) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, npz) for v in obj["__tuple__"])
    return obj


def save(obj, path):
    """Write ``obj`` (nested dicts/lists of arrays, tensors, numbers, strings) to ``path`` atomically."""
    path = os.fspath(path)
    arrays = {}
    structure = json.dumps(_encode(obj, arrays, ""))
    buffer = io.BytesIO()
    np.savez(buffer, **{_STRUCTURE: np.frombuffer(structure.encode(), dtype=np.uint8)}, **arrays)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a file written by ``save``; arrays come back as numpy arrays."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _STRUCTURE not in npz.files:
                raise ValueError(f"load: {path} is an .npz file but was not written by minigrad.save")
            structure = json.loads(npz[_STRUCTURE].tobytes().decode())
            return _decode(structure, {name: npz[name] for name in npz.files if name != _STRUCTURE})
    except (OSError, EOFError) as e:
        raise OSError(f"load: cannot read checkpoint {path}: {e}") from e
