"""Reduction loop kernels: sum, mean, max, min, var, their backward, gradient norms.

Layout. Every reduction runs on one of two C-contiguous block shapes, "rows" ``(P, N)``
or "cols" ``(P, N, Q)``, so the loops never deal with strides or axis lists;
``backends/wrappers/_layout.py`` says how any (x.shape, axis) pair becomes one of
them, copying only when it must.

Numerics. float32 sums stay in float32 lanes, as numpy's do, but are *cascaded*: a row
is summed in blocks of ``_BLOCK`` elements, block sums into ``_SUPER``-block sums,
those into the total. Inside a block LLVM keeps 32 float32 partial sums in vector
registers (``reassoc`` lets it), so each partial sum sees ~32 additions and the
rounding error grows like (32 + 64 + N/65536) ulps instead of N ulps: close to numpy's
pairwise summation. The "cols" loops sum ``_ROWS`` rows into a scratch row before
adding it to the result, for the same reason.

NaN and inf. The loops are compiled with every fast-math flag *except* ``nnan`` and
``ninf``: LLVM may reorder sums (that is what vectorises them) but may not assume
that NaN or inf never occur, so ``v != v`` and comparisons with inf keep their IEEE
meaning. max/min propagate NaN as numpy does, through ``_maximum``/``_minimum``
(``_scalar.py``): plain Python functions when run by the "python" backend, LLVM's
NaN-propagating ``llvm.maximum``/``llvm.minimum`` (vmaxps + a NaN blend) inside
compiled loops.

The loops see non-empty float blocks; the wrappers (``backends/wrappers/reduce.py``)
lay any input out and hand empty, 0-d and integer inputs to numpy. No loop here uses
threads, and argmax/argmin are numpy's: why, measured, in docs/kernels.md.
"""
import numpy as np

from ._jit import helper, kernel
from ._scalar import _maximum, _minimum

_BLOCK = 1024   # elements summed per block (32 per vector lane for float32 AVX2)
_SUPER = 64     # blocks per super-block
_ROWS = 128     # rows of a "cols" reduction summed into a scratch row before the total


# ----------------------------------------------- shared pieces of the loops
@helper
def _row_sum(x, p):
    """Cascaded sum of row x[p, :] of a (P, N) array, in x's dtype."""
    n = x.shape[1]
    total = x.dtype.type(0)
    for s in range(0, n, _BLOCK * _SUPER):
        mid = x.dtype.type(0)
        for b in range(s, min(s + _BLOCK * _SUPER, n), _BLOCK):
            acc = x.dtype.type(0)
            for i in range(b, min(b + _BLOCK, n)):
                acc += x[p, i]
            mid += acc
        total += mid
    return total


@helper
def _row_sum_sq_dev(x, p, mean):
    """Cascaded sum over row p of (x[p, i] - mean)^2."""
    n = x.shape[1]
    total = x.dtype.type(0)
    for s in range(0, n, _BLOCK * _SUPER):
        mid = x.dtype.type(0)
        for b in range(s, min(s + _BLOCK * _SUPER, n), _BLOCK):
            acc = x.dtype.type(0)
            for i in range(b, min(b + _BLOCK, n)):
                d = x[p, i] - mean
                acc += d * d
            mid += acc
        total += mid
    return total


@helper
def _col_sums(x, p, out, part):
    """out[q] = sum_n x[p, n, q] of a (P, N, Q) array; ``part`` is a (Q,) scratch row."""
    n_rows, q_len = x.shape[1], x.shape[2]
    for q in range(q_len):
        out[q] = 0
    for n0 in range(0, n_rows, _ROWS):
        for q in range(q_len):
            part[q] = x[p, n0, q]
        for n in range(n0 + 1, min(n0 + _ROWS, n_rows)):
            for q in range(q_len):
                part[q] += x[p, n, q]
        for q in range(q_len):
            out[q] += part[q]


