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
from libc.stdlib cimport free
from libc.string cimport memcpy, memset
from cython.parallel cimport parallel

from minigrad.backends.cython._common cimport real, scratch, sigmoid_r, tanh_r

cdef enum:
    SMALL_GEMM = 1 << 19  # the split loops' products in column blocks of at most this many multiply-adds ...
    SMALL_GEMM_COLS = 16  # ... and at least this many columns (loops/recurrent.py, _matmul_blocks)


include "_blas.pxi"  # _gemm: numpy's own cblas_?gemm through C pointers, or a plain loop


cdef inline void _step_product(const real* h, const real* w_t, real* out, Py_ssize_t B, Py_ssize_t G,
                               Py_ssize_t H) noexcept nogil:
    """out (B, G) = h (B, H) @ W_hh^T, from w_t = W_hh^T (H, G) packed once per sequence: BLAS
    then reads the same dense panel every step without a transpose (15-25% faster per step
    than passing the transpose flag, benchmarks/recurrence_probe.py), and the plain loop of
    tiny batches needs it in that layout anyway."""
    _gemm(False, False, B, G, H, h, H, w_t, G, out, G)


cdef void _gemm_blocks(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const real* a, Py_ssize_t lda, const real* b,
                       Py_ssize_t ldb, real* c, Py_ssize_t ldc) noexcept nogil:
    """c = a @ b on the calling thread, in column blocks of at most SMALL_GEMM multiply-adds
    where such blocks fit: OpenBLAS runs products that small with kernels that read b where
    it lies instead of copying (packing) it first, and a core's block of W_hh is the same
    memory step after step (``_matmul_blocks`` in loops/recurrent.py; docs/kernels.md)."""
    cdef Py_ssize_t j, cols
    if m <= LOOP_MAX_ROWS or m * k * n <= SMALL_GEMM or m * k * SMALL_GEMM_COLS > SMALL_GEMM:
        _gemm(False, False, m, n, k, a, lda, b, ldb, c, ldc)
        return
    cols = SMALL_GEMM // (m * k) // SMALL_GEMM_COLS * SMALL_GEMM_COLS
    if cols < SMALL_GEMM_COLS:
        cols = SMALL_GEMM_COLS
    j = 0
    while j < n:
        _gemm(False, False, m, min(cols, n - j), k, a, lda, b + j, ldb, c + j, ldc)
        j += cols


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
# Each works on contiguous runs of U numbers per gate (a whole row: U = H; a core's share
# of the units on the split path), in passes that each write one run so that gcc
# vectorises every one (module docstring); inlined into the (t, b) loops.
#
# ``pre`` holds the row's recurrent pre-activations h_{t-1} W_hh^T, gate q at pre + q*ps;
# ``g`` (the saved gates), ``x`` (gi_t) and the biases have gate q at + q*gs. The one-step
# loops compute the product into the gates array itself (pre = g, ps = gs = H); the split
# loops into each core's scratch (ps = U, gs = H). Pointers arrive offset to the first unit.
cdef inline void _carry(const real* src, real* dst, real* out, Py_ssize_t U) noexcept nogil:
    """A padded step: the state is carried unchanged, the output is 0."""
    memcpy(dst, src, U * sizeof(real))
    memset(out, 0, U * sizeof(real))


cdef inline void _zero_gates(real* g, Py_ssize_t nq, Py_ssize_t gs, Py_ssize_t U) noexcept nogil:
    """U units of each of nq gates (gate q at g + q*gs) set to 0: a padded step's saved gates."""
    cdef Py_ssize_t q
    for q in range(nq):
        memset(g + q * gs, 0, U * sizeof(real))


cdef inline void _rnn_row(const real* pre, const real* x, const real* bias, bint relu, real* h, real* o,
                          Py_ssize_t U) noexcept nogil:
    """h = act(pre + x + bias), copied to the output row o."""
    cdef Py_ssize_t j
    cdef real v, zero = 0
    if relu:
        for j in range(U):
            v = pre[j] + x[j] + bias[j]
            v = zero if v <= zero else v  # NaN stays NaN
            h[j] = v
            o[j] = v
    else:
        for j in range(U):
            v = tanh_r(pre[j] + x[j] + bias[j])
            h[j] = v
            o[j] = v


