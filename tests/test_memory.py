"""minigrad.memory: glibc malloc keeps freed memory, so a training step stops page-faulting."""
import json
import os
import platform
import subprocess
import sys

import pytest

import minigrad as mg

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Page faults per LSTM training step, counted in a fresh process (the setting is process-wide).
CHILD = """
import json, resource
import minigrad as mg, rnn
m = rnn.LSTM(32, 256); x = mg.randn(100, 32, 32)  # (T, B, 4H) arrays of 13 MB: above the usual mmap threshold
params = list(m.parameters())
def step():
    for p in params:
        p.grad = None
    out, _ = m(x)
    out.sum().backward()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(json.dumps({"faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5,
                  "status": mg.memory.status()}))
"""


def _child(pad_mb):
    env = dict(os.environ, MINIGRAD_MALLOC_TOP_PAD_MB=str(pad_mb), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the malloc setting exists on Linux with glibc only")
def test_applied_at_import_and_removes_page_faults_of_a_training_step():
    assert mg.memory.status() in ({"top_pad_bytes": 64 * 2 ** 20, "reason": "applied"},
                                  {"top_pad_bytes": None, "reason": "disabled by MINIGRAD_MALLOC_TOP_PAD_MB"})
    on, off = _child(64), _child(0)
    assert on["status"] == {"top_pad_bytes": 64 * 2 ** 20, "reason": "applied"}
    assert off["status"]["top_pad_bytes"] is None
    if off["faults"] < 50:
        pytest.skip(f"this malloc does not give the step's memory back ({off['faults']} faults per step)")
    assert on["faults"] <= 0.02 * off["faults"], (on, off)


def test_bad_values_are_clear_errors():
    with pytest.raises(ValueError, match="keep_freed_memory: nbytes must be >= 0, got -1"):
        mg.memory.keep_freed_memory(-1)
    env = dict(os.environ, MINIGRAD_MALLOC_TOP_PAD_MB="lots")
    r = subprocess.run([sys.executable, "-c", "import minigrad"], cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "MINIGRAD_MALLOC_TOP_PAD_MB must be a number of MiB" in r.stderr