@helper
def _col_sum_sq_devs(x, p, mean, out, part):
    """out[q] = sum_n (x[p, n, q] - mean[q])^2; ``part`` is a (Q,) scratch row."""
    n_rows, q_len = x.shape[1], x.shape[2]
    for q in range(q_len):
        out[q] = 0
    for n0 in range(0, n_rows, _ROWS):
        for q in range(q_len):
            part[q] = 0
        for n in range(n0, min(n0 + _ROWS, n_rows)):
            for q in range(q_len):
                d = x[p, n, q] - mean[q]
                part[q] += d * d
        for q in range(q_len):
            out[q] += part[q]


# ------------------------------------------------------------ forward loops
@kernel
def sum_rows_loop(x, div, out):
    """out[p] = sum_n x[p, n] / div for x (P, N); div = 1 for sum, N for mean."""
    d = x.dtype.type(div)  # divide in x's dtype: an int divisor would promote float32 to float64
    for p in range(x.shape[0]):
        out[p] = _row_sum(x, p) / d


@kernel
def sum_cols_loop(x, div, out):
    """out[p, q] = sum_n x[p, n, q] / div for x (P, N, Q), out (P, Q)."""
    d = x.dtype.type(div)
    part = np.empty(x.shape[2], x.dtype)
    for p in range(x.shape[0]):
        _col_sums(x, p, out[p], part)
        for q in range(x.shape[2]):
            out[p, q] /= d


@kernel
def max_rows_loop(x, out):
    """out[p] = max_n x[p, n] (NaN if the row holds one)."""
    for p in range(x.shape[0]):
        m = x[p, 0]
        for i in range(1, x.shape[1]):
            m = _maximum(x[p, i], m)
        out[p] = m


@kernel
def min_rows_loop(x, out):
    """out[p] = min_n x[p, n] (NaN if the row holds one)."""
    for p in range(x.shape[0]):
        m = x[p, 0]
        for i in range(1, x.shape[1]):
            m = _minimum(x[p, i], m)
        out[p] = m


# In the two "cols" loops the new value goes first: with the accumulator first, LLVM
# notices that a NaN accumulator is left unchanged and turns the store into a masked
# store (vmaskmovps), which is microcoded and ~3x slower on AMD Zen.
@kernel
def max_cols_loop(x, out):
    """out[p, q] = max_n x[p, n, q] for x (P, N, Q)."""
    for p in range(x.shape[0]):
        for q in range(x.shape[2]):
            out[p, q] = x[p, 0, q]
        for n in range(1, x.shape[1]):
            for q in range(x.shape[2]):
                out[p, q] = _maximum(x[p, n, q], out[p, q])


@kernel
def min_cols_loop(x, out):
    """out[p, q] = min_n x[p, n, q] for x (P, N, Q)."""
    for p in range(x.shape[0]):
        for q in range(x.shape[2]):
            out[p, q] = x[p, 0, q]
        for n in range(1, x.shape[1]):
            for q in range(x.shape[2]):
                out[p, q] = _minimum(x[p, n, q], out[p, q])


@kernel
def var_rows_loop(x, ddof, out):
    """out[p] = sum_n (x[p, n] - mean_p)^2 / (N - ddof): two passes over a row while it is in cache.

    numpy makes four passes over the whole array (mean, subtract, square, sum) and
    two temporaries of its size.
    """
    n, dof = x.dtype.type(x.shape[1]), x.dtype.type(x.shape[1] - ddof)
    for p in range(x.shape[0]):
        mean = _row_sum(x, p) / n
        out[p] = _row_sum_sq_dev(x, p, mean) / dof


@kernel
def var_cols_loop(x, ddof, out):
    """out[p, q] = sum_n (x[p, n, q] - mean_pq)^2 / (N - ddof) for x (P, N, Q)."""
    n, dof = x.dtype.type(x.shape[1]), x.dtype.type(x.shape[1] - ddof)
    mean = np.empty(x.shape[2], x.dtype)
    part = np.empty(x.shape[2], x.dtype)
    for p in range(x.shape[0]):
        _col_sums(x, p, mean, part)
        for q in range(x.shape[2]):
            mean[q] /= n
        _col_sum_sq_devs(x, p, mean, out[p], part)
        for q in range(x.shape[2]):
            out[p, q] /= dof