cdef inline void _lstm_row(const real* pre, Py_ssize_t ps, real* g, Py_ssize_t gs, const real* x, const real* bias,
                           const real* c_old, real* c_new, real* h_new, real* o, Py_ssize_t U) noexcept nogil:
    """g = the activated i, f, g, o of U units (gate stride gs), from pre (gate stride ps)."""
    cdef Py_ssize_t j, q
    cdef real* g_i = g
    cdef real* g_f = g + gs
    cdef real* g_g = g + 2 * gs
    cdef real* g_o = g + 3 * gs
    cdef const real* pq
    cdef real* gq
    cdef const real* xq
    cdef const real* bq
    for q in range(4):  # the pre-activations of all four gates
        pq, gq, xq, bq = pre + q * ps, g + q * gs, x + q * gs, bias + q * gs
        for j in range(U):
            gq[j] = pq[j] + xq[j] + bq[j]
    for j in range(U):
        g_i[j] = sigmoid_r(g_i[j])
    for j in range(U):
        g_f[j] = sigmoid_r(g_f[j])
    for j in range(U):
        g_g[j] = tanh_r(g_g[j])
    for j in range(U):
        g_o[j] = sigmoid_r(g_o[j])
    for j in range(U):
        c_new[j] = g_f[j] * c_old[j] + g_i[j] * g_g[j]
    for j in range(U):
        h_new[j] = g_o[j] * tanh_r(c_new[j])
    memcpy(o, h_new, U * sizeof(real))


cdef inline void _gru_row(const real* pre, Py_ssize_t ps, real* g, Py_ssize_t gs, const real* x, const real* b_ih,
                          const real* b_hh, const real* h_old, real* h_new, real* o, real* hn,
                          Py_ssize_t U) noexcept nogil:
    """g = the activated r, z, n of U units (gate stride gs), from pre (gate stride ps)."""
    cdef Py_ssize_t j, q
    cdef real* g_r = g
    cdef real* g_n = g + 2 * gs
    cdef const real* pq
    cdef real* gq
    cdef const real* xq
    cdef const real* bi
    cdef const real* bh
    for q in range(2):  # r and z
        pq, gq, xq, bi, bh = pre + q * ps, g + q * gs, x + q * gs, b_ih + q * gs, b_hh + q * gs
        for j in range(U):
            gq[j] = sigmoid_r(pq[j] + xq[j] + bi[j] + bh[j])
    pq, bh = pre + 2 * ps, b_hh + 2 * gs
    for j in range(U):  # before g_n is written: on the one-step path pre's n block is g_n
        hn[j] = pq[j] + bh[j]
    xq, bi = x + 2 * gs, b_ih + 2 * gs
    for j in range(U):
        g_n[j] = tanh_r(xq[j] + bi[j] + g_r[j] * hn[j])
    gq = g + gs  # z
    for j in range(U):
        h_new[j] = g_n[j] + gq[j] * (h_old[j] - g_n[j])  # (1 - z) n + z h, one multiply fewer
    memcpy(o, h_new, U * sizeof(real))


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
                        _rnn_row(&hs[k + 1, b, 0], &gi[t, b, 0], &bias[0], relu, &hs[k + 1, b, 0], &out[t, b, 0], H)
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
                        _lstm_row(&gates[t, b, 0], H, &gates[t, b, 0], H, &gi[t, b, 0], &bias[0], &cs[k, b, 0],
                                  &cs[k + 1, b, 0], &hs[k + 1, b, 0], &out[t, b, 0], H)
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
                        _gru_row(&gates[t, b, 0], H, &gates[t, b, 0], H, &gi[t, b, 0], &b_ih[0], &b_hh[0],
                                 &hs[k, b, 0], &hs[k + 1, b, 0], &out[t, b, 0], &hn[t, b, 0], H)
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
                                const real* dh, real* dc, real* dg, Py_ssize_t gs, Py_ssize_t U) noexcept nogil:
    """Through c_t = f c_{t-1} + i g and h_t = o tanh(c_t), with dh' = d_out_t + d_h_t:

        dc' = d_c_t + dh' o (1 - tanh(c_t)^2)
        d_i = dc' g i(1 - i)      d_f = dc' c_{t-1} f(1 - f)
        d_g = dc' i (1 - g^2)     d_o = dh' tanh(c_t) o(1 - o)       d_c_{t-1} = dc' f

    The blocks of dg hold intermediate values until their own pass: dh' in the i block,
    tanh(c_t) in the o block. U units; gate q of g and dg at + q*gs.
    """
    cdef Py_ssize_t j
    cdef const real* g_i = g
    cdef const real* g_f = g + gs
    cdef const real* g_g = g + 2 * gs
    cdef const real* g_o = g + 3 * gs
    cdef real* dg_i = dg
    cdef real* dg_f = dg + gs
    cdef real* dg_g = dg + 2 * gs
    cdef real* dg_o = dg + 3 * gs
    cdef real t, one = 1
    for j in range(U):
        dg_i[j] = dh[j] + d_o[j]  # dh'
    for j in range(U):
        dg_o[j] = tanh_r(c_new[j])  # tanh(c_t)
    for j in range(U):
        t = dg_o[j]
        dc[j] = dc[j] + dg_i[j] * g_o[j] * (one - t * t)  # dc'
    for j in range(U):
        dg_o[j] = dg_i[j] * dg_o[j] * g_o[j] * (one - g_o[j])
    for j in range(U):
        dg_i[j] = dc[j] * g_g[j] * g_i[j] * (one - g_i[j])
    for j in range(U):
        dg_f[j] = dc[j] * c_old[j] * g_f[j] * (one - g_f[j])
    for j in range(U):
        dg_g[j] = dc[j] * g_i[j] * (one - g_g[j] * g_g[j])
    for j in range(U):
        dc[j] = dc[j] * g_f[j]


