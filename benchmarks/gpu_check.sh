#!/usr/bin/env bash
# Everything a GPU machine has to confirm, in one call (about 5-8 minutes on an H100):
#   1. the CUDA tests on the device, tiny (tests/test_cuda.py) and real sizes (tests/test_cuda_gpu.py);
#   2. the GPU benchmark (python -m benchmarks --suite cuda), results in $OUT (default results/gpu).
# Usage:  bash benchmarks/gpu_check.sh [--full]        (PYTHON=... to pick the interpreter)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset NUMBA_ENABLE_CUDASIM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
"$PY" -c "import numpy, numba, sys; print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'numba', numba.__version__)" | tee -a "$OUT/gpu.txt"
timeout 300 "$PY" -m pytest -q -x -p no:cacheprovider tests/test_cuda.py tests/test_cuda_gpu.py 2>&1 | tail -25 | tee "$OUT/tests.txt"
tests=${PIPESTATUS[0]}
# the CPU side of the char-LSTM comparison runs as users run it: without this machine's BLAS overrides
timeout 330 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" -m benchmarks --suite cuda ${1:-} --out "$OUT" \
    2> "$OUT/bench.log" | tee "$OUT/bench.txt"
bench=${PIPESTATUS[0]}
tail -5 "$OUT/bench.log"
echo "tests exit $tests, benchmark exit $bench; results in $OUT"
exit $(( tests || bench ))
