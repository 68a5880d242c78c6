# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""nn kernels in Cython: softmax family, cross-entropy / NLL, BCE with logits, scatter-add, dropout.

Why these are loops: numpy's softmax is five passes (max, subtract, exp, sum,
divide) with three temporaries, and its cross-entropy backward indexes, subtracts
and multiplies in separate passes again. A loop does a row in two or three passes
over data that is still in L1 cache, with no temporaries. The embedding backward is
a scatter-add, which numpy can only do with the slow, general ``np.add.at``.

``exp`` is the other half of the cost: libm's ``exp``/``expf`` is one scalar call per
element. ``exp_poly`` (``_common.pxd``, the same algorithm as the numba backend's
``_exp_poly``) is made of multiply-adds, one division and a bit trick, so gcc
vectorises the loops that call it. It works in float64, so float32 rows are
exponentiated and summed in float64 too, as in the numba kernels.

Why the exp loops go through ``exp_chunk``: a float32 row exponentiated in float64 is
a loop with float loads and double arithmetic. gcc then vectorises it 8 elements
wide (the float width), i.e. two AVX2 registers of doubles per value, and the
temporaries and constants of ``exp_poly`` for both no longer fit in AVX2's 16
vector registers: the loop spilled to the stack and ran 1.6x slower than numba's. ``exp_chunk`` converts a
chunk of the row to float64 in one loop and exponentiates it in another, pure
float64 loop, which gcc vectorises 4 wide with no spills.

Shapes: the softmax kernels see ``x[o, c, i]`` with the softmax axis in the middle
(O = product of the axes before it, I = of those after), a free reshape of any
C-contiguous array. I == 1 (softmax over the last axis, the usual case) gets plain
pointer loops over a contiguous row; I > 1 processes I columns side by side.

