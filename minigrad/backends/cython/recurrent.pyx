# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fused recurrent kernels in Cython: a whole sequence of RNN, LSTM or GRU steps in one call.

The same six loops as the numba backend's ``loops/recurrent.py`` (forward and BPTT),
with the same names, parameters and semantics, so one Python glue layer
(``backends/wrappers/recurrent.py``: shape checks, allocation) runs either. The
contract (shapes, saved arrays, mask and reverse semantics) is ``backends/kernel_set.py``.
Per step:

    forward:   one matrix product  h_{t-1} @ W_hh^T                (B, H) x (H, G*H)
               per batch row       gate nonlinearities, state update, output
    backward:  per batch row       d_gates from d_h (and d_c)
               one matrix product  d_h_{t-1} = d_gates @ W_hh        (B, G*H) x (G*H, H)
    after it:  d_W_hh = d_gates^T @ h_prev as ONE product over all steps, d_b_hh = column sums

How, in Cython (why each choice, and what it measured: docs/kernels.md, "The Cython
recurrent kernels"):

* the per-step product calls the ``cblas_sgemm``/``cblas_dgemm`` of numpy's own OpenBLAS
  through a C function pointer that ``set_blas`` fills at import (addresses found by
  ``backends/_blas_lib.py``); products of one or two rows, and every product when no BLAS
  was found, run a plain loop (``LOOP_MAX_ROWS``) over W_hh transposed once per call;
* each kernel takes typed memoryviews and then works on raw pointers to contiguous rows;
* the gate arithmetic of one batch row is a few short passes that each write one array,
  so that gcc can vectorise every pass; each value is computed with the numba loop's
  operations in its order, so the two backends agree to rounding;
* constants are typed like the data (``one`` is ``real``), activations are
  ``_common.pxd``'s twins of ``loops/_scalar.py``, relu keeps NaN, and the whole sequence
  runs ``with nogil``.

Masks (T, B) arrive as numpy bool arrays; a buffer of format ``?`` (one byte, 0 or 1) is
accepted by an ``unsigned char`` memoryview. Where mask[t, b] is False the state is
carried unchanged, the output is 0 and the saved gates are 0. ``reverse`` walks
t = T-1 .. 0; hs/cs are indexed by steps processed (hs[k]), gates/out/d_gi by time t.
"""
from libc.stdint cimport int64_t
from libc.stdlib cimport free
from libc.string cimport memcpy, memset

from minigrad.backends.cython._common cimport real, scratch, sigmoid_r, tanh_r

cdef enum:
    LOOP_MAX_ROWS = 2  # a product with this many rows or fewer runs the plain loop (loops/recurrent.py)
    ROW_MAJOR = 101    # the CBLAS enum values
    NO_TRANS = 111
    TRANS = 112


# ------------------------------------------------------------------ BLAS
# cblas_?gemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
# c = alpha op(a) op(b) + beta c. The three CBLAS enums are C ``int``s in both ABIs.
ctypedef void (*sgemm32_t)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                           float, float*, int) noexcept nogil
ctypedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float*, int64_t,
                           const float*, int64_t, float, float*, int64_t) noexcept nogil
ctypedef void (*dgemm32_t)(int, int, int, int, int, int, double, const double*, int, const double*, int,
                           double, double*, int) noexcept nogil
ctypedef void (*dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t) noexcept nogil

# Exactly one pair is set when a BLAS was found (both NULL otherwise).
cdef sgemm32_t _sgemm32 = NULL
cdef dgemm32_t _dgemm32 = NULL
cdef sgemm64_t _sgemm64 = NULL
cdef dgemm64_t _dgemm64 = NULL


def set_blas(size_t sgemm, size_t dgemm, int int_bits):
    """Call cblas_sgemm/cblas_dgemm at these addresses (0, 0: no BLAS; every product is a loop).

    ``int_bits`` is the width of the sizes the functions take: 32 (LP64) or 64 (ILP64).
    The addresses must stay valid as long as the kernels run: the library must stay loaded.
    Not to be called while a kernel runs in another thread (the kernels release the GIL
    and decide once per call whether the step products go to BLAS).
    """
    global _sgemm32, _dgemm32, _sgemm64, _dgemm64
    if int_bits != 32 and int_bits != 64:
        raise ValueError(f"set_blas: int_bits must be 32 or 64, got {int_bits}")
    _sgemm32, _dgemm32, _sgemm64, _dgemm64 = NULL, NULL, NULL, NULL
    if sgemm == 0 or dgemm == 0:
        return
    if int_bits == 64:
        _sgemm64, _dgemm64 = <sgemm64_t>sgemm, <dgemm64_t>dgemm
    else:
        _sgemm32, _dgemm32 = <sgemm32_t>sgemm, <dgemm32_t>dgemm


def have_blas():
    """True if the products go to BLAS (for more than LOOP_MAX_ROWS rows)."""
    return _sgemm64 != NULL or _sgemm32 != NULL


cdef inline bint _uses_blas(Py_ssize_t rows) noexcept nogil:
    return rows > LOOP_MAX_ROWS and (_sgemm64 != NULL or _sgemm32 != NULL)


cdef void _gemm_loop(bint ta, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const real* a, const real* b,
                     real* c) noexcept nogil:
    """c (m, n) = op(a) @ b by plain loops: c[i, :] += op(a)[i, p] * b[p, :], a contiguous
    row of b scaled into a row of c, the order whose inner loop vectorises (numba's gemm_loop)."""
    cdef Py_ssize_t i, j, p
    cdef real s
    cdef real* ci
    cdef const real* bp
    for i in range(m):
        ci = c + i * n
        for j in range(n):
            ci[j] = 0
        for p in range(k):
            s = a[p * m + i] if ta else a[i * k + p]
            bp = b + p * n
            for j in range(n):
                ci[j] += s * bp[j]


cdef void _gemm(bint ta, bint tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const real* a, const real* b,
                real* c) noexcept nogil:
    """c (m, n) = op(a) @ op(b), op = transpose where the flag is set; all three dense, row-major.

    BLAS when c has more than LOOP_MAX_ROWS rows and a BLAS was found, else the plain loop,
    which takes b untransposed: callers that may land there pass tb = False.
    """
    cdef int ta_ = TRANS if ta else NO_TRANS, tb_ = TRANS if tb else NO_TRANS
    cdef Py_ssize_t lda = m if ta else k, ldb = k if tb else n
    if m == 0 or n == 0:
        return
    if k == 0:  # an empty sum (BLAS may leave c untouched when k = 0)
        memset(c, 0, m * n * sizeof(real))
        return
    if not _uses_blas(m):
        _gemm_loop(ta, m, n, k, a, b, c)
    elif real is float:
        if _sgemm64 != NULL:
            _sgemm64(ROW_MAJOR, ta_, tb_, m, n, k, 1, a, lda, b, ldb, 0, c, n)
        else:
            _sgemm32(ROW_MAJOR, ta_, tb_, <int>m, <int>n, <int>k, 1, a, <int>lda, b, <int>ldb, 0, c, <int>n)
    else:
        if _dgemm64 != NULL:
            _dgemm64(ROW_MAJOR, ta_, tb_, m, n, k, 1, a, lda, b, ldb, 0, c, n)
        else:
            _dgemm32(ROW_MAJOR, ta_, tb_, <int>m, <int>n, <int>k, 1, a, <int>lda, b, <int>ldb, 0, c, <int>n)


cdef inline void _step_product(const real* h, const real* w_t, real* out, Py_ssize_t B, Py_ssize_t G,
                               Py_ssize_t H) noexcept nogil:
    """out (B, G) = h (B, H) @ W_hh^T, from w_t = W_hh^T (H, G) packed once per sequence: BLAS
    then reads the same dense panel every step without a transpose (15-25% faster per step
    than passing the transpose flag, benchmarks/recurrence_probe.py), and the plain loop of
    tiny batches needs it in that layout anyway."""
    _gemm(False, False, B, G, H, h, w_t, out)


# --------------------------------------------------------------- scratch memory
# ``scratch`` (``_common.pxd``): malloc, or MemoryError; the kernels free it in ``finally``.
cdef real* _transposed_weights(const real[:, ::1] w_hh) except? NULL:
    """W_hh^T (H, G) in fresh memory (the caller frees it)."""
    cdef Py_ssize_t G = w_hh.shape[0], H = w_hh.shape[1], i, j
    cdef real* w_t = <real*>scratch(G * H, sizeof(real))
    for i in range(G):
        for j in range(H):
            w_t[j * G + i] = w_hh[i, j]
    return w_t


# ------------------------------------------------- one row of one step (forward)
# Each works on contiguous runs of H (or G*H) numbers, in passes that each write one
# run so that gcc vectorises every one (module docstring); inlined into the (t, b) loops.
cdef inline void _carry(const real* src, real* dst, real* out, Py_ssize_t H) noexcept nogil:
    """A padded step: the state is carried unchanged, the output is 0."""
    memcpy(dst, src, H * sizeof(real))
    memset(out, 0, H * sizeof(real))


cdef inline void _rnn_row(const real* x, const real* bias, bint relu, real* h, real* o,
                          Py_ssize_t H) noexcept nogil:
    """h = act(h + x + bias) in place (h holds h_{t-1} W_hh^T), copied to the output row o."""
    cdef Py_ssize_t j
    cdef real v, zero = 0
    if relu:
        for j in range(H):
            v = h[j] + x[j] + bias[j]
            v = zero if v <= zero else v  # NaN stays NaN
            h[j] = v
            o[j] = v
    else:
        for j in range(H):
            v = tanh_r(h[j] + x[j] + bias[j])
            h[j] = v
            o[j] = v


cdef inline void _lstm_row(real* g, const real* x, const real* bias, const real* c_old, real* c_new,
                           real* h_new, real* o, Py_ssize_t H) noexcept nogil:
    """g holds h_{t-1} W_hh^T (4H,) and is overwritten with the activated i, f, g, o."""
    cdef Py_ssize_t j
    cdef real* g_i = g
    cdef real* g_f = g + H
    cdef real* g_g = g + 2 * H
    cdef real* g_o = g + 3 * H
    for j in range(4 * H):  # the pre-activations of all four gates
        g[j] = g[j] + x[j] + bias[j]
    for j in range(2 * H):  # i and f are adjacent: one sigmoid pass
        g[j] = sigmoid_r(g[j])
    for j in range(H):
        g_g[j] = tanh_r(g_g[j])
    for j in range(H):
        g_o[j] = sigmoid_r(g_o[j])
    for j in range(H):
        c_new[j] = g_f[j] * c_old[j] + g_i[j] * g_g[j]
    for j in range(H):
        h_new[j] = g_o[j] * tanh_r(c_new[j])
    memcpy(o, h_new, H * sizeof(real))


cdef inline void _gru_row(real* g, const real* x, const real* b_ih, const real* b_hh, const real* h_old,
                          real* h_new, real* o, real* hn, Py_ssize_t H) noexcept nogil:
    """g holds h_{t-1} W_hh^T (3H,) and is overwritten with the activated r, z, n."""
    cdef Py_ssize_t j
    cdef real* g_r = g
    cdef real* g_z = g + H
    cdef real* g_n = g + 2 * H
    for j in range(2 * H):  # r and z are adjacent: one sigmoid pass
        g[j] = sigmoid_r(g[j] + x[j] + b_ih[j] + b_hh[j])
    for j in range(H):
        hn[j] = g_n[j] + b_hh[2 * H + j]
    for j in range(H):
        g_n[j] = tanh_r(x[2 * H + j] + b_ih[2 * H + j] + g_r[j] * hn[j])
    for j in range(H):
        h_new[j] = g_n[j] + g_z[j] * (h_old[j] - g_n[j])  # (1 - z) n + z h, one multiply fewer
    memcpy(o, h_new, H * sizeof(real))


# ------------------------------------------------------------------ forward
def rnn_forward_loop(const real[:, :, ::1] gi, const real[:, ::1] w_hh, const real[::1] bias,
                     const unsigned char[:, ::1] mask, bint reverse, bint relu, real[:, :, ::1] out,
                     real[:, :, ::1] hs):
    """h_t = act(gi_t + h_{t-1} W_hh^T + bias), act = tanh or relu, bias = b_ih + b_hh.

    gi (T, B, H) = x_t W_ih^T, w_hh (H, H), bias (H,), mask (T, B) bool; writes out (T, B, H) and
    hs (T+1, B, H), whose hs[0] the caller has filled with h0.
    """
    cdef Py_ssize_t T = out.shape[0], B = out.shape[1], H = out.shape[2], k, t, b
    if T == 0 or B == 0:
        return
    cdef real* w_t = _transposed_weights(w_hh)
    try:
        with nogil:
            for k in range(T):
                t = T - 1 - k if reverse else k
                _step_product(&hs[k, 0, 0], w_t, &hs[k + 1, 0, 0], B, H, H)
                for b in range(B):
                    if mask[t, b]:
                        _rnn_row(&gi[t, b, 0], &bias[0], relu, &hs[k + 1, b, 0], &out[t, b, 0], H)
                    else:
                        _carry(&hs[k, b, 0], &hs[k + 1, b, 0], &out[t, b, 0], H)
    finally:
        free(w_t)


def lstm_forward_loop(const real[:, :, ::1] gi, const real[:, ::1] w_hh, const real[::1] bias,
                      const unsigned char[:, ::1] mask, bint reverse, real[:, :, ::1] out, real[:, :, ::1] hs,
                      real[:, :, ::1] cs, real[:, :, ::1] gates):
    """LSTM, gate order i, f, g, o (PyTorch's):

        [i, f, g, o] = [sigma, sigma, tanh, sigma](gi_t + h_{t-1} W_hh^T + bias)
        c_t = f * c_{t-1} + i * g,     h_t = o * tanh(c_t)

    gi (T, B, 4H) = x_t W_ih^T, w_hh (4H, H), bias (4H,) = b_ih + b_hh; writes out (T, B, H), hs and cs
    (T+1, B, H; [0] filled by the caller) and gates (T, B, 4H), the activated i, f, g, o.
    """
    cdef Py_ssize_t T = out.shape[0], B = out.shape[1], H = out.shape[2], G = 4 * H, k, t, b
    if T == 0 or B == 0:
        return
    cdef real* w_t = _transposed_weights(w_hh)
    try:
        with nogil:
            for k in range(T):
                t = T - 1 - k if reverse else k
                _step_product(&hs[k, 0, 0], w_t, &gates[t, 0, 0], B, G, H)  # recurrent pre-activations
                for b in range(B):
                    if mask[t, b]:
                        _lstm_row(&gates[t, b, 0], &gi[t, b, 0], &bias[0], &cs[k, b, 0], &cs[k + 1, b, 0],
                                  &hs[k + 1, b, 0], &out[t, b, 0], H)
                    else:
                        _carry(&hs[k, b, 0], &hs[k + 1, b, 0], &out[t, b, 0], H)
                        _carry(&cs[k, b, 0], &cs[k + 1, b, 0], &out[t, b, 0], H)
                        memset(&gates[t, b, 0], 0, G * sizeof(real))
    finally:
        free(w_t)


def gru_forward_loop(const real[:, :, ::1] gi, const real[:, ::1] w_hh, const real[::1] b_ih,
                     const real[::1] b_hh, const unsigned char[:, ::1] mask, bint reverse, real[:, :, ::1] out,
                     real[:, :, ::1] hs, real[:, :, ::1] gates, real[:, :, ::1] hn):
    """GRU, gate order r, z, n (PyTorch's; r applies to W_hn h + b_hn):

        r = sigma(gi_r + b_ir + h W_hr^T + b_hr),  z = sigma(gi_z + b_iz + h W_hz^T + b_hz)
        hn = h W_hn^T + b_hn,                      n = tanh(gi_n + b_in + r * hn)
        h_t = (1 - z) * n + z * h_{t-1}

    gi (T, B, 3H) = x_t W_ih^T, w_hh (3H, H), b_ih and b_hh (3H,); writes out (T, B, H),
    hs (T+1, B, H; hs[0] filled by the caller), gates (T, B, 3H) = activated r, z, n,
    and hn (T, B, H).
    """
    cdef Py_ssize_t T = out.shape[0], B = out.shape[1], H = out.shape[2], G = 3 * H, k, t, b
    if T == 0 or B == 0:
        return
    cdef real* w_t = _transposed_weights(w_hh)
    try:
        with nogil:
            for k in range(T):
                t = T - 1 - k if reverse else k
                _step_product(&hs[k, 0, 0], w_t, &gates[t, 0, 0], B, G, H)
                for b in range(B):
                    if mask[t, b]:
                        _gru_row(&gates[t, b, 0], &gi[t, b, 0], &b_ih[0], &b_hh[0], &hs[k, b, 0],
                                 &hs[k + 1, b, 0], &out[t, b, 0], &hn[t, b, 0], H)
                    else:
                        _carry(&hs[k, b, 0], &hs[k + 1, b, 0], &out[t, b, 0], H)
                        memset(&gates[t, b, 0], 0, G * sizeof(real))
                        memset(&hn[t, b, 0], 0, H * sizeof(real))
    finally:
        free(w_t)


# ------------------------------------------------ one row of one step (backward)
# dh (and dc) arrive as the gradient of the state after the step and leave as the
# gradient of the state before it (minus the W_hh product, added by _propagate).
cdef inline void _rnn_row_back(const real* h, const real* d_o, const real* dh, bint relu, real* dg,
                               Py_ssize_t H) noexcept nogil:
    """d_a = (dh + d_out) * act'(a), act' from the output h: 1 - h^2 (tanh), 0 where h <= 0 else 1 (relu)."""
    cdef Py_ssize_t j
    cdef real hj, d, zero = 0, one = 1
    if relu:
        for j in range(H):
            hj = h[j]
            d = dh[j] + d_o[j]
            dg[j] = zero if hj <= zero else d  # a NaN h passes the gradient, as relu's does
    else:
        for j in range(H):
            hj = h[j]
            dg[j] = (dh[j] + d_o[j]) * (one - hj * hj)


cdef inline void _lstm_row_back(const real* g, const real* c_old, const real* c_new, const real* d_o,
                                const real* dh, real* dc, real* dg, Py_ssize_t H) noexcept nogil:
    """Through c_t = f c_{t-1} + i g and h_t = o tanh(c_t), with dh' = d_out_t + d_h_t:

        dc' = d_c_t + dh' o (1 - tanh(c_t)^2)
        d_i = dc' g i(1 - i)      d_f = dc' c_{t-1} f(1 - f)
        d_g = dc' i (1 - g^2)     d_o = dh' tanh(c_t) o(1 - o)       d_c_{t-1} = dc' f

    The blocks of dg hold intermediate values until their own pass: dh' in the i block,
    tanh(c_t) in the o block.
    """
    cdef Py_ssize_t j
    cdef const real* g_i = g
    cdef const real* g_f = g + H
    cdef const real* g_g = g + 2 * H
    cdef const real* g_o = g + 3 * H
    cdef real* dg_i = dg
    cdef real* dg_f = dg + H
    cdef real* dg_g = dg + 2 * H
    cdef real* dg_o = dg + 3 * H
    cdef real t, one = 1
    for j in range(H):
        dg_i[j] = dh[j] + d_o[j]  # dh'
    for j in range(H):
        dg_o[j] = tanh_r(c_new[j])  # tanh(c_t)
    for j in range(H):
        t = dg_o[j]
        dc[j] = dc[j] + dg_i[j] * g_o[j] * (one - t * t)  # dc'
    for j in range(H):
        dg_o[j] = dg_i[j] * dg_o[j] * g_o[j] * (one - g_o[j])
    for j in range(H):
        dg_i[j] = dc[j] * g_g[j] * g_i[j] * (one - g_i[j])
    for j in range(H):
        dg_f[j] = dc[j] * c_old[j] * g_f[j] * (one - g_f[j])
    for j in range(H):
        dg_g[j] = dc[j] * g_i[j] * (one - g_g[j] * g_g[j])
    for j in range(H):
        dc[j] = dc[j] * g_f[j]


cdef inline void _gru_row_back(const real* g, const real* hn, const real* h_old, const real* d_o, real* dh,
                               real* dg, real* dgh, Py_ssize_t H) noexcept nogil:
    """Through h_t = n + z (h_{t-1} - n), n = tanh(gi_n + r hn), with dh' = d_out_t + d_h_t:

        d_n = dh' (1 - z) (1 - n^2)  (= d gi_n)     d_z = dh' (h_{t-1} - n) z(1 - z)
        d_r = d_n hn r(1 - r)                        d_hn = d_n r
        d_h_{t-1} = dh' z (+ [d_r, d_z, d_hn] @ W_hh, added by _propagate)

    dg is gi's gradient, dgh that of h W_hh^T + b_hh: they differ in the n block only.
    """
    cdef Py_ssize_t j
    cdef const real* g_r = g
    cdef const real* g_z = g + H
    cdef const real* g_n = g + 2 * H
    cdef real* dg_r = dg
    cdef real* dg_z = dg + H
    cdef real* dg_n = dg + 2 * H
    cdef real one = 1
    for j in range(H):
        dh[j] = dh[j] + d_o[j]  # dh'
    for j in range(H):
        dg_n[j] = dh[j] * (one - g_z[j]) * (one - g_n[j] * g_n[j])
    for j in range(H):
        dg_z[j] = dh[j] * (h_old[j] - g_n[j]) * g_z[j] * (one - g_z[j])
    for j in range(H):
        dg_r[j] = dg_n[j] * hn[j] * g_r[j] * (one - g_r[j])
    memcpy(dgh, dg, 2 * H * sizeof(real))
    for j in range(H):
        dgh[2 * H + j] = dg_n[j] * g_r[j]
    for j in range(H):
        dh[j] = dh[j] * g_z[j]


cdef inline void _propagate(const real* d_gates, const real* w_hh, const unsigned char* mask_t, real* tmp,
                            real* dh, Py_ssize_t B, Py_ssize_t G, Py_ssize_t H, bint add) noexcept nogil:
    """dh[b] (+)= d_gates[b] @ W_hh for the real rows; padded rows keep dh (carried state)."""
    cdef Py_ssize_t b, j
    cdef real* row
    cdef const real* new
    _gemm(False, False, B, H, G, d_gates, w_hh, tmp)
    for b in range(B):
        if mask_t[b]:
            row, new = dh + b * H, tmp + b * H
            if add:
                for j in range(H):
                    row[j] += new[j]
            else:
                memcpy(row, new, H * sizeof(real))


cdef void _finish(const real* d_gates, const real* hs, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t G,
                  bint reverse, real* h_rev, real* d_w_hh, real* d_b_hh) noexcept nogil:
    """d_W_hh (G, H) = sum_t d_gates[t]^T h_prev[t] as ONE (G, T*B) x (T*B, H) product, and
    d_b_hh (G,) = the sum of d_gates (T, B, G) over steps and rows.

    h_prev[t] = h_{t-1} of the step at time t: hs[:T] itself, or hs[:T] reversed (copied into
    h_rev) when the steps ran backwards, since hs (T+1, B, H) is in processing order.
    """
    cdef Py_ssize_t t, r, j, step = B * H
    cdef const real* h_prev = hs
    cdef const real* row
    if reverse:
        for t in range(T):
            memcpy(h_rev + t * step, hs + (T - 1 - t) * step, step * sizeof(real))
        h_prev = h_rev
    _gemm(True, False, G, H, T * B, d_gates, h_prev, d_w_hh)
    for j in range(G):  # column sums, a whole row at a time (the inner loop vectorises)
        d_b_hh[j] = 0
    for r in range(T * B):
        row = d_gates + r * G
        for j in range(G):
            d_b_hh[j] += row[j]


# ------------------------------------------------------------------ backward
# Each kernel below takes its scratch memory in one block before releasing the GIL and
# frees it in ``finally``: tmp (B, H), one step's W_hh product, then h_rev (T, B, H), the
# states reversed for _finish (only when reverse), then any array of the kernel's own.
cdef real* _backward_scratch(real[:, ::1] d_h0, Py_ssize_t T, bint reverse, Py_ssize_t extra) except NULL:
    """B*H + (T*B*H if reverse) + extra uninitialised numbers of d_h0's type, d_h0 (B, H)."""
    cdef Py_ssize_t state = d_h0.shape[0] * d_h0.shape[1]
    return <real*>scratch(state + (T * state if reverse else 0) + extra, sizeof(real))


def rnn_backward_loop(const real[:, :, ::1] hs, const real[:, ::1] w_hh, const unsigned char[:, ::1] mask,
                      bint reverse, bint relu, const real[:, :, ::1] d_out, real[:, :, ::1] d_gi,
                      real[:, ::1] d_w_hh, real[::1] d_b_hh, real[:, ::1] d_h0):
    """BPTT for rnn_forward_loop: d_a_t = (d_out_t + d_h_t) act'(a_t), d_h_{t-1} = d_a_t @ W_hh.

    d_h0 (B, H) arrives filled with d_h_n and is updated in place; writes d_gi (T, B, H),
    d_w_hh (H, H) and d_b_hh (H,).
    """
    cdef Py_ssize_t T = d_gi.shape[0], B = d_gi.shape[1], H = d_gi.shape[2], G = H, k, t, b
    cdef real* tmp = _backward_scratch(d_h0, T, reverse, 0)
    cdef real* h_rev = tmp + B * H
    try:
        with nogil:
            for k in range(T - 1, -1, -1):
                t = T - 1 - k if reverse else k
                for b in range(B):
                    if mask[t, b]:
                        _rnn_row_back(&hs[k + 1, b, 0], &d_out[t, b, 0], &d_h0[b, 0], relu, &d_gi[t, b, 0], H)
                    else:
                        memset(&d_gi[t, b, 0], 0, H * sizeof(real))
                _propagate(&d_gi[t, 0, 0], &w_hh[0, 0], &mask[t, 0], tmp, &d_h0[0, 0], B, G, H, False)
            _finish(&d_gi[0, 0, 0], &hs[0, 0, 0], T, B, H, G, reverse, h_rev, &d_w_hh[0, 0], &d_b_hh[0])
    finally:
        free(tmp)


def lstm_backward_loop(const real[:, :, ::1] gates, const real[:, :, ::1] hs, const real[:, :, ::1] cs,
                       const real[:, ::1] w_hh, const unsigned char[:, ::1] mask, bint reverse,
                       const real[:, :, ::1] d_out, real[:, :, ::1] d_gi, real[:, ::1] d_w_hh, real[::1] d_b_hh,
                       real[:, ::1] d_h0, real[:, ::1] d_c0):
    """BPTT for lstm_forward_loop (equations in _lstm_row_back); d_h_{t-1} = d_gates_t @ W_hh.

    d_h0 and d_c0 (B, H) arrive filled with d_h_n and d_c_n and are updated in place; writes
    d_gi (T, B, 4H), d_w_hh (4H, H) and d_b_hh (4H,).
    """
    cdef Py_ssize_t T = d_out.shape[0], B = d_out.shape[1], H = d_out.shape[2], G = 4 * H, k, t, b
    cdef real* tmp = _backward_scratch(d_h0, T, reverse, 0)
    cdef real* h_rev = tmp + B * H
    try:
        with nogil:
            for k in range(T - 1, -1, -1):
                t = T - 1 - k if reverse else k
                for b in range(B):
                    if mask[t, b]:
                        _lstm_row_back(&gates[t, b, 0], &cs[k, b, 0], &cs[k + 1, b, 0], &d_out[t, b, 0],
                                       &d_h0[b, 0], &d_c0[b, 0], &d_gi[t, b, 0], H)
                    else:
                        memset(&d_gi[t, b, 0], 0, G * sizeof(real))
                _propagate(&d_gi[t, 0, 0], &w_hh[0, 0], &mask[t, 0], tmp, &d_h0[0, 0], B, G, H, False)
            _finish(&d_gi[0, 0, 0], &hs[0, 0, 0], T, B, H, G, reverse, h_rev, &d_w_hh[0, 0], &d_b_hh[0])
    finally:
        free(tmp)


def gru_backward_loop(const real[:, :, ::1] gates, const real[:, :, ::1] hn, const real[:, :, ::1] hs,
                      const real[:, ::1] w_hh, const unsigned char[:, ::1] mask, bint reverse,
                      const real[:, :, ::1] d_out, real[:, :, ::1] d_gi, real[:, ::1] d_w_hh, real[::1] d_b_hh,
                      real[:, ::1] d_h0):
    """BPTT for gru_forward_loop (equations in _gru_row_back). The recurrent side's gradient
    d_gh differs from d_gi in the n block, so it gets its own (T, B, 3H) scratch array.

    d_h0 (B, H) arrives filled with d_h_n and is updated in place; writes d_gi (T, B, 3H),
    d_w_hh (3H, H) and d_b_hh (3H,).
    """
    cdef Py_ssize_t T = d_out.shape[0], B = d_out.shape[1], H = d_out.shape[2], G = 3 * H, k, t, b
    cdef real* tmp = _backward_scratch(d_h0, T, reverse, T * B * G)
    cdef real* h_rev = tmp + B * H
    cdef real* d_gh = h_rev + (T * B * H if reverse else 0)
    try:
        with nogil:
            for k in range(T - 1, -1, -1):
                t = T - 1 - k if reverse else k
                for b in range(B):
                    if mask[t, b]:
                        _gru_row_back(&gates[t, b, 0], &hn[t, b, 0], &hs[k, b, 0], &d_out[t, b, 0], &d_h0[b, 0],
                                      &d_gi[t, b, 0], d_gh + (t * B + b) * G, H)
                    else:
                        memset(&d_gi[t, b, 0], 0, G * sizeof(real))
                        memset(d_gh + (t * B + b) * G, 0, G * sizeof(real))
                _propagate(d_gh + t * B * G, &w_hh[0, 0], &mask[t, 0], tmp, &d_h0[0, 0], B, G, H, True)
            _finish(d_gh, &hs[0, 0, 0], T, B, H, G, reverse, h_rev, &d_w_hh[0, 0], &d_b_hh[0])
    finally:
        free(tmp)


# numpy's own BLAS, found once at import (a plain loop does every product if there is none).
from minigrad.backends._blas_lib import gemm_addresses

_found = gemm_addresses()
if _found is not None:
    set_blas(*_found)
