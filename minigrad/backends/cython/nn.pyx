# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""nn kernels in Cython: softmax family, cross-entropy / NLL, BCE with logits, scatter-add, dropout.

The loops have the names, parameters and semantics of their numba twins in
``loops/nn.py``; one Python glue layer calls both (``backends/wrappers/nn.py``; the
contract is ``backends/kernel_set.py``).

Why these are loops: numpy's softmax is five passes (max, subtract, exp, sum,
divide) with three temporaries, and its cross-entropy backward indexes, subtracts
and multiplies in separate passes again. A loop does a row in two or three passes
over data that is still in L1 cache, with no temporaries. The embedding backward is
a scatter-add, which numpy can only do with the slow, general ``np.add.at``.

``exp`` is the other half of the cost: libm's ``exp``/``expf`` is one scalar call per
element. ``exp_poly`` (``_common.pxd``, the same algorithm as the numba backend's
``_exp_poly``) is made of multiply-adds, one division and a bit trick, so gcc
vectorises the loops that call it. It works in float64, so float32 rows are
exponentiated and summed in float64 too, exactly where the numba loops do: ``x - m``
is taken in the data's precision, the exponential, the row sums (``s = 0.0`` in numba)
and what follows from them in float64, rounded once when stored.

Why the exp loops go through ``exp_chunk``: a float32 row exponentiated in float64 is
a loop with float loads and double arithmetic. gcc then vectorises it 8 elements
wide (the float width), i.e. two AVX2 registers of doubles per value, and the
temporaries and constants of ``exp_poly`` for both no longer fit in AVX2's 16
vector registers: the loop spilled to the stack and ran 1.6x slower than numba's. ``exp_chunk`` converts a
chunk of the row to float64 in one loop and exponentiates it in another, pure
float64 loop, which gcc vectorises 4 wide with no spills. The float64 sum of float32
data (``_row_sum_f64``) needs no such detour: it keeps LANES float64 partial sums and
widens each element as it reads it, which gcc vectorises (measured 1.5x faster than
widening a chunk into a buffer first).

Shapes: a "rows" loop sees a C-contiguous (R, C) array and reduces over C, with plain
pointer loops over each contiguous row; a "cols" loop sees (O, C, I) and reduces over
the middle axis, processing the I columns side by side (the innermost, contiguous
axis is the vectorised one), so softmax over ``axis=0`` needs no transpose. Their
per-column work rows come from malloc and are freed in ``finally``.

Indices (class targets, embedding ids) are int64 memoryviews. With
``boundscheck(False)`` nothing would stop an out-of-range index from reading or
writing outside an array, so every index loop checks its indices itself and returns
the position of the first bad one (or -1); the wrapper raises IndexError.
"""
from libc cimport math as libm  # as libm.log: the softmax loops have a parameter named ``log``
from libc.math cimport fabs
from libc.stdint cimport int64_t
from libc.stdlib cimport free

from minigrad.backends.cython._common cimport (LANES, exp_poly, fold_sum, lanes_sum, log1p_series, real, row_max,
                                              scratch, sigmoid_r)

cdef enum:
    CHUNK = 256  # elements exponentiated per exp_chunk call (a 2 kB float64 buffer on the stack)


cdef inline void exp_chunk(const real* x, real shift, double* t, Py_ssize_t n) noexcept nogil:
    """t[i] = e^{x[i] - shift} for i < n <= CHUNK, in float64 (see the module docstring);
    x - shift is taken in x's precision, as in the numba loops."""
    cdef Py_ssize_t i
    if real is float:
        for i in range(n):
            t[i] = x[i] - shift
        for i in range(n):
            t[i] = exp_poly(t[i])
    else:
        for i in range(n):
            t[i] = exp_poly(x[i] - shift)