Indices (class targets, embedding ids) are ``Py_ssize_t`` memoryviews, i.e. numpy
``intp`` (int64) arrays. With ``boundscheck(False)`` nothing would stop an
out-of-range index from reading or writing outside an array, so every index kernel
checks its indices itself and returns the position of the first bad one (or -1);
the wrapper raises IndexError.
"""
from libc.math cimport fabs, log

from minigrad.backends.cython._common cimport (LANES, exp_poly, fold_sum, lanes_sum, log1p_series, real, row_max,
                                              row_sum, sigmoid_r)

cdef enum:
    CHUNK = 256  # elements exponentiated per exp_chunk call (a 2 kB float64 buffer on the stack)


cdef inline void exp_chunk(const real* x, real shift, double* t, Py_ssize_t n) noexcept nogil:
    """t[i] = e^{x[i] - shift} for i < n <= CHUNK, in float64 (see the module docstring)."""
    cdef Py_ssize_t i
    if real is float:
        for i in range(n):
            t[i] = x[i] - shift
        for i in range(n):
            t[i] = exp_poly(t[i])
    else:
        for i in range(n):
            t[i] = exp_poly(x[i] - shift)


cdef inline real _row_dot(const real* a, const real* b, Py_ssize_t n) noexcept nogil:
    """sum of a * b over a contiguous run, with LANES partial sums in the arrays' precision.

    (Partial sums in float64 for float32 data would need a conversion per element,
    and gcc does not vectorise that mixed-type form; LANES float32 partial sums over
    a row are accurate to a few ulps of the row's magnitude anyway.)"""
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
    for c0 in range(0, n, 256):  # step CHUNK, written as a literal (see softmax_rows)
        k = min(CHUNK, n - c0)
        exp_chunk(x + c0, m, t, k)
        total += lanes_sum(<const double*>t, k)
    return log(total)


cdef inline void _log_softmax_row(const real* x, real* out, Py_ssize_t n) noexcept nogil:
    """out = (x - m) - log sum e^{x - m}, m = max x: in this order, since x - m is exact."""
    cdef real m = row_max(x, n)
    cdef double ls = _row_log_sum_exp(x, n, m)
    cdef Py_ssize_t r
    for r in range(n):
        out[r] = (x[r] - m) - ls


# ------------------------------------------------------------ softmax family
def softmax_rows(const real[:, ::1] x, real[:, ::1] out, bint log_out):
    """Softmax (or log-softmax) of each row of x (R, C):

    softmax:     y = e^{x - m} / sum e^{x - m},  m = max of the row (so exp never overflows)
    log-softmax: y = (x - m) - log sum e^{x - m}
    """
    cdef Py_ssize_t row, c, c0, k, n_c = x.shape[1]
    cdef const real* xr
    cdef real* outr
    cdef real m
    cdef double s
    cdef double t[CHUNK]
    with nogil:
        for row in range(x.shape[0]):
            xr = &x[row, 0]
            outr = &out[row, 0]
            if log_out:
                _log_softmax_row(xr, outr, n_c)
                continue
            m = row_max(xr, n_c)
            # step CHUNK, written as a literal: Cython turns range() into a C loop only
            # when the step is a number it can see, not a named constant
            for c0 in range(0, n_c, 256):
                k = min(CHUNK, n_c - c0)
                exp_chunk(xr + c0, m, t, k)
                for c in range(k):
                    outr[c0 + c] = <real>t[c]
            # The sum in its own pass, with LANES partial sums: "s += e" inside the
            # loop above would be a chain of dependent adds and keep that loop scalar.
            s = 1.0 / row_sum(<const real*>outr, n_c)  # one division per row, then multiplications
            for c in range(n_c):
                outr[c] = <real>(outr[c] * s)


def softmax_cols(const real[:, :, ::1] x, real[:, :, ::1] out, bint log_out, double[:, ::1] scratch):
    """Softmax / log-softmax over the middle axis of x (O, C, I): the I columns side by side,
    with a running max and sum per column, so the inner loop runs over contiguous memory.
    ``scratch`` is (2, I)."""
    cdef Py_ssize_t o, c, i, n_c = x.shape[1], n_i = x.shape[2]
    cdef const real* xr
    cdef real* outr
    cdef double* m = &scratch[0, 0]
    cdef double* s = &scratch[1, 0]
    cdef double e, v
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
                    m[i] = v if (v > m[i]) | (v != v) else m[i]  # NaN wins, as in np.max
            for c in range(n_c):
                xr = &x[o, c, 0]
                outr = &out[o, c, 0]
                for i in range(n_i):
                    e = exp_poly(xr[i] - m[i])
                    s[i] += e
                    if not log_out:
                        outr[i] = <real>e
            for i in range(n_i):
                s[i] = log(s[i]) if log_out else 1.0 / s[i]
            for c in range(n_c):
                xr = &x[o, c, 0]
                outr = &out[o, c, 0]
                for i in range(n_i):
                    if log_out:
                        outr[i] = <real>((xr[i] - m[i]) - s[i])
                    else:
                        outr[i] = <real>(outr[i] * s[i])


def softmax_backward_rows(const real[:, ::1] y, const real[:, ::1] g, real[:, ::1] out, bint log_in):
    """Backward over each row of (R, C) arrays:

    softmax (y = softmax(x)):       dx = y * (g - sum(g * y))
    log-softmax (y = log_softmax):  dx = g - e^y * sum(g)
    """
    cdef Py_ssize_t row, c, c0, k, n_c = y.shape[1]
    cdef const real* yr
    cdef const real* gr
    cdef real* outr
    cdef real s
    cdef double t[CHUNK]
    with nogil:
        for row in range(y.shape[0]):
            yr = &y[row, 0]
            gr = &g[row, 0]
            outr = &out[row, 0]
            if log_in:
                s = row_sum(gr, n_c)
                for c0 in range(0, n_c, 256):  # step CHUNK, written as a literal (see softmax_rows)
                    k = min(CHUNK, n_c - c0)
                    exp_chunk(yr + c0, 0, t, k)
                    for c in range(k):
                        outr[c0 + c] = <real>(gr[c0 + c] - t[c] * s)
            else:
                s = _row_dot(gr, yr, n_c)
                for c in range(n_c):
                    outr[c] = <real>(yr[c] * (gr[c] - s))


def softmax_backward_cols(const real[:, :, ::1] y, const real[:, :, ::1] g, real[:, :, ::1] out,
                          bint log_in, double[::1] s):
    """``softmax_backward_rows`` over the middle axis of (O, C, I) arrays; ``s`` is (I,) scratch."""
    cdef Py_ssize_t o, c, i, n_c = y.shape[1], n_i = y.shape[2]
    cdef const real* yr
    cdef const real* gr
    cdef real* outr
    with nogil:
        for o in range(y.shape[0]):
            for i in range(n_i):
                s[i] = 0
            for c in range(n_c):
                yr = &y[o, c, 0]
                gr = &g[o, c, 0]
                for i in range(n_i):
                    s[i] += gr[i] if log_in else <double>gr[i] * yr[i]
            for c in range(n_c):
                yr = &y[o, c, 0]
                gr = &g[o, c, 0]
                outr = &out[o, c, 0]
                for i in range(n_i):
                    if log_in:
                        outr[i] = <real>(gr[i] - exp_poly(yr[i]) * s[i])
                    else:
                        outr[i] = <real>(yr[i] * (gr[i] - s[i]))


# ------------------------------------------------------------ class losses
def cross_entropy(const real[:, ::1] logits, const Py_ssize_t[::1] targets, Py_ssize_t ignore_index,
                  double smoothing, real[::1] losses, real[:, ::1] logp):
    """Softmax cross-entropy of logits (N, C), one pass per row:

    logp[i] = log_softmax(logits[i])   (kept: the backward needs it)
    loss_i  = -logp[i, t_i]                                      without smoothing
            = -(1 - eps) logp[i, t_i] - eps * mean_c logp[i, c]   with label smoothing eps
            = 0                                                   where t_i == ignore_index
    Returns -1, or the first row whose target is outside 0..C-1 (and not ignore_index).
    """
    cdef Py_ssize_t n_c = logits.shape[1], row, t, bad = -1
    cdef double loss
    with nogil:
        for row in range(logits.shape[0]):
            _log_softmax_row(&logits[row, 0], &logp[row, 0], n_c)
            t = targets[row]
            if t == ignore_index:
                losses[row] = 0
                continue
            if t < 0 or t >= n_c:
                bad = row
                break
            loss = -logp[row, t]
            if smoothing != 0:
                loss = (1.0 - smoothing) * loss - smoothing * (row_sum(&logp[row, 0], n_c) / <double>n_c)
            losses[row] = <real>loss
    return bad


def cross_entropy_backward(const real[:, ::1] logp, const Py_ssize_t[::1] targets, const real[::1] g,
                           Py_ssize_t ignore_index, double smoothing, real[:, ::1] out):
    """d loss_i / d logits[i, c] = g_i (e^{logp[i, c]} - q[i, c]); q is the (smoothed) one-hot
    target: 1 - eps + eps/C at t_i, eps/C elsewhere. Ignored rows get 0.
    Returns -1, or the first row with a bad target."""
    cdef Py_ssize_t n_c = logp.shape[1], row, c, c0, k, t, bad = -1
    cdef double off = smoothing / n_c, on = 1.0 - smoothing, gr
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
            for c0 in range(0, n_c, 256):  # step CHUNK, written as a literal (see softmax_rows)
                k = min(CHUNK, n_c - c0)
                exp_chunk(lp + c0, 0, e, k)
                for c in range(k):
                    outr[c0 + c] = <real>((e[c] - off) * gr)
            # the target entry on its own: p - 1 cancels before the product, as in the numpy reference
            outr[t] = <real>((exp_poly(lp[t]) - on - off) * gr)
    return bad


def nll(const real[:, ::1] logp, const Py_ssize_t[::1] targets, Py_ssize_t ignore_index, real[::1] out):
    """out[i] = -logp[i, t_i], 0 where t_i == ignore_index. Returns -1, or the first bad row."""
    cdef Py_ssize_t n_c = logp.shape[1], row, t, bad = -1
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


def nll_backward(const Py_ssize_t[::1] targets, const real[::1] g, Py_ssize_t ignore_index, real[:, ::1] out):
    """out (N, C), zero on entry: out[i, t_i] = -g_i for every row not ignored. Returns -1, or a bad row."""
    cdef Py_ssize_t n_c = out.shape[1], row, t, bad = -1
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
def bce_with_logits(const real[::1] x, const real[::1] y, real[::1] out):
    """out = max(x, 0) - x y + log(1 + e^{-|x|}) (flat arrays): the log-loss of sigmoid(x),
    never overflowing; computed in float64 with the vectorisable exp and log1p."""
    cdef Py_ssize_t i
    cdef double xi
    with nogil:
        for i in range(x.shape[0]):
            xi = x[i]
            out[i] = <real>(((xi if xi > 0 else 0.0) - xi * y[i]) + log1p_series(exp_poly(-fabs(xi))))


def bce_with_logits_backward(const real[::1] x, const real[::1] y, const real[::1] g,
                             real[::1] gx, real[::1] gy):
    """gx = g (sigmoid(x) - y),  gy = -g x  (flat arrays).

    sigmoid: float32 by the vectorised tanh form of the sigmoid kernel; float64 as
    1 / (1 + e^{-x}) with the vectorised exp (libm's tanh would be a scalar call)."""
    cdef Py_ssize_t i
    cdef real xi, s
    with nogil:
        for i in range(x.shape[0]):
            xi = x[i]
            if real is float:
                s = sigmoid_r(xi)
            else:
                s = 1.0 / (1.0 + exp_poly(-xi))
            gx[i] = g[i] * (s - y[i])
            gy[i] = g[i] * -xi


# ------------------------------------------------------------ scatter-add
def scatter_add_rows(const Py_ssize_t[::1] idx, const real[:, ::1] g, real[:, ::1] out, Py_ssize_t skip):
    """out[idx[k], :] += g[k, :] for g (K, D), out (V, D), in order, so repeated ids accumulate.

    The backward of an embedding lookup and of ``x[int_array]``. Rows whose (wrapped)
    id equals ``skip`` are left out (an embedding's padding row; -1 for none).
    Returns -1, or the position of the first id out of range."""
    cdef Py_ssize_t n = out.shape[0], d, k, j, bad = -1
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
            for d in range(g.shape[1]):
                out[j, d] += g[k, d]
    return bad


# ----------------------------------------------------------------- dropout
def dropout_mask(const double[::1] u, double p, real scale, real[::1] out):
    """out = scale where u >= p, else 0: inverted dropout from uniform draws u in [0, 1)."""
    cdef Py_ssize_t i
    cdef double ui
    with nogil:
        for i in range(u.shape[0]):
            ui = u[i]
            out[i] = scale if ui >= p else 0