cdef inline void _gru_row_back(const real* g, const real* hn, const real* h_old, const real* d_o, real* dh,
                               real* dg, real* dgh, Py_ssize_t gs, Py_ssize_t U) noexcept nogil:
    """Through h_t = n + z (h_{t-1} - n), n = tanh(gi_n + r hn), with dh' = d_out_t + d_h_t:

        d_n = dh' (1 - z) (1 - n^2)  (= d gi_n)     d_z = dh' (h_{t-1} - n) z(1 - z)
        d_r = d_n hn r(1 - r)                        d_hn = d_n r
        d_h_{t-1} = dh' z (+ [d_r, d_z, d_hn] @ W_hh, added by _propagate)

    dg is gi's gradient, dgh that of h W_hh^T + b_hh: they differ in the n block only.
    U units; gate q of g, dg and dgh at + q*gs.
    """
    cdef Py_ssize_t j
    cdef const real* g_r = g
    cdef const real* g_z = g + gs
    cdef const real* g_n = g + 2 * gs
    cdef real* dg_r = dg
    cdef real* dg_z = dg + gs
    cdef real* dg_n = dg + 2 * gs
    cdef real one = 1
    for j in range(U):
        dh[j] = dh[j] + d_o[j]  # dh'
    for j in range(U):
        dg_n[j] = dh[j] * (one - g_z[j]) * (one - g_n[j] * g_n[j])
    for j in range(U):
        dg_z[j] = dh[j] * (h_old[j] - g_n[j]) * g_z[j] * (one - g_z[j])
    for j in range(U):
        dg_r[j] = dg_n[j] * hn[j] * g_r[j] * (one - g_r[j])
    memcpy(dgh, dg_r, U * sizeof(real))
    memcpy(dgh + gs, dg_z, U * sizeof(real))
    for j in range(U):
        dgh[2 * gs + j] = dg_n[j] * g_r[j]
    for j in range(U):
        dh[j] = dh[j] * g_z[j]


cdef inline void _propagate(const real* d_gates, const real* w, Py_ssize_t ldw, const unsigned char* mask_t,
                            real* tmp, real* dh, Py_ssize_t ld, Py_ssize_t B, Py_ssize_t G, Py_ssize_t U,
                            bint add, bint blocks) noexcept nogil:
    """dh[b, :U] (+)= d_gates[b] @ w for the real rows; padded rows keep dh (carried state).

    d_gates (B, G) dense; w (G, U) with rows ldw apart (all of W_hh, U = H, or the column
    block of a core's units); tmp and dh (B, U) with rows ld apart. ``blocks``: the product
    on the calling thread in column blocks (_gemm_blocks), for the split loops."""
    cdef Py_ssize_t b, j
    cdef real* row
    cdef const real* new
    if blocks:
        _gemm_blocks(B, U, G, d_gates, G, w, ldw, tmp, ld)
    else:
        _gemm(False, False, B, U, G, d_gates, G, w, ldw, tmp, ld)
    for b in range(B):
        if mask_t[b]:
            row, new = dh + b * ld, tmp + b * ld
            if add:
                for j in range(U):
                    row[j] += new[j]
            else:
                memcpy(row, new, U * sizeof(real))