cdef inline double _row_sum_f64(const real* x, Py_ssize_t n) noexcept nogil:
    """sum of x[0..n) in float64, in LANES float64 partial sums (float32 data widened as it is read)."""
    cdef double acc[LANES]
    cdef Py_ssize_t i, j, full = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
    for i in range(full // LANES):
        for j in range(LANES):
            acc[j] += x[i * LANES + j]
    cdef double total = fold_sum(acc)
    for i in range(full, n):
        total += x[i]
    return total


cdef inline real _row_dot(const real* a, const real* b, Py_ssize_t n) noexcept nogil:
    """sum of a * b over a contiguous run, in LANES partial sums of the arrays' precision
    (each lane adds n / LANES products: a few ulps of the row's magnitude)."""
    cdef real acc[LANES]
    cdef Py_ssize_t i, j, full = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
    for i in range(full // LANES):
        for j in range(LANES):
            acc[j] += a[i * LANES + j] * b[i * LANES + j]
    cdef real total = fold_sum(acc)
    for i in range(full, n):
        total += a[i] * b[i]
    return total


cdef inline double _row_log_sum_exp(const real* x, Py_ssize_t n, real m) noexcept nogil:
    """log sum_r e^{x[r] - m}, in float64."""
    cdef double t[CHUNK]
    cdef double total = 0
    cdef Py_ssize_t c0, k
    for c0 in range(0, n, 256):  # step CHUNK, written as a literal (see softmax_rows_loop)
        k = min(CHUNK, n - c0)
        exp_chunk(x + c0, m, t, k)
        total += lanes_sum(<const double*>t, k)
    return libm.log(total)


cdef inline double _log_softmax_row(const real* x, real* out, Py_ssize_t n, bint want_total) noexcept nogil:
    """out = (x - m) - log sum e^{x - m}, m = max x: in this order, since x - m is exact.

    Returns the float64 sum of the values before they are rounded to out's precision
    (what cross-entropy's label smoothing needs) if ``want_total``, else 0."""
    cdef real m = row_max(x, n)
    cdef double ls = _row_log_sum_exp(x, n, m)
    cdef double total = 0
    cdef double t[CHUNK]
    cdef Py_ssize_t c0, c, k
    if not want_total:
        for c in range(n):
            out[c] = (x[c] - m) - ls
        return 0
    for c0 in range(0, n, 256):  # step CHUNK, written as a literal (see softmax_rows_loop)
        k = min(CHUNK, n - c0)
        for c in range(k):
            t[c] = (x[c0 + c] - m) - ls
        for c in range(k):
            out[c0 + c] = <real>t[c]
        total += lanes_sum(<const double*>t, k)
    return total


# ------------------------------------------------------------ softmax family
def softmax_rows_loop(const real[:, ::1] x, real[:, ::1] out, bint log):
    """Softmax (log=False) or log-softmax (log=True) of each row of x (R, C), into out (R, C).

    softmax:     y = e^{x - m} / sum e^{x - m},   m = max of the row (so exp never overflows)
    log-softmax: y = (x - m) - log sum e^{x - m}  (in this order: x - m is exact, which keeps
                 full relative precision even for logits like 1e4)
    """
    cdef Py_ssize_t row, c, c0, k, n_c = x.shape[1]
    cdef const real* xr
    cdef real* outr
    cdef real m
    cdef double s, inv
    cdef double t[CHUNK]
    with nogil:
        for row in range(x.shape[0]):
            xr = &x[row, 0]
            outr = &out[row, 0]
            if log:
                _log_softmax_row(xr, outr, n_c, False)
                continue
            m = row_max(xr, n_c)
            s = 0
            # step CHUNK, written as a literal: Cython turns range() into a C loop only
            # when the step is a number it can see, not a named constant
            for c0 in range(0, n_c, 256):
                k = min(CHUNK, n_c - c0)
                exp_chunk(xr + c0, m, t, k)
                for c in range(k):
                    outr[c0 + c] = <real>t[c]
                # The sum in its own pass, with LANES partial sums: "s += e" inside the
                # loop above would be a chain of dependent adds and keep that loop scalar.
                s += lanes_sum(<const double*>t, k)
            inv = 1.0 / s  # one division per row, then multiplications
            for c in range(n_c):
                outr[c] = <real>(outr[c] * inv)


def softmax_cols_loop(const real[:, :, ::1] x, real[:, :, ::1] out, bint log):
    """Softmax / log-softmax over the middle axis of x (O, C, I), into out (O, C, I).

    The same equations as ``softmax_rows_loop``, for a reduced axis that is not the last:
    for each o the I columns are processed together, keeping a running max (in x's
    precision) and a float64 sum per column, so the innermost loop runs over contiguous
    memory and vectorises.
    """
    cdef Py_ssize_t o, c, i, n_c = x.shape[1], n_i = x.shape[2]
    cdef const real* xr
    cdef real* outr
    cdef real v
    cdef double e
    cdef real* m = <real*>scratch(n_i, sizeof(real))
    cdef double* s = NULL
    try:
        s = <double*>scratch(n_i, sizeof(double))
        with nogil:
            for o in range(x.shape[0]):
                xr = &x[o, 0, 0]
                for i in range(n_i):
                    m[i] = xr[i]
                    s[i] = 0
                for c in range(1, n_c):
                    xr = &x[o, c, 0]
                    for i in range(n_i):
                        v = xr[i]
                        # an unconditional store of a select (NaN wins, as in np.max): gcc keeps it a
                        # plain vector store, not the masked store a conditional update would become
                        m[i] = v if (v > m[i]) | (v != v) else m[i]
                if log:
                    for c in range(n_c):
                        xr = &x[o, c, 0]
                        for i in range(n_i):
                            s[i] += exp_poly(xr[i] - m[i])
                    for i in range(n_i):
                        s[i] = libm.log(s[i])
                    for c in range(n_c):
                        xr = &x[o, c, 0]
                        outr = &out[o, c, 0]
                        for i in range(n_i):
                            outr[i] = <real>((xr[i] - m[i]) - s[i])
                else:
                    for c in range(n_c):
                        xr = &x[o, c, 0]
                        outr = &out[o, c, 0]
                        for i in range(n_i):
                            e = exp_poly(xr[i] - m[i])
                            outr[i] = <real>e
                            s[i] += e
                    for i in range(n_i):
                        s[i] = 1.0 / s[i]
                    for c in range(n_c):
                        outr = &out[o, c, 0]
                        for i in range(n_i):
                            outr[i] = <real>(outr[i] * s[i])
    finally:
        free(m)
        free(s)


def softmax_backward_rows_loop(const real[:, ::1] y, const real[:, ::1] g, real[:, ::1] out, bint log):
    """Backward of softmax / log-softmax over each row of (R, C) arrays:

    softmax (y = softmax(x)):       dx = y * (g - sum(g * y))
    log-softmax (y = log_softmax):  dx = g - e^y * sum(g)
    (the sums in float64, as in the numba loop)
    """
    cdef Py_ssize_t row, c, c0, k, n_c = y.shape[1]
    cdef const real* yr
    cdef const real* gr
    cdef real* outr
    cdef double s
    cdef real sr
    cdef double t[CHUNK]
    with nogil:
        for row in range(y.shape[0]):
            yr = &y[row, 0]
            gr = &g[row, 0]
            outr = &out[row, 0]
            if log:
                s = _row_sum_f64(gr, n_c)
                for c0 in range(0, n_c, 256):  # step CHUNK, written as a literal (see softmax_rows_loop)
                    k = min(CHUNK, n_c - c0)
                    exp_chunk(yr + c0, 0, t, k)
                    for c in range(k):
                        outr[c0 + c] = <real>(gr[c0 + c] - t[c] * s)
            else:
                # sum and elementwise pass in the data's own precision: in float64 every element
                # would be widened and narrowed again, at half the vector width (measured 2x
                # slower at 64x512 float32); numba's loop sums in float64, within a few ulps
                sr = _row_dot(gr, yr, n_c)
                for c in range(n_c):
                    outr[c] = yr[c] * (gr[c] - sr)


def softmax_backward_cols_loop(const real[:, :, ::1] y, const real[:, :, ::1] g, real[:, :, ::1] out, bint log):
    """``softmax_backward_rows_loop`` for a reduced middle axis of (O, C, I) arrays."""
    cdef Py_ssize_t o, c, i, n_c = y.shape[1], n_i = y.shape[2]
    cdef const real* yr
    cdef const real* gr
    cdef real* outr
    cdef double* s = <double*>scratch(n_i, sizeof(double))
    try:
        with nogil:
            for o in range(y.shape[0]):
                for i in range(n_i):
                    s[i] = 0
                if log:
                    for c in range(n_c):
                        gr = &g[o, c, 0]
                        for i in range(n_i):
                            s[i] += gr[i]
                    for c in range(n_c):
                        yr = &y[o, c, 0]
                        gr = &g[o, c, 0]
                        outr = &out[o, c, 0]
                        for i in range(n_i):
                            outr[i] = <real>(gr[i] - exp_poly(yr[i]) * s[i])
                else:
                    for c in range(n_c):
                        yr = &y[o, c, 0]
                        gr = &g[o, c, 0]
                        for i in range(n_i):
                            s[i] += gr[i] * yr[i]  # the product in the data's precision, then added
                    for c in range(n_c):
                        yr = &y[o, c, 0]
                        gr = &g[o, c, 0]
                        outr = &out[o, c, 0]
                        for i in range(n_i):
                            outr[i] = <real>(yr[i] * (gr[i] - s[i]))
    finally:
        free(s)


# ------------------------------------------------------------ class losses
def cross_entropy_loop(const real[:, ::1] x, const int64_t[::1] targets, int64_t ignore_index, double smoothing,
                       real[::1] losses, real[:, ::1] logp):
    """Softmax cross-entropy of logits x (N, C): one pass per row. Returns -1, or a bad row.

    logp[i] = log_softmax(x[i])   (kept: the backward needs it)
    loss_i  = -logp[i, t_i]                                       without smoothing
            = -(1 - eps) logp[i, t_i] - eps * mean_c logp[i, c]    with label smoothing eps
            = 0                                                    when t_i == ignore_index
    A target outside 0..C-1 (and not ignore_index) stops the loop; its row is returned
    (its logp row is written, the rows after it are not). The mean of logp is taken over
    the float64 values before rounding, as in the numba loop.
    """
    cdef Py_ssize_t n_c = x.shape[1], row, bad = -1
    cdef int64_t t
    cdef double loss, total
    cdef bint smooth = smoothing != 0
    with nogil:
        for row in range(x.shape[0]):
            total = _log_softmax_row(&x[row, 0], &logp[row, 0], n_c, smooth)
            t = targets[row]
            if t == ignore_index:
                losses[row] = 0
                continue
            if t < 0 or t >= n_c:
                bad = row
                break
            loss = -logp[row, t]
            if smooth:
                loss = (1.0 - smoothing) * loss - smoothing * (total / <double>n_c)
            losses[row] = <real>loss
    return bad


def cross_entropy_backward_loop(const real[:, ::1] logp, const int64_t[::1] targets, const real[::1] g,
                                int64_t ignore_index, double smoothing, real[:, ::1] out):
    """d loss_i / d x[i, c] = g_i (softmax[i, c] - q[i, c]), softmax = e^logp, for (N, C) arrays.

    q is the (smoothed) one-hot target: 1 - eps + eps/C at t_i, eps/C elsewhere. Rows with
    t_i == ignore_index get zero gradient. Returns -1, or the first row with a bad target.
    """
    cdef Py_ssize_t n_c = logp.shape[1], row, c, c0, k, bad = -1
    cdef int64_t t
    cdef double off = smoothing / n_c  # q away from the target
    cdef double on = 1.0 - smoothing  # extra q at the target
    # q at the target, off + on, added once: numba's fast-math reassociates its (p - on) - off
    # into p - (on + off) with the sum hoisted out of the loop, so the two backends agree
    cdef double q_t = on + off, gr
    cdef double e[CHUNK]
    cdef const real* lp
    cdef real* outr
    with nogil:
        for row in range(logp.shape[0]):
            outr = &out[row, 0]
            t = targets[row]
            if t == ignore_index:
                for c in range(n_c):
                    outr[c] = 0
                continue
            if t < 0 or t >= n_c:
                bad = row
                break
            lp = &logp[row, 0]
            gr = g[row]
            for c0 in range(0, n_c, 256):  # step CHUNK, written as a literal (see softmax_rows_loop)
                k = min(CHUNK, n_c - c0)
                exp_chunk(lp + c0, 0, e, k)
                for c in range(k):
                    outr[c0 + c] = <real>((e[c] - off) * gr)
            # the target entry on its own, as (p - 1 + ...) * g: p - 1 cancels before the
            # product, exactly as in the numpy reference
            outr[t] = <real>((exp_poly(lp[t]) - q_t) * gr)
    return bad


def nll_loop(const real[:, ::1] logp, const int64_t[::1] targets, int64_t ignore_index, real[::1] out):
    """out[i] = -logp[i, t_i] (0 where t_i == ignore_index). Returns -1, or the first bad row."""
    cdef Py_ssize_t n_c = logp.shape[1], row, bad = -1
    cdef int64_t t
    with nogil:
        for row in range(logp.shape[0]):
            t = targets[row]
            if t == ignore_index:
                out[row] = 0
            elif t < 0 or t >= n_c:
                bad = row
                break
            else:
                out[row] = -logp[row, t]
    return bad


def nll_backward_loop(const int64_t[::1] targets, const real[::1] g, int64_t ignore_index, real[:, ::1] out):
    """out (N, C), zero on entry: out[i, t_i] = -g_i for every row not ignored. Returns -1, or a bad row."""
    cdef Py_ssize_t n_c = out.shape[1], row, bad = -1
    cdef int64_t t
    with nogil:
        for row in range(out.shape[0]):
            t = targets[row]
            if t == ignore_index:
                continue
            if t < 0 or t >= n_c:
                bad = row
                break
            out[row, t] = -g[row]
    return bad


# ------------------------------------------------------ binary cross-entropy
def bce_with_logits_loop(const real[::1] x, const real[::1] y, real[::1] out):
    """out = max(x, 0) - x y + log(1 + e^{-|x|}) elementwise (flat arrays): log-loss that never overflows.

    max(x, 0) - x y is written x (1 - y) for x >= 0 and -x y below, so an infinite logit
    gives an infinite loss instead of inf - inf = NaN. As in the numba loop, x (1 - y) is
    taken in float64, -x y in the data's precision, the rest in float64 with the
    vectorised exp and log1p, rounded once when stored.
    """
    cdef Py_ssize_t i
    cdef real xi, yi
    cdef double linear
    with nogil:
        for i in range(x.shape[0]):
            xi = x[i]
            yi = y[i]
            linear = xi * (1.0 - yi) if xi >= 0 else -xi * yi  # both arms registers: a blend, no branch
            out[i] = <real>(linear + log1p_series(exp_poly(-fabs(xi))))


def bce_with_logits_backward_loop(const real[::1] x, const real[::1] y, const real[::1] g,
                                  real[::1] gx, real[::1] gy):
    """gx = g (sigmoid(x) - y),  gy = -g x  (flat arrays; sigmoid at the data's precision, ``_common.pxd``)."""
    cdef Py_ssize_t i
    cdef real xi, gi
    with nogil:
        for i in range(x.shape[0]):
            xi = x[i]
            gi = g[i]
            gx[i] = gi * (sigmoid_r(xi) - y[i])
            gy[i] = -gi * xi


# ------------------------------------------------------------ scatter-add
def scatter_add_rows_loop(const int64_t[::1] idx, const real[:, ::1] g, real[:, ::1] out, int64_t skip):
    """out[idx[k], :] += g[k, :] for g (K, D), out (V, D), in order, so repeated indices accumulate.

    The backward of an embedding lookup and of ``x[int_array]``. Rows whose (wrapped)
    index equals ``skip`` are left out (an embedding's padding row; -1 for none).
    Negative indices count from the end, as in numpy. Returns -1, or the position of
    the first index out of range (the rows before it are already added)."""
    cdef Py_ssize_t n = out.shape[0], n_d = g.shape[1], d, k, bad = -1
    cdef int64_t j
    cdef const real* gr
    cdef real* outr
    with nogil:
        for k in range(idx.shape[0]):
            j = idx[k]
            if j < 0:
                j = j + n
            if j < 0 or j >= n:
                bad = k
                break
            if j == skip:
                continue
            gr = &g[k, 0]
            outr = &out[j, 0]
            for d in range(n_d):
                outr[d] += gr[d]
    return bad


# ----------------------------------------------------------------- dropout
def dropout_mask_loop(const double[::1] u, double p, double scale, real[::1] out):
    """out[i] = scale if u[i] >= p else 0: inverted dropout from uniform draws u in [0, 1) (float64)."""
    cdef Py_ssize_t i
    cdef real s = <real>scale  # rounded to out's precision once, as numba's store does
    cdef double ui
    with nogil:
        for i in range(u.shape[0]):
            ui = u[i]
            out[i] = s if ui >= p else 0
