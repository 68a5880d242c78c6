# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Reductions in Cython: sum, mean, var, max, min, their backward passes, gradient norms.

The loops have the names, parameters and semantics of their numba twins in
``loops/reduce.py``, and the same Python glue calls both (``backends/wrappers/reduce.py``;
the contract is ``backends/kernel_set.py``). Every reduction runs on one of two
C-contiguous block shapes, which ``wrappers/_layout.py`` makes from any (shape, axis)
pair, copying only when it must:

* "rows", x (P, N) -> out (P,): the reduced elements of each output are one contiguous
  run. They are added in LANES independent partial sums (``_common.pxd``): C adds
  floats in source order, so one accumulator would make a chain of dependent adds,
  ~4 cycles each. Runs longer than BLOCK are cascaded as in numba's ``_row_sum``.
* "cols", x (P, N, Q) -> out (P, Q): whole rows of x are added into a row of partial
  results, ``part[:] += x[p, n, :]``; the inner loop runs along contiguous memory with
  independent elements, so gcc vectorises it with no reordering at all. ROWS rows go
  into the scratch row ``part`` before it joins the total, as in numba's ``_col_sums``.

``const real[:, :, ::1]`` is a 3-D typed memoryview whose last axis has unit stride;
``&x[p, 0, 0]`` is a plain C pointer into it, handed to the inline row helpers. Work
rows (``part``, the column means, tie counts) come from malloc and are freed in
``finally``; the numba loops allocate the same rows with np.empty.