cdef const real* _h_prev(const real* hs, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, bint reverse,
                         real* h_rev) noexcept nogil:
    """h_prev (T*B, H): h_{t-1} of the step at time t, row t*B + b. That is hs[:T] itself, or
    hs[:T] reversed (copied into h_rev) when the steps ran backwards, since hs (T+1, B, H)
    is in processing order."""
    cdef Py_ssize_t t, step = B * H
    if not reverse:
        return hs
    for t in range(T):
        memcpy(h_rev + t * step, hs + (T - 1 - t) * step, step * sizeof(real))
    return h_rev


cdef void _finish_rows(const real* d_gates, Py_ssize_t ldg, const real* h_prev, Py_ssize_t TB, Py_ssize_t H,
                       Py_ssize_t r0, Py_ssize_t r1, real* d_w, real* d_b) noexcept nogil:
    """Rows r0 .. r1 of d_W (R, H) = d_gates^T h_prev over all steps at once, ONE
    (r1-r0, T*B) x (T*B, H) product, and of d_b (R,) = the column sums of d_gates.
    d_gates (T*B, R) with rows ldg apart, h_prev (T*B, H)."""
    cdef Py_ssize_t r, j, n = r1 - r0
    cdef const real* row
    if n <= 0:
        return
    _gemm(True, False, n, H, TB, d_gates + r0, ldg, h_prev, H, d_w + r0 * H, H)
    for j in range(n):  # column sums, a whole row at a time (the inner loop vectorises)
        d_b[r0 + j] = 0
    for r in range(TB):
        row = d_gates + r * ldg + r0
        for j in range(n):
            d_b[r0 + j] += row[j]


cdef void _finish(const real* d_gates, const real* hs, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t G,
                  bint reverse, real* h_rev, real* d_w_hh, real* d_b_hh) noexcept nogil:
    """d_W_hh (G, H) = sum_t d_gates[t]^T h_prev[t] and d_b_hh (G,) = the sum of d_gates
    (T, B, G) over steps and rows: every row of _finish_rows at once."""
    _finish_rows(d_gates, G, _h_prev(hs, T, B, H, reverse, h_rev), T * B, H, 0, G, d_w_hh, d_b_hh)


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
                _propagate(&d_gi[t, 0, 0], &w_hh[0, 0], H, &mask[t, 0], tmp, &d_h0[0, 0], H, B, G, H, False, False)
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
                                       &d_h0[b, 0], &d_c0[b, 0], &d_gi[t, b, 0], H, H)
                    else:
                        memset(&d_gi[t, b, 0], 0, G * sizeof(real))
                _propagate(&d_gi[t, 0, 0], &w_hh[0, 0], H, &mask[t, 0], tmp, &d_h0[0, 0], H, B, G, H, False, False)
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
                                      &d_gi[t, b, 0], d_gh + (t * B + b) * G, H, H)
                    else:
                        memset(&d_gi[t, b, 0], 0, G * sizeof(real))
                        memset(d_gh + (t * B + b) * G, 0, G * sizeof(real))
                _propagate(d_gh + t * B * G, &w_hh[0, 0], H, &mask[t, 0], tmp, &d_h0[0, 0], H, B, G, H, True, False)
            _finish(d_gh, &hs[0, 0, 0], T, B, H, G, reverse, h_rev, &d_w_hh[0, 0], &d_b_hh[0])
    finally:
        free(tmp)


# ------------------------------------------------- the recurrence split across cores
# The twins of loops/recurrent_parallel.py (its docstring explains the split): each
# OpenMP thread owns the hidden units lo .. hi of chunk p (chunks of ``unit``), keeps
# its block of W_hh for the whole sequence and applies its units' gate arithmetic with
# the row helpers above. One OpenMP parallel region runs the whole sequence; the threads
# meet at a barrier after each step (libgomp: ~0.3 us on 2 cores, where a parallel region
# per step, numba's way, costs ~1 us). BLAS must run on one thread inside each share: the
# wrapper sets that for the call (wrappers/_recurrent_plan.py). Built without OpenMP
# (a compiler without -fopenmp), the region runs on one thread, ``threads()`` says 1 and
# the wrapper never picks these loops.
include "_openmp.pxi"  # mg_thread, mg_team, mg_barrier, threads()


