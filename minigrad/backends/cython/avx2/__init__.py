"""The Cython loops again, compiled for x86-64-v3 (AVX2 + FMA): ``setup.py`` builds the same
generated C twice, and ``backends/cython/__init__.py`` loads these where the CPU has the
instructions (baseline x86-64 only has SSE2: half the vector width, no fused multiply-add)."""