NaN and inf: max/min propagate NaN as numpy does (``nan_max``/``nan_min``); the
backward of max/min shares g among the elements equal to the extreme, and a NaN
extreme equals nothing, so its gradient is 0 (the contract's rule).
"""
from libc.stdint cimport int64_t
from libc.stdlib cimport free

from minigrad.backends.cython._common cimport (BLOCK, LANES, SUPER, fold_sum, nan_max, nan_min, real, row_max,
                                              row_min, row_sum, scratch)

cdef enum:
    ROWS = 128  # "cols" sums: rows added into a scratch row before it joins the total


# ----------------------------------------------- shared pieces of the loops
cdef void _col_sum(const real[:, :, ::1] x, Py_ssize_t p, real* out, real* part) noexcept nogil:
    """out[q] = sum over n of x[p, n, q], ROWS rows at a time through the scratch row ``part``
    (so each partial sum sees at most ROWS additions, as numba's ``_col_sums``)."""
    cdef Py_ssize_t n, n0, chunk, q, n_n = x.shape[1], n_q = x.shape[2]
    cdef const real* xr
    for q in range(n_q):
        out[q] = 0
    for chunk in range((n_n + ROWS - 1) // ROWS):
        n0 = chunk * ROWS
        xr = &x[p, n0, 0]
        for q in range(n_q):
            part[q] = xr[q]
        for n in range(n0 + 1, min(n0 + ROWS, n_n)):
            xr = &x[p, n, 0]
            for q in range(n_q):
                part[q] += xr[q]
        for q in range(n_q):
            out[q] += part[q]


cdef void _col_sum_sq_dev(const real[:, :, ::1] x, Py_ssize_t p, const real* mean, real* out,
                          real* part) noexcept nogil:
    """out[q] = sum over n of (x[p, n, q] - mean[q])^2, ROWS rows at a time (numba's ``_col_sum_sq_devs``)."""
    cdef Py_ssize_t n, n0, chunk, q, n_n = x.shape[1], n_q = x.shape[2]
    cdef const real* xr
    cdef real d
    for q in range(n_q):
        out[q] = 0
    for chunk in range((n_n + ROWS - 1) // ROWS):
        n0 = chunk * ROWS
        for q in range(n_q):
            part[q] = 0
        for n in range(n0, min(n0 + ROWS, n_n)):
            xr = &x[p, n, 0]
            for q in range(n_q):
                d = xr[q] - mean[q]
                part[q] += d * d
        for q in range(n_q):
            out[q] += part[q]


cdef inline void _col_mean(const real[:, :, ::1] x, Py_ssize_t p, real* mean, real* part) noexcept nogil:
    """mean[q] = sum over n of x[p, n, q] / N: the column means of block p (``part``: scratch)."""
    cdef Py_ssize_t q
    cdef real count = <real>x.shape[1]
    _col_sum(x, p, mean, part)
    for q in range(x.shape[2]):
        mean[q] = mean[q] / count


cdef inline real _lanes_sq_dev(const real* x, Py_ssize_t n, real mean) noexcept nogil:
    """sum over a contiguous run of (x - mean)^2, in LANES partial sums."""
    cdef real acc[LANES]
    cdef real d
    cdef Py_ssize_t i, j, full = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
    for i in range(full // LANES):
        for j in range(LANES):
            d = x[i * LANES + j] - mean
            acc[j] += d * d
    cdef real total = fold_sum(acc)
    for i in range(full, n):
        d = x[i] - mean
        total += d * d
    return total


cdef inline real _row_sq_dev(const real* x, Py_ssize_t n, real mean) noexcept nogil:
    """sum of (x - mean)^2 over x[0..n), cascaded in blocks like ``row_sum`` (numba's ``_row_sum_sq_dev``)."""
    cdef real total = 0, mid
    cdef Py_ssize_t sb, b, n_blocks = (n + BLOCK - 1) // BLOCK
    for sb in range((n_blocks + SUPER - 1) // SUPER):
        mid = 0
        for b in range(sb * SUPER, min(sb * SUPER + SUPER, n_blocks)):
            mid += _lanes_sq_dev(x + b * BLOCK, min(BLOCK, n - b * BLOCK), mean)
        total += mid
    return total


# ------------------------------------------------------------ forward loops
def sum_rows_loop(const real[:, ::1] x, double div, real[::1] out):
    """out[p] = sum_n x[p, n] / div for x (P, N); div = 1 for sum, N for mean."""
    cdef real d = <real>div  # divide in x's precision, as numba's x.dtype.type(div)
    cdef Py_ssize_t p, n_n = x.shape[1]
    with nogil:
        for p in range(x.shape[0]):
            out[p] = row_sum(&x[p, 0], n_n) / d


def sum_cols_loop(const real[:, :, ::1] x, double div, real[:, ::1] out):
    """out[p, q] = sum_n x[p, n, q] / div for x (P, N, Q), out (P, Q)."""
    cdef real d = <real>div
    cdef Py_ssize_t p, q, n_q = x.shape[2]
    cdef real* part = <real*>scratch(n_q, sizeof(real))
    try:
        with nogil:
            for p in range(x.shape[0]):
                _col_sum(x, p, &out[p, 0], part)
                for q in range(n_q):
                    out[p, q] = out[p, q] / d
    finally:
        free(part)


def max_rows_loop(const real[:, ::1] x, real[::1] out):
    """out[p] = max_n x[p, n] (NaN if the row holds one); N >= 1."""
    cdef Py_ssize_t p, n_n = x.shape[1]
    with nogil:
        for p in range(x.shape[0]):
            out[p] = row_max(&x[p, 0], n_n)


def min_rows_loop(const real[:, ::1] x, real[::1] out):
    """out[p] = min_n x[p, n] (NaN if the row holds one); N >= 1."""
    cdef Py_ssize_t p, n_n = x.shape[1]
    with nogil:
        for p in range(x.shape[0]):
            out[p] = row_min(&x[p, 0], n_n)


def max_cols_loop(const real[:, :, ::1] x, real[:, ::1] out):
    """out[p, q] = max_n x[p, n, q] for x (P, N, Q) (NaN wins, as in np.max)."""
    cdef Py_ssize_t p, n, q, n_n = x.shape[1], n_q = x.shape[2]
    cdef const real* xr
    cdef real* row
    with nogil:
        for p in range(x.shape[0]):
            row = &out[p, 0]
            xr = &x[p, 0, 0]
            for q in range(n_q):
                row[q] = xr[q]
            for n in range(1, n_n):
                xr = &x[p, n, 0]
                for q in range(n_q):
                    row[q] = nan_max(row[q], xr[q])


def min_cols_loop(const real[:, :, ::1] x, real[:, ::1] out):
    """out[p, q] = min_n x[p, n, q] for x (P, N, Q) (NaN wins, as in np.min)."""
    cdef Py_ssize_t p, n, q, n_n = x.shape[1], n_q = x.shape[2]
    cdef const real* xr
    cdef real* row
    with nogil:
        for p in range(x.shape[0]):
            row = &out[p, 0]
            xr = &x[p, 0, 0]
            for q in range(n_q):
                row[q] = xr[q]
            for n in range(1, n_n):
                xr = &x[p, n, 0]
                for q in range(n_q):
                    row[q] = nan_min(row[q], xr[q])


def var_rows_loop(const real[:, ::1] x, double ddof, real[::1] out):
    """out[p] = sum_n (x[p, n] - mean_p)^2 / (N - ddof): numpy's two-pass variance, both
    passes over a row while it is in cache (numpy makes four passes over the whole array
    and two temporaries of its size)."""
    cdef Py_ssize_t p, n_n = x.shape[1]
    cdef real count = <real>n_n, dof = <real>(<double>n_n - ddof), m
    cdef const real* xr
    with nogil:
        for p in range(x.shape[0]):
            xr = &x[p, 0]
            m = row_sum(xr, n_n) / count
            out[p] = _row_sq_dev(xr, n_n, m) / dof


def var_cols_loop(const real[:, :, ::1] x, double ddof, real[:, ::1] out):
    """out[p, q] = sum_n (x[p, n, q] - mean_pq)^2 / (N - ddof) for x (P, N, Q)."""
    cdef Py_ssize_t p, q, n_n = x.shape[1], n_q = x.shape[2]
    cdef real dof = <real>(<double>n_n - ddof)
    cdef real* mean = <real*>scratch(2 * n_q, sizeof(real))
    cdef real* part = mean + n_q
    try:
        with nogil:
            for p in range(x.shape[0]):
                _col_mean(x, p, mean, part)
                _col_sum_sq_dev(x, p, mean, &out[p, 0], part)
                for q in range(n_q):
                    out[p, q] = out[p, q] / dof
    finally:
        free(mean)


# ----------------------------------------------------------- backward loops
def expand_rows_loop(const real[::1] g, real[:, ::1] out):
    """out[p, n] = g[p]: the backward of a sum over the trailing axes."""
    cdef Py_ssize_t p, n, n_n = out.shape[1]
    cdef real* outr
    cdef real v
    with nogil:
        for p in range(out.shape[0]):
            v = g[p]
            outr = &out[p, 0]
            for n in range(n_n):
                outr[n] = v


def expand_cols_loop(const real[:, ::1] g, real[:, :, ::1] out):
    """out[p, n, q] = g[p, q]: the backward of a sum over leading/middle axes."""
    cdef Py_ssize_t p, n, q, n_n = out.shape[1], n_q = out.shape[2]
    cdef const real* gr
    cdef real* outr
    with nogil:
        for p in range(out.shape[0]):
            gr = &g[p, 0]
            for n in range(n_n):
                outr = &out[p, n, 0]
                for q in range(n_q):
                    outr[q] = gr[q]


def minmax_backward_rows_loop(const real[:, ::1] x, const real[::1] y, const real[::1] g, real[:, ::1] out):
    """out[p, n] = g[p] / k_p where x[p, n] == y[p] (k_p such elements), else 0.

    Ties share the gradient equally; a NaN result equals nothing, so its row gets 0.
    The tie count is an integer: integer sums may be added in any order, so gcc
    vectorises the counting loop (a float count would be a chain of dependent adds).
    """
    cdef Py_ssize_t p, n, k, n_n = x.shape[1]
    cdef const real* xr
    cdef real* outr
    cdef real yv, xv, share
    with nogil:
        for p in range(x.shape[0]):
            xr = &x[p, 0]
            outr = &out[p, 0]
            yv = y[p]
            k = 0
            for n in range(n_n):
                k += xr[n] == yv
            # g / k in float64, rounded once (numba's float32 / int64 is a float64 division)
            share = <real>(g[p] / <double>k) if k > 0 else 0
            for n in range(n_n):
                xv = xr[n]
                outr[n] = share if xv == yv else 0


def minmax_backward_cols_loop(const real[:, :, ::1] x, const real[:, ::1] y, const real[:, ::1] g,
                              real[:, :, ::1] out):
    """out[p, n, q] = g[p, q] / k_pq where x[p, n, q] == y[p, q], else 0 (x (P, N, Q))."""
    cdef Py_ssize_t p, n, q, n_n = x.shape[1], n_q = x.shape[2]
    cdef const real* xr
    cdef const real* yr
    cdef real* outr
    cdef int64_t* hits = <int64_t*>scratch(n_q, sizeof(int64_t))
    cdef real* share = NULL
    try:
        share = <real*>scratch(n_q, sizeof(real))
        with nogil:
            for p in range(x.shape[0]):
                yr = &y[p, 0]
                for q in range(n_q):
                    hits[q] = 0
                for n in range(n_n):
                    xr = &x[p, n, 0]
                    for q in range(n_q):
                        hits[q] += xr[q] == yr[q]
                for q in range(n_q):
                    share[q] = <real>(g[p, q] / <double>hits[q]) if hits[q] > 0 else 0
                for n in range(n_n):
                    xr = &x[p, n, 0]
                    outr = &out[p, n, 0]
                    for q in range(n_q):
                        outr[q] = share[q] if xr[q] == yr[q] else 0
    finally:
        free(hits)
        free(share)


def var_backward_rows_loop(const real[:, ::1] x, const real[::1] g, double scale, real[:, ::1] out):
    """out[p, n] = g[p] * (x[p, n] - mean_p) * scale, scale = 2 / (N - ddof)."""
    cdef Py_ssize_t p, n, n_n = x.shape[1]
    cdef real count = <real>n_n, s = <real>scale  # scale rounded to x's precision, as numpy does
    cdef real m, gv
    cdef const real* xr
    cdef real* outr
    with nogil:
        for p in range(x.shape[0]):
            xr = &x[p, 0]
            outr = &out[p, 0]
            m = row_sum(xr, n_n) / count
            gv = g[p]
            for n in range(n_n):
                outr[n] = gv * (xr[n] - m) * s


def var_backward_cols_loop(const real[:, :, ::1] x, const real[:, ::1] g, double scale, real[:, :, ::1] out):
    """out[p, n, q] = g[p, q] * (x[p, n, q] - mean_pq) * scale for x (P, N, Q)."""
    cdef Py_ssize_t p, n, q, n_n = x.shape[1], n_q = x.shape[2]
    cdef real s = <real>scale
    cdef const real* xr
    cdef const real* gr
    cdef real* outr
    cdef real* mean = <real*>scratch(2 * n_q, sizeof(real))
    cdef real* part = mean + n_q
    try:
        with nogil:
            for p in range(x.shape[0]):
                _col_mean(x, p, mean, part)
                gr = &g[p, 0]
                for n in range(n_n):
                    xr = &x[p, n, 0]
                    outr = &out[p, n, 0]
                    for q in range(n_q):
                        outr[q] = gr[q] * (xr[q] - mean[q]) * s
    finally:
        free(mean)


# ------------------------------------------------------- whole-array checks
def any_nonfinite_loop(const real[::1] x):
    """True if the 1-D array x holds an inf or a NaN.

    v - v is exactly 0 for every finite v and NaN for inf or NaN, so the sum of all
    v - v is 0 exactly when everything is finite. There is no early exit (numba's loop
    stops at the first block that holds one; the answer is the same): a branch out of
    the loop would stop vectorisation, and the all-finite case (the one that matters
    for speed) reads every element anyway.
    """
    cdef real acc[LANES]
    cdef real v, total
    cdef Py_ssize_t i, j, n = x.shape[0], full = n - n % LANES
    with nogil:
        for j in range(LANES):
            acc[j] = 0
        for i in range(full // LANES):
            for j in range(LANES):
                v = x[i * LANES + j]
                acc[j] += v - v
        total = fold_sum(acc)
        for i in range(full, n):
            v = x[i]
            total += v - v
    return total != 0


def sumsq_loop(const real[::1] x):
    """sum_i x[i]^2 accumulated in float64 (x float32 or float64, 1-D), as a Python float."""
    cdef double acc[LANES]
    cdef double v, total
    cdef Py_ssize_t i, j, n = x.shape[0], full = n - n % LANES
    with nogil:
        for j in range(LANES):
            acc[j] = 0
        for i in range(full // LANES):
            for j in range(LANES):
                v = x[i * LANES + j]
                acc[j] += v * v
        total = fold_sum(acc)
        for i in range(full, n):
            v = x[i]
            total += v * v
    return total