cdef Py_ssize_t _parts(Py_ssize_t H, Py_ssize_t unit) except -1:
    """How many chunks of ``unit`` units cover H (the number of threads to ask for)."""
    if unit < 1:
        raise ValueError(f"split recurrent loop: unit must be >= 1, got {unit}")
    return (H + unit - 1) // unit


cdef void _pack_rows(const real* w_hh, Py_ssize_t H, Py_ssize_t nq, Py_ssize_t lo, Py_ssize_t hi,
                     real* block) noexcept nogil:
    """Core p's forward block (H, nq*U): the W_hh rows of its units lo .. hi, transposed and
    gate-major, block[i, q*U + u] = W_hh[q*H + lo + u, i] (w_hh (nq*H, H))."""
    cdef Py_ssize_t U = hi - lo, q, u, i
    cdef const real* row
    for q in range(nq):
        for u in range(U):
            row = w_hh + (q * H + lo + u) * H
            for i in range(H):
                block[i * nq * U + q * U + u] = row[i]


cdef void _pack_mine(const real* w_hh, Py_ssize_t H, Py_ssize_t nq, Py_ssize_t unit, Py_ssize_t parts,
                     real* packed) noexcept nogil:
    """Inside the region: this thread packs the blocks of its chunks (packed + nq*H*lo each),
    so each block is first touched, and then read every step, by the core that owns it."""
    cdef Py_ssize_t p = mg_thread(), lo
    while p < parts:
        lo = p * unit
        _pack_rows(w_hh, H, nq, lo, min(H, lo + unit), packed + nq * H * lo)
        p = p + mg_team()


