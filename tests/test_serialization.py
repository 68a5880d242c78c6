"""save/load: round trips, atomic writes, and clear failures."""
import io
import os
import stat
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization


def test_round_trip_nested_structure(tmp_path):
    state = {
        "model": {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": mg.tensor([1.0, -2.0])},
        "optim": {"state": {0: {"m": np.zeros(3), "step": 4}}, "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99)}]},
        "step": 1200, "name": "lstm", "best": None, "flag": True, "np_scalar": np.float32(2.5),
    }
    path = tmp_path / "ckpt.npz"
    mg.save(state, path)
    out = mg.load(path)
    np.testing.assert_array_equal(out["model"]["w"], state["model"]["w"])
    assert out["model"]["w"].dtype == np.float32
    np.testing.assert_array_equal(out["model"]["b"], [1.0, -2.0])
    assert out["optim"]["state"][0]["step"] == 4 and 0 in out["optim"]["state"]  # int keys stay ints
    assert out["optim"]["param_groups"][0]["betas"] == (0.9, 0.99)  # tuples stay tuples
    assert (out["step"], out["name"], out["best"], out["flag"], out["np_scalar"]) == (1200, "lstm", None, True, 2.5)


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"v": np.ones(3)}, path)

    def crash(src, dst):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(serialization.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"v": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(mg.load(path)["v"], np.ones(3))  # the previous checkpoint survives
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # and no temporary file is left behind


def test_overwrite_replaces_content(tmp_path):
    path = tmp_path / "c.npz"
    mg.save({"v": np.ones(2)}, path)
    mg.save({"v": np.full(2, 7.0)}, path)
    np.testing.assert_array_equal(mg.load(path)["v"], [7.0, 7.0])


def test_unsupported_values_raise(tmp_path):
    with pytest.raises(TypeError, match=r"save: cannot store a set at /x"):
        mg.save({"x": {1, 2}}, tmp_path / "a.npz")
    with pytest.raises(TypeError, match="dtype object"):
        mg.save({"x": np.array([{}, None], dtype=object)}, tmp_path / "b.npz")
    assert not (tmp_path / "a.npz").exists()


def test_load_rejects_foreign_and_corrupt_files(tmp_path):
    foreign = tmp_path / "plain.npz"
    np.savez(foreign, a=np.ones(2))
    with pytest.raises(ValueError, match="not written by minigrad.save"):
        mg.load(foreign)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 definitely not a zip file")
    with pytest.raises(mg.CheckpointError, match="broken.npz is not a minigrad checkpoint"):
        mg.load(broken)
    with pytest.raises(OSError, match="cannot read checkpoint"):
        mg.load(tmp_path / "missing.npz")


# ------------------------------------------------------------------ files that are not checkpoints
def _checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    mg.save({"w": np.arange(6.0).reshape(2, 3), "step": 3}, path)
    return path


def test_truncated_random_and_foreign_files_raise_checkpoint_error_naming_the_file(tmp_path):
    path = _checkpoint(tmp_path)
    data = path.read_bytes()
    cases = {"truncated.npz": data[: len(data) // 2], "random.npz": np.random.default_rng(0).bytes(2000),
             "empty.npz": b"", "text.npz": b"hello, not a checkpoint\n"}
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(mg.CheckpointError, match=name):
            mg.load(bad)
    assert issubclass(mg.CheckpointError, ValueError)
    with pytest.raises(ValueError, match="the path is empty"):
        mg.load("")


def test_a_crafted_header_cannot_make_load_allocate_more_than_the_file_holds(tmp_path):
    """A member whose .npy header declares 2^31 float64 but stores 16 bytes is refused before any
    allocation; so is a compressed member (a zip bomb's way to be small on disk)."""
    crafted = tmp_path / "crafted.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (1 << 31,)})
    with zipfile.ZipFile(crafted, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("__minigrad_structure__.npy", _npy(np.frombuffer(b'{"__array__": "a0:/w"}', np.uint8)))
        zf.writestr("a0:/w.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(mg.CheckpointError, match=r"declares \(2147483648,\) float64 .* but stores 16"):
        mg.load(crafted)
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__minigrad_structure__.npy", _npy(np.frombuffer(b'{"__array__": "a0:/w"}', np.uint8)))
        zf.writestr("a0:/w.npy", _npy(np.zeros(1 << 20)))
    with pytest.raises(mg.CheckpointError, match="is compressed"):
        mg.load(bomb)


def _npy(arr):
    out = io.BytesIO()
    np.save(out, arr)
    return out.getvalue()


def test_save_clears_temporary_files_of_crashed_saves_and_follows_the_umask(tmp_path):
    path = tmp_path / "c.npz"
    stale = tmp_path / ".c.npz.999999999.tmp-abc.npz"  # a process that no longer exists
    stale.write_bytes(b"x" * 100)
    other = tmp_path / ".other.npz.999999999.tmp-abc.npz"  # another file's: left alone
    other.write_bytes(b"x")
    old = os.umask(0o022)
    try:
        mg.save({"v": np.ones(2)}, path)
    finally:
        os.umask(old)
    assert not stale.exists() and other.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # not mkstemp's 0600
    with pytest.raises(ValueError, match="is not a file path"):
        mg.save({"v": 1}, "")
