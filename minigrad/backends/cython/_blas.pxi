# Included (textually) by the Cython modules that multiply matrices: each gets its own
# copy of these C functions and of the pointers below, filled at the module's import.
#
# c = alpha op(a) op(b) + beta c through ``cblas_sgemm``/``cblas_dgemm`` of numpy's own
# OpenBLAS, called through C function pointers whose addresses ``backends/_blas_lib.py``
# finds (no BLAS headers or libraries at build time); products of one or two rows, and
# every product when no BLAS was found, run a plain loop. Rows of each operand are
# ``ld*`` numbers apart, so a column block of a wider array is an operand too.
from libc.stdint cimport int64_t
from libc.string cimport memset

cdef enum:
    LOOP_MAX_ROWS = 2  # a product with this many rows or fewer runs the plain loop (loops/recurrent.py)
    ROW_MAJOR = 101    # the CBLAS enum values
    NO_TRANS = 111
    TRANS = 112


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
    return _blas_found()


cdef inline bint _blas_found() noexcept nogil:
    return _sgemm64 != NULL or _sgemm32 != NULL


cdef inline bint _uses_blas(Py_ssize_t rows) noexcept nogil:
    return rows > LOOP_MAX_ROWS and _blas_found()


cdef void _gemm_loop(bint ta, bint tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const real* a, Py_ssize_t lda,
                     const real* b, Py_ssize_t ldb, real* c, Py_ssize_t ldc) noexcept nogil:
    """c (m, n) = op(a) @ op(b) by plain loops: c[i, :] += op(a)[i, p] * b[p, :], a contiguous
    row of b scaled into a row of c, the order whose inner loop vectorises (numba's gemm_loop);
    a transposed b is read down its columns (slow, but only where there is no BLAS).
    ``ld*``: the distance between rows of each operand, as in BLAS."""
    cdef Py_ssize_t i, j, p
    cdef real s
    cdef real* ci
    cdef const real* bp
    for i in range(m):
        ci = c + i * ldc
        for j in range(n):
            ci[j] = 0
        for p in range(k):
            s = a[p * lda + i] if ta else a[i * lda + p]
            if tb:
                for j in range(n):
                    ci[j] += s * b[j * ldb + p]
            else:
                bp = b + p * ldb
                for j in range(n):
                    ci[j] += s * bp[j]


cdef void _gemm(bint ta, bint tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const real* a, Py_ssize_t lda,
                const real* b, Py_ssize_t ldb, real* c, Py_ssize_t ldc) noexcept nogil:
    """c (m, n) = op(a) @ op(b), op = transpose where the flag is set; row-major, rows of each
    operand ``ld*`` numbers apart (so a column block of a wider array is an operand too).

    BLAS when c has more than LOOP_MAX_ROWS rows (or b is transposed) and a BLAS was found,
    else the plain loop.
    """
    cdef int ta_ = TRANS if ta else NO_TRANS, tb_ = TRANS if tb else NO_TRANS
    cdef Py_ssize_t i
    if m == 0 or n == 0:
        return
    if k == 0:  # an empty sum (BLAS may leave c untouched when k = 0)
        for i in range(m):
            memset(c + i * ldc, 0, n * sizeof(real))
        return
    if not _uses_blas(m) and not (tb and _blas_found()):  # the loop reads a transposed b slowly
        _gemm_loop(ta, tb, m, n, k, a, lda, b, ldb, c, ldc)
    elif real is float:
        if _sgemm64 != NULL:
            _sgemm64(ROW_MAJOR, ta_, tb_, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
        else:
            _sgemm32(ROW_MAJOR, ta_, tb_, <int>m, <int>n, <int>k, 1, a, <int>lda, b, <int>ldb, 0, c, <int>ldc)
    else:
        if _dgemm64 != NULL:
            _dgemm64(ROW_MAJOR, ta_, tb_, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
        else:
            _dgemm32(ROW_MAJOR, ta_, tb_, <int>m, <int>n, <int>k, 1, a, <int>lda, b, <int>ldb, 0, c, <int>ldc)


# numpy's own BLAS, found once at import (a plain loop does every product if there is none).
from minigrad.backends._blas_lib import gemm_addresses

_found = gemm_addresses()
if _found is not None:
    set_blas(*_found)