cdef inline real* _units_product(const real* h, const real* packed, real* pre_all, Py_ssize_t B, Py_ssize_t H,
                                 Py_ssize_t nq, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Chunk lo .. hi's pre-activations (B, nq*U) = h_{t-1} (B, H) @ its packed block (H, nq*U),
    in its slice of the scratch (pre_all + B*nq*lo); returns that slice."""
    cdef Py_ssize_t n = nq * (hi - lo)
    cdef real* pre = pre_all + B * nq * lo
    _gemm_blocks(B, n, H, h, H, packed + nq * H * lo, n, pre, n)
    return pre


def rnn_forward_parts(const real[:, :, ::1] gi, const real[:, ::1] w_hh, const real[::1] bias,
                      const unsigned char[:, ::1] mask, bint reverse, bint relu, Py_ssize_t unit,
                      real[:, :, ::1] out, real[:, :, ::1] hs):
    """rnn_forward_loop with the units split across cores in chunks of ``unit``."""
    cdef Py_ssize_t T = out.shape[0], B = out.shape[1], H = out.shape[2], k, t, b, p, lo, hi, U
    cdef Py_ssize_t parts = _parts(H, unit)
    if T == 0 or B == 0:
        return
    cdef real* packed = <real*>scratch(H * H + B * H, sizeof(real))
    cdef real* pre_all = packed + H * H  # core p's (B, U) products at pre_all + B*lo
    cdef real* pre
    try:
        with nogil, parallel(num_threads=parts):
            _pack_mine(&w_hh[0, 0], H, 1, unit, parts, packed)
            for k in range(T):
                t = T - 1 - k if reverse else k
                p = mg_thread()
                while p < parts:
                    lo, hi = p * unit, min(H, p * unit + unit)
                    U, pre = hi - lo, _units_product(&hs[k, 0, 0], packed, pre_all, B, H, 1, lo, hi)
                    for b in range(B):
                        if mask[t, b]:
                            _rnn_row(pre + b * U, &gi[t, b, lo], &bias[lo], relu, &hs[k + 1, b, lo],
                                     &out[t, b, lo], U)
                        else:
                            _carry(&hs[k, b, lo], &hs[k + 1, b, lo], &out[t, b, lo], U)
                    p = p + mg_team()
                mg_barrier()  # step k+1 multiplies every unit of h_k
    finally:
        free(packed)


def lstm_forward_parts(const real[:, :, ::1] gi, const real[:, ::1] w_hh, const real[::1] bias,
                       const unsigned char[:, ::1] mask, bint reverse, Py_ssize_t unit, real[:, :, ::1] out,
                       real[:, :, ::1] hs, real[:, :, ::1] cs, real[:, :, ::1] gates):
    """lstm_forward_loop with the units split across cores in chunks of ``unit``."""
    cdef Py_ssize_t T = out.shape[0], B = out.shape[1], H = out.shape[2], G = 4 * H, k, t, b, p, lo, hi, U
    cdef Py_ssize_t parts = _parts(H, unit)
    if T == 0 or B == 0:
        return
    cdef real* packed = <real*>scratch(G * H + B * G, sizeof(real))
    cdef real* pre_all = packed + G * H  # core p's (B, 4U) products at pre_all + B*4*lo
    cdef real* pre
    try:
        with nogil, parallel(num_threads=parts):
            _pack_mine(&w_hh[0, 0], H, 4, unit, parts, packed)
            for k in range(T):
                t = T - 1 - k if reverse else k
                p = mg_thread()
                while p < parts:
                    lo, hi = p * unit, min(H, p * unit + unit)
                    U, pre = hi - lo, _units_product(&hs[k, 0, 0], packed, pre_all, B, H, 4, lo, hi)
                    for b in range(B):
                        if mask[t, b]:
                            _lstm_row(pre + b * 4 * U, U, &gates[t, b, lo], H, &gi[t, b, lo], &bias[lo],
                                      &cs[k, b, lo], &cs[k + 1, b, lo], &hs[k + 1, b, lo], &out[t, b, lo], U)
                        else:
                            _carry(&hs[k, b, lo], &hs[k + 1, b, lo], &out[t, b, lo], U)
                            _carry(&cs[k, b, lo], &cs[k + 1, b, lo], &out[t, b, lo], U)
                            _zero_gates(&gates[t, b, lo], 4, H, U)
                    p = p + mg_team()
                mg_barrier()
    finally:
        free(packed)


def gru_forward_parts(const real[:, :, ::1] gi, const real[:, ::1] w_hh, const real[::1] b_ih,
                      const real[::1] b_hh, const unsigned char[:, ::1] mask, bint reverse, Py_ssize_t unit,
                      real[:, :, ::1] out, real[:, :, ::1] hs, real[:, :, ::1] gates, real[:, :, ::1] hn):
    """gru_forward_loop with the units split across cores in chunks of ``unit``."""
    cdef Py_ssize_t T = out.shape[0], B = out.shape[1], H = out.shape[2], G = 3 * H, k, t, b, p, lo, hi, U
    cdef Py_ssize_t parts = _parts(H, unit)
    if T == 0 or B == 0:
        return
    cdef real* packed = <real*>scratch(G * H + B * G, sizeof(real))
    cdef real* pre_all = packed + G * H  # core p's (B, 3U) products at pre_all + B*3*lo
    cdef real* pre
    try:
        with nogil, parallel(num_threads=parts):
            _pack_mine(&w_hh[0, 0], H, 3, unit, parts, packed)
            for k in range(T):
                t = T - 1 - k if reverse else k
                p = mg_thread()
                while p < parts:
                    lo, hi = p * unit, min(H, p * unit + unit)
                    U, pre = hi - lo, _units_product(&hs[k, 0, 0], packed, pre_all, B, H, 3, lo, hi)
                    for b in range(B):
                        if mask[t, b]:
                            _gru_row(pre + b * 3 * U, U, &gates[t, b, lo], H, &gi[t, b, lo], &b_ih[lo], &b_hh[lo],
                                     &hs[k, b, lo], &hs[k + 1, b, lo], &out[t, b, lo], &hn[t, b, lo], U)
                        else:
                            _carry(&hs[k, b, lo], &hs[k + 1, b, lo], &out[t, b, lo], U)
                            _zero_gates(&gates[t, b, lo], 3, H, U)
                            memset(&hn[t, b, lo], 0, U * sizeof(real))
                    p = p + mg_team()
                mg_barrier()
    finally:
        free(packed)


# The split backward loops run k = T-1 .. -1: at k, core p first sets (or adds) the W_hh
# product of step k+1's d_gates for its units of dh (at k = -1 that gives d_h0), then
# computes step k's d_gates for its units; a barrier ends each step. Then d_W_hh's rows
# are split across the cores (_finish_rows).
cdef inline void _finish_share(const real* d_gates, Py_ssize_t ldg, const real* h_prev, Py_ssize_t TB,
                               Py_ssize_t H, Py_ssize_t R, Py_ssize_t p, Py_ssize_t parts, real* d_w,
                               real* d_b) noexcept nogil:
    """Core p's rows of d_W (R, H) and d_b (R,): R split in ``parts`` runs."""
    cdef Py_ssize_t chunk = (R + parts - 1) // parts
    _finish_rows(d_gates, ldg, h_prev, TB, H, min(R, p * chunk), min(R, p * chunk + chunk), d_w, d_b)


def rnn_backward_parts(const real[:, :, ::1] hs, const real[:, ::1] w_hh, const unsigned char[:, ::1] mask,
                       bint reverse, bint relu, Py_ssize_t unit, const real[:, :, ::1] d_out, real[:, :, ::1] d_gi,
                       real[:, ::1] d_w_hh, real[::1] d_b_hh, real[:, ::1] d_h0):
    """rnn_backward_loop with the units split across cores in chunks of ``unit``."""
    cdef Py_ssize_t T = d_gi.shape[0], B = d_gi.shape[1], H = d_gi.shape[2], k, t, t_next, b, p, lo, hi
    cdef Py_ssize_t parts = _parts(H, unit)
    cdef real* tmp = _backward_scratch(d_h0, T, reverse, 0)
    cdef const real* h_prev
    try:
        with nogil:
            h_prev = _h_prev(&hs[0, 0, 0], T, B, H, reverse, tmp + B * H)
            with parallel(num_threads=parts):
                for k in range(T - 1, -2, -1):
                    t, t_next = (T - 1 - k, T - 2 - k) if reverse else (k, k + 1)
                    p = mg_thread()
                    while p < parts:
                        lo, hi = p * unit, min(H, p * unit + unit)
                        if k + 1 < T:
                            _propagate(&d_gi[t_next, 0, 0], &w_hh[0, lo], H, &mask[t_next, 0], tmp + lo,
                                       &d_h0[0, lo], H, B, H, hi - lo, False, True)
                        if k >= 0:
                            for b in range(B):
                                if mask[t, b]:
                                    _rnn_row_back(&hs[k + 1, b, lo], &d_out[t, b, lo], &d_h0[b, lo], relu,
                                                  &d_gi[t, b, lo], hi - lo)
                                else:
                                    memset(&d_gi[t, b, lo], 0, (hi - lo) * sizeof(real))
                        p = p + mg_team()
                    mg_barrier()  # the next step's product reads every unit's d_gates
                p = mg_thread()
                while p < parts:
                    _finish_share(&d_gi[0, 0, 0], H, h_prev, T * B, H, H, p, parts, &d_w_hh[0, 0], &d_b_hh[0])
                    p = p + mg_team()
    finally:
        free(tmp)


def lstm_backward_parts(const real[:, :, ::1] gates, const real[:, :, ::1] hs, const real[:, :, ::1] cs,
                        const real[:, ::1] w_hh, const unsigned char[:, ::1] mask, bint reverse, Py_ssize_t unit,
                        const real[:, :, ::1] d_out, real[:, :, ::1] d_gi, real[:, ::1] d_w_hh, real[::1] d_b_hh,
                        real[:, ::1] d_h0, real[:, ::1] d_c0):
    """lstm_backward_loop with the units split across cores in chunks of ``unit``."""
    cdef Py_ssize_t T = d_out.shape[0], B = d_out.shape[1], H = d_out.shape[2], G = 4 * H, k, t, t_next, b, p
    cdef Py_ssize_t lo, hi, parts = _parts(H, unit)
    cdef real* tmp = _backward_scratch(d_h0, T, reverse, 0)
    cdef const real* h_prev
    try:
        with nogil:
            h_prev = _h_prev(&hs[0, 0, 0], T, B, H, reverse, tmp + B * H)
            with parallel(num_threads=parts):
                for k in range(T - 1, -2, -1):
                    t, t_next = (T - 1 - k, T - 2 - k) if reverse else (k, k + 1)
                    p = mg_thread()
                    while p < parts:
                        lo, hi = p * unit, min(H, p * unit + unit)
                        if k + 1 < T:
                            _propagate(&d_gi[t_next, 0, 0], &w_hh[0, lo], H, &mask[t_next, 0], tmp + lo,
                                       &d_h0[0, lo], H, B, G, hi - lo, False, True)
                        if k >= 0:
                            for b in range(B):
                                if mask[t, b]:
                                    _lstm_row_back(&gates[t, b, lo], &cs[k, b, lo], &cs[k + 1, b, lo],
                                                   &d_out[t, b, lo], &d_h0[b, lo], &d_c0[b, lo], &d_gi[t, b, lo],
                                                   H, hi - lo)
                                else:
                                    _zero_gates(&d_gi[t, b, lo], 4, H, hi - lo)
                        p = p + mg_team()
                    mg_barrier()
                p = mg_thread()
                while p < parts:
                    _finish_share(&d_gi[0, 0, 0], G, h_prev, T * B, H, G, p, parts, &d_w_hh[0, 0], &d_b_hh[0])
                    p = p + mg_team()
    finally:
        free(tmp)


def gru_backward_parts(const real[:, :, ::1] gates, const real[:, :, ::1] hn, const real[:, :, ::1] hs,
                       const real[:, ::1] w_hh, const unsigned char[:, ::1] mask, bint reverse, Py_ssize_t unit,
                       const real[:, :, ::1] d_out, real[:, :, ::1] d_gi, real[:, ::1] d_w_hh, real[::1] d_b_hh,
                       real[:, ::1] d_h0):
    """gru_backward_loop with the units split across cores in chunks of ``unit``.

    Each step's d_gh (B, 3H) is built in one of two scratch buffers, alternating: while the
    cores write step k's, they still read step k+1's for the product. The n block of every
    step's d_gh is kept (d_ghn, T*B rows of H) for the n rows of d_W_hh; the r and z rows
    come from d_gi, which equals d_gh there."""
    cdef Py_ssize_t T = d_out.shape[0], B = d_out.shape[1], H = d_out.shape[2], G = 3 * H, k, t, t_next, b, p
    cdef Py_ssize_t lo, hi, parts = _parts(H, unit)
    cdef real* tmp = _backward_scratch(d_h0, T, reverse, 2 * B * G + T * B * H)
    cdef real* step = tmp + B * H + (T * B * H if reverse else 0)  # (2, B, G)
    cdef real* d_ghn = step + 2 * B * G                            # (T, B, H)
    cdef real* cur
    cdef const real* h_prev
    try:
        with nogil:
            h_prev = _h_prev(&hs[0, 0, 0], T, B, H, reverse, tmp + B * H)
            with parallel(num_threads=parts):
                for k in range(T - 1, -2, -1):
                    t, t_next = (T - 1 - k, T - 2 - k) if reverse else (k, k + 1)
                    p = mg_thread()
                    while p < parts:
                        lo, hi = p * unit, min(H, p * unit + unit)
                        if k + 1 < T:
                            _propagate(step + ((k + 1) % 2) * B * G, &w_hh[0, lo], H, &mask[t_next, 0], tmp + lo,
                                       &d_h0[0, lo], H, B, G, hi - lo, True, True)
                        if k >= 0:
                            cur = step + (k % 2) * B * G
                            for b in range(B):
                                if mask[t, b]:
                                    _gru_row_back(&gates[t, b, lo], &hn[t, b, lo], &hs[k, b, lo], &d_out[t, b, lo],
                                                  &d_h0[b, lo], &d_gi[t, b, lo], cur + b * G + lo, H, hi - lo)
                                    memcpy(d_ghn + (t * B + b) * H + lo, cur + b * G + 2 * H + lo,
                                           (hi - lo) * sizeof(real))
                                else:
                                    _zero_gates(&d_gi[t, b, lo], 3, H, hi - lo)
                                    _zero_gates(cur + b * G + lo, 3, H, hi - lo)
                                    memset(d_ghn + (t * B + b) * H + lo, 0, (hi - lo) * sizeof(real))
                        p = p + mg_team()
                    mg_barrier()
                p = mg_thread()
                while p < parts:
                    _finish_share(&d_gi[0, 0, 0], G, h_prev, T * B, H, 2 * H, p, parts, &d_w_hh[0, 0], &d_b_hh[0])
                    _finish_share(d_ghn, H, h_prev, T * B, H, H, p, parts, &d_w_hh[2 * H, 0], &d_b_hh[2 * H])
                    p = p + mg_team()
    finally:
        free(tmp)
