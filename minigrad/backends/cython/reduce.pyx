# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Reductions in Cython: sum, mean, var, max, min, their backward passes, gradient norms.

Every kernel here sees its input as a C-contiguous 3-D block ``x[p, n, q]`` and
reduces the middle axis: ``out[p, q] = reduce over n of x[p, n, q]``. The wrapper in
``cython_backend.py`` (``plan``) gets that form with a free reshape when the reduced
axes are one run (``axis=-1``: Q = 1; ``axis=0``: P = 1), a transposed copy otherwise.
Two loop shapes follow, the same as in the numba backend's ``loops/reduce.py``:

* Q == 1 ("rows"): the reduced elements of each output are contiguous. They are
  added in LANES independent partial sums (``_common.pxd``): C adds floats in source
  order, so one accumulator would make a chain of dependent adds, ~4 cycles each.
* Q > 1 ("cols"): whole rows of x are added into a row of partial results,
  ``part[:] += x[p, n, :]``; the inner loop runs along contiguous memory with
  independent elements, so gcc vectorises it with no reordering at all.

``const real[:, :, ::1]`` is a 3-D typed memoryview whose last axis has unit stride;
``&x[p, 0, 0]`` is a plain C pointer into it, handed to the inline row helpers.
"""
from minigrad.backends.cython._common cimport LANES, fold_sum, nan_max, nan_min, real, row_max, row_min, row_sum

cdef enum:
    ROWS = 128  # "cols" sums: rows added into a scratch row before it joins the total


cdef void _col_sum(const real[:, :, ::1] x, Py_ssize_t p, real* out, real* part) noexcept nogil:
    """out[q] = sum over n of x[p, n, q], ROWS rows at a time through the scratch row ``part``
    (so each partial sum sees at most ROWS additions, as in loops/reduce.py)."""
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


def sum3(const real[:, :, ::1] x, real div, real[:, ::1] out, real[:, ::1] scratch):
    """out[p, q] = sum over n of x[p, n, q], divided by ``div`` (1 for sum, N for mean).

    ``scratch`` is a (1, Q) work row for the "cols" case."""
    cdef Py_ssize_t p, q, n_p = x.shape[0], n_n = x.shape[1], n_q = x.shape[2]
    with nogil:
        for p in range(n_p):
            if n_q == 1:
                out[p, 0] = row_sum(&x[p, 0, 0], n_n) / div
            else:
                _col_sum(x, p, &out[p, 0], &scratch[0, 0])
                for q in range(n_q):
                    out[p, q] = out[p, q] / div


cdef inline real _row_sq_dev(const real* x, Py_ssize_t n, real mean) noexcept nogil:
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


def var3(const real[:, :, ::1] x, real ddof, real[:, ::1] out, real[:, ::1] scratch):
    """out[p, q] = sum over n of (x - mean)^2 / (N - ddof): numpy's two-pass variance,
    both passes over a row while it is in cache. ``scratch`` is (2, Q): mean and partial sums."""
    cdef Py_ssize_t p, n, n0, chunk, q, n_p = x.shape[0], n_n = x.shape[1], n_q = x.shape[2]
    cdef real count = <real>n_n, m, d
    cdef const real* xr
    cdef real* mean = &scratch[0, 0]
    cdef real* part = &scratch[1, 0]
    with nogil:
        for p in range(n_p):
            if n_q == 1:
                xr = &x[p, 0, 0]
                m = row_sum(xr, n_n) / count
                out[p, 0] = _row_sq_dev(xr, n_n, m) / (count - ddof)
                continue
            _col_sum(x, p, mean, part)
            for q in range(n_q):
                mean[q] = mean[q] / count
                out[p, q] = 0
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
                    out[p, q] += part[q]
            for q in range(n_q):
                out[p, q] = out[p, q] / (count - ddof)


def max3(const real[:, :, ::1] x, bint is_max, real[:, ::1] out):
    """out[p, q] = max (or min) over n of x[p, n, q]; NaN wins, as in np.max."""
    cdef Py_ssize_t p, n, q, n_p = x.shape[0], n_n = x.shape[1], n_q = x.shape[2]
    cdef const real* xr
    cdef real* row
    with nogil:
        for p in range(n_p):
            if n_q == 1:
                out[p, 0] = row_max(&x[p, 0, 0], n_n) if is_max else row_min(&x[p, 0, 0], n_n)
                continue
            row = &out[p, 0]
            xr = &x[p, 0, 0]
            for q in range(n_q):
                row[q] = xr[q]
            for n in range(1, n_n):
                xr = &x[p, n, 0]
                if is_max:
                    for q in range(n_q):
                        row[q] = nan_max(row[q], xr[q])
                else:
                    for q in range(n_q):
                        row[q] = nan_min(row[q], xr[q])


# ----------------------------------------------------------- backward passes
def expand3(const real[:, ::1] g, real[:, :, ::1] out):
    """out[p, n, q] = g[p, q]: the backward of a sum, g copied over the reduced axis."""
    cdef Py_ssize_t p, n, q, n_p = out.shape[0], n_n = out.shape[1], n_q = out.shape[2]
    cdef real* outr
    cdef real v
    with nogil:
        for p in range(n_p):
            if n_q == 1:
                v = g[p, 0]
                outr = &out[p, 0, 0]
                for n in range(n_n):
                    outr[n] = v
                continue
            for n in range(n_n):
                outr = &out[p, n, 0]
                for q in range(n_q):
                    outr[q] = g[p, q]


def minmax_backward3(const real[:, :, ::1] x, const real[:, ::1] y, const real[:, ::1] g,
                     real[:, :, ::1] out, Py_ssize_t[::1] ties):
    """out = g / k where x == y (the k elements attaining the max or min), else 0.

    Ties share the gradient equally; a NaN extreme matches nothing, so its row gets 0.
    The tie count is an integer: integer sums may be added in any order, so gcc
    vectorises the counting loop (a float count would be a chain of dependent adds).
    ``ties`` is a (Q,) scratch row of counts for the "cols" case.
    """
    cdef Py_ssize_t p, n, q, k, n_p = x.shape[0], n_n = x.shape[1], n_q = x.shape[2]
    cdef const real* xr
    cdef real* outr
    cdef real yv, s, xv
    with nogil:
        for p in range(n_p):
            if n_q == 1:  # a contiguous run: plain pointer loops
                xr = &x[p, 0, 0]
                outr = &out[p, 0, 0]
                yv = y[p, 0]
                k = 0
                for n in range(n_n):
                    k += xr[n] == yv
                s = g[p, 0] / k if k > 0 else 0
                for n in range(n_n):
                    xv = xr[n]
                    outr[n] = s if xv == yv else 0
                continue
            for q in range(n_q):
                ties[q] = 0
            for n in range(n_n):
                xr = &x[p, n, 0]
                for q in range(n_q):
                    ties[q] += xr[q] == y[p, q]
            for n in range(n_n):
                xr = &x[p, n, 0]
                outr = &out[p, n, 0]
                for q in range(n_q):
                    xv = xr[q]
                    s = g[p, q] / ties[q] if ties[q] > 0 else 0
                    outr[q] = s if xv == y[p, q] else 0


def var_backward3(const real[:, :, ::1] x, const real[:, ::1] g, real scale, real[:, :, ::1] out,
                  real[:, ::1] scratch):
    """out = g * (x - mean) * scale, scale = 2 / (N - ddof). ``scratch`` is (2, Q)."""
    cdef Py_ssize_t p, n, q, n_p = x.shape[0], n_n = x.shape[1], n_q = x.shape[2]
    cdef real count = <real>n_n, m, gv
    cdef const real* xr
    cdef real* outr
    cdef real* mean = &scratch[0, 0]
    with nogil:
        for p in range(n_p):
            if n_q == 1:
                xr = &x[p, 0, 0]
                outr = &out[p, 0, 0]
                m = row_sum(xr, n_n) / count
                gv = g[p, 0]
                for n in range(n_n):
                    outr[n] = gv * (xr[n] - m) * scale
                continue
            _col_sum(x, p, mean, &scratch[1, 0])
            for q in range(n_q):
                mean[q] = mean[q] / count
            for n in range(n_n):
                xr = &x[p, n, 0]
                outr = &out[p, n, 0]
                for q in range(n_q):
                    outr[q] = g[p, q] * (xr[q] - mean[q]) * scale


# ------------------------------------------------------- whole-array checks
def sumsq(const real[::1] x):
    """sum of x^2, accumulated in float64 (for gradient norms); returns a Python float."""
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


def any_nonfinite(const real[::1] x):
    """True if x holds an inf or a NaN.

    v - v is exactly 0 for every finite v and NaN for inf or NaN, so the sum of all
    v - v is 0 exactly when everything is finite. There is no early exit: a branch
    out of the loop would stop vectorisation, and the all-finite case (the one that
    matters for speed) reads every element anyway.
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