# ----------------------------------------------------------- backward loops
@kernel
def expand_rows_loop(g, out):
    """out[p, n] = g[p]: the backward of a sum over the trailing axes."""
    for p in range(out.shape[0]):
        v = g[p]
        for i in range(out.shape[1]):
            out[p, i] = v


@kernel
def expand_cols_loop(g, out):
    """out[p, n, q] = g[p, q]: the backward of a sum over leading/middle axes."""
    for p in range(out.shape[0]):
        for n in range(out.shape[1]):
            for q in range(out.shape[2]):
                out[p, n, q] = g[p, q]


@kernel
def minmax_backward_rows_loop(x, y, g, out):
    """out[p, n] = g[p] / k_p where x[p, n] == y[p] (k_p such elements), else 0.

    Ties share the gradient equally; a NaN result equals nothing, so its row gets 0.
    """
    zero = x.dtype.type(0)
    for p in range(x.shape[0]):
        yp = y[p]
        hits = 0
        for i in range(x.shape[1]):
            hits += x[p, i] == yp
        share = g[p] / hits if hits > 0 else zero
        for i in range(x.shape[1]):
            out[p, i] = share if x[p, i] == yp else zero


@kernel
def minmax_backward_cols_loop(x, y, g, out):
    """out[p, n, q] = g[p, q] / k_pq where x[p, n, q] == y[p, q], else 0 (x (P, N, Q))."""
    q_len = x.shape[2]
    zero = x.dtype.type(0)
    hits = np.empty(q_len, np.int64)
    share = np.empty(q_len, x.dtype)
    for p in range(x.shape[0]):
        for q in range(q_len):
            hits[q] = 0
        for n in range(x.shape[1]):
            for q in range(q_len):
                hits[q] += x[p, n, q] == y[p, q]
        for q in range(q_len):
            share[q] = g[p, q] / hits[q] if hits[q] > 0 else zero
        for n in range(x.shape[1]):
            for q in range(q_len):
                out[p, n, q] = share[q] if x[p, n, q] == y[p, q] else zero


@kernel
def var_backward_rows_loop(x, g, scale, out):
    """out[p, n] = g[p] * (x[p, n] - mean_p) * scale, scale = 2 / (N - ddof)."""
    count, s = x.dtype.type(x.shape[1]), x.dtype.type(scale)  # scale rounded to x's dtype, as numpy does
    for p in range(x.shape[0]):
        mean = _row_sum(x, p) / count
        gp = g[p]
        for i in range(x.shape[1]):
            out[p, i] = gp * (x[p, i] - mean) * s


@kernel
def var_backward_cols_loop(x, g, scale, out):
    """out[p, n, q] = g[p, q] * (x[p, n, q] - mean_pq) * scale for x (P, N, Q)."""
    n_rows, q_len = x.shape[1], x.shape[2]
    count, s = x.dtype.type(n_rows), x.dtype.type(scale)
    mean = np.empty(q_len, x.dtype)
    part = np.empty(q_len, x.dtype)
    for p in range(x.shape[0]):
        _col_sums(x, p, mean, part)
        for q in range(q_len):
            mean[q] /= count
        for n in range(n_rows):
            for q in range(q_len):
                out[p, n, q] = g[p, q] * (x[p, n, q] - mean[q]) * s


# ------------------------------------------------------- whole-array checks
@kernel
def any_nonfinite_loop(x):
    """True if the 1-D array x holds a NaN or an inf; stops at the first block that does."""
    n = x.size
    for b in range(0, n, _BLOCK):
        bad = False
        for i in range(b, min(b + _BLOCK, n)):
            bad |= not (abs(x[i]) < np.inf)  # NaN and +-inf fail the test
        if bad:
            return True
    return False


@kernel
def sumsq_loop(x):
    """sum_i x[i]^2 accumulated in float64 (x float32 or float64, 1-D)."""
    acc = 0.0
    for i in range(x.size):
        v = np.float64(x[i])
        acc += v * v
    return acc
