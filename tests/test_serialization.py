"""save/load: round trips, atomic writes, and clear failures."""
import os
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
    with pytest.raises((OSError, zipfile.BadZipFile, ValueError)):
        mg.load(broken)
    with pytest.raises(OSError, match="cannot read checkpoint"):
        mg.load(tmp_path / "missing.npz")
