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
intact. A load checks the file before trusting it (``CheckpointError`` otherwise).
"""
import io
import json
import os
import tempfile
import zipfile

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


class CheckpointError(ValueError):
    """A file that is not a readable minigrad checkpoint: foreign, truncated, corrupt or crafted."""


def _temp_prefix(path):
    """Temporary files of a save of ``path``: hidden, named after it and after the saving process."""
    return f".{os.path.basename(path)}.{os.getpid()}.tmp-"


def _clear_stale_temps(directory, path):
    """Remove temporary files that a crashed save of ``path`` left behind: those whose process
    is gone (a save running in another live process keeps its file)."""
    stem = f".{os.path.basename(path)}."
    for name in os.listdir(directory):
        if not (name.startswith(stem) and ".tmp-" in name and name.endswith(".npz")):
            continue
        pid = name[len(stem):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass
        except (PermissionError, OSError):
            pass  # alive (or not ours to judge): leave it


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(obj, path):
    """Write ``obj`` (nested dicts/lists of arrays, tensors, numbers, strings) to ``path`` atomically.

    The file is written as a temporary file beside ``path``, flushed to disk, then renamed
    over it: a crash leaves the old checkpoint or the new one, never half of one. A failed
    save removes its temporary file; one that a killed process left behind is removed by
    the next save of the same path. The file's permissions follow the umask, as ``open``'s.
    """
    path = os.fspath(path)
    if not path or os.path.basename(path) == "":
        raise ValueError(f"save: {path!r} is not a file path")
    arrays = {}
    structure = json.dumps(_encode(obj, arrays, ""))
    buffer = io.BytesIO()
    np.savez(buffer, **{_STRUCTURE: np.frombuffer(structure.encode(), dtype=np.uint8)}, **arrays)
    directory = os.path.dirname(os.path.abspath(path))
    _clear_stale_temps(directory, path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _read_member(zf, info, path):
    """One array of the archive, after checking that its header's shape and dtype account for
    exactly the bytes stored: a crafted header cannot make numpy allocate more than the file holds."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CheckpointError(f"load: {path}: member {info.filename!r} is .npy version {version}, which "
                                  "minigrad.save does not write")
        shape, fortran, dtype = read_header(f, max_header_size=10000)
        header = f.tell() if hasattr(f, "tell") else None
        if dtype.hasobject:
            raise CheckpointError(f"load: {path}: member {info.filename!r} holds Python objects (pickle), which a "
                                  "checkpoint never does")
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if header is not None and info.file_size - header != need:
            raise CheckpointError(f"load: {path}: member {info.filename!r} declares {shape} {dtype} "
                                  f"({need} bytes) but stores {info.file_size - header}: the file is corrupt")
    with zf.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def load(path):
    """Read a file written by ``save``; arrays come back as numpy arrays.

    A missing or unreadable file raises OSError; a file that is not a minigrad checkpoint
    (another format, truncated, corrupt, crafted) raises CheckpointError naming the file
    and the problem. Memory use is bounded by the file's size: members must be stored
    uncompressed (as ``save`` writes them) and hold exactly what their headers declare.
    """
    path = os.fspath(path)
    if not path:
        raise ValueError("load: the path is empty")
    try:
        f = open(path, "rb")
    except OSError as e:
        raise type(e)(e.errno, f"load: cannot read checkpoint {path}: {e.strerror}") from e
    with f:
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise CheckpointError(f"load: {path} is not a minigrad checkpoint (not an .npz archive: {e})") from None
        with zf:
            members = {info.filename: info for info in zf.infolist()}
            key = _STRUCTURE + ".npy"
            if key not in members:
                raise CheckpointError(f"load: {path} is an .npz file but was not written by minigrad.save")
            for info in members.values():
                if info.compress_type != zipfile.ZIP_STORED or info.file_size > info.compress_size:
                    raise CheckpointError(f"load: {path}: member {info.filename!r} is compressed; minigrad.save "
                                          "stores members uncompressed, so this file was made by something else")
            try:
                structure = json.loads(_read_member(zf, members[key], path).tobytes().decode())
                arrays = {}
                for name, info in members.items():
                    if name != key and name.endswith(".npy"):
                        arrays[name[:-4]] = _read_member(zf, info, path)
                return _decode(structure, arrays)
            except CheckpointError:
                raise
            except (ValueError, KeyError, EOFError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as e:
                raise CheckpointError(f"load: {path} is truncated or corrupt ({type(e).__name__}: {e})") from None
