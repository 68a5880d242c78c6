#!/usr/bin/env bash
# An install on a machine without a C compiler, in a copy of the tree: it must succeed
# without the Cython extension and train the demo on numba; then, with numba removed,
# minigrad must still import and run the pure-Python backend.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
(cd "$src" && git ls-files -z | xargs -0 cp --parents -t "$work/src")
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
CC=/bin/false "$work/venv/bin/pip" install -q "$work/src"
cd "$work/src"
"$work/venv/bin/python" -c "
import minigrad as mg
info = mg.available_backends()
assert not info['cython']['available'] and 'not built' in info['cython']['reason'], info['cython']
assert mg.get_backend().name == 'numba', mg.get_backend().name
print('no C compiler: installed; cython backend:', info['cython']['reason'])"
"$work/venv/bin/python" examples/demo.py --out "$work/demo"
"$work/venv/bin/pip" uninstall -q -y numba llvmlite
cd "$work"
"$work/venv/bin/python" -c "
import numpy as np, minigrad as mg
info = mg.available_backends()
assert not info['numba']['available'] and info['python']['available'], info
with mg.backend('python'):
    layer = mg.nn.Linear(4, 3)
    loss = mg.cross_entropy(layer(mg.randn(5, 4)).tanh(), np.array([0, 1, 2, 0, 1]))
    loss.backward()
assert np.isfinite(layer.weight.grad.numpy()).all()
print('without numba: the python backend trains (loss %.4f)' % loss.item())"
