# cython: language_level=3
"""Declarations shared by every kernel module: the fused float type and scalar helpers.

A ``.pxd`` is Cython's header file. What is defined here as ``cdef inline`` is pasted
into every module that ``cimport``s it, so gcc sees the helper's body at each call
site and can inline and vectorise it like hand-written code.

``noexcept nogil`` on a helper: no Python exception can come out of it and it needs
no interpreter lock, so Cython emits a plain C function. Without ``noexcept`` Cython 3
would test for a pending Python error after every call, a branch in the loop that
stops vectorisation.

The scalar helpers (tanh, exp, sigmoid, log1p) are the twins of numba's in
``loops/_scalar.py``: the same constants and the same operations in the same order,
so the two backends round alike. NaN and inf pass through every one of them.
"""
cimport cython
from libc.math cimport exp, expm1, fabs, fabsf, floor, floorf, sqrt, sqrtf
from libc.stdlib cimport malloc

# One fused type, two C types: a function taking ``real`` arguments is compiled
# twice, once with float and once with double.
ctypedef fused real:
    float
    double

# Partial sums kept side by side when a loop reduces an array to one number (sum,
# max, ...). C must add floats in the order written, so one accumulator means one
# dependent add per element (~4 cycles each). Thirty-two independent accumulators
# are 32 adds that gcc packs into a few SIMD registers without reordering anything
# the source says: the vectorised reduction numba gets from fastmath, written out.
cdef enum:
    LANES = 32    # the fold_* helpers below are written for exactly 32
    BLOCK = 1024  # row_sum: elements per block (32 per lane) ...
    SUPER = 64    # ... and blocks per super-block, as in loops/reduce.py


# Rational approximation tanh(x) ~ x P(x^2) / Q(x^2) on [-7.905, 7.905] (beyond it
# float32 tanh rounds to +-1): the same minimax form, constants and operation order
# as ``_tanh32`` in ``loops/_scalar.py`` (max relative error ~3e-7). It is only
# multiply-adds, two compare-selects and one division, so gcc turns a loop of it
# into SIMD code, whereas a loop of libm's ``tanhf`` is one scalar call per element.
# ``cdivision``: plain C division, without the zero-divisor test (and Python
# ZeroDivisionError) that Cython would otherwise put before ``p / q``: that branch
# alone stops gcc from vectorising any loop that calls the function. (The ``.pyx``
# modules set it for the whole file in their first line.)
@cython.cdivision(True)
cdef inline float tanh32(float x) noexcept nogil:
    cdef float v = x
    # "lo if v < lo else v": a NaN passes through (every comparison with NaN is
    # false), and gcc still emits SIMD max/min instructions for it.
    v = <float>-7.90531110763549805 if v < <float>-7.90531110763549805 else v
    v = <float>7.90531110763549805 if v > <float>7.90531110763549805 else v
    cdef float v2 = v * v
    cdef float p = <float>-2.76076847742355e-16
    p = p * v2 + <float>2.00018790482477e-13
    p = p * v2 + <float>-8.60467152213735e-11
    p = p * v2 + <float>5.12229709037114e-08
    p = p * v2 + <float>1.48572235717979e-05
    p = p * v2 + <float>6.37261928875436e-04
    p = p * v2 + <float>4.89352455891786e-03
    cdef float q = <float>1.19825839466702e-06
    q = q * v2 + <float>1.18534705686654e-04
    q = q * v2 + <float>2.26843463243900e-03
    q = q * v2 + <float>4.89352518554385e-03
    return v * p / q


# float64 tanh from exp, the split of ``_tanh64`` in ``loops/_scalar.py`` with its
# operations in its order (so numba and Cython round alike): glibc's ``tanh`` costs ~2x
# this on this machine (it calls expm1 for every argument and branches a lot). For
# |x| >= 0.55 the result is >= 0.5, so (1 - e^{-2|x|}) / (1 + e^{-2|x|}) loses nothing to
# cancellation; below, expm1 keeps full relative precision near 0. Both forms are
# within 2 ulp of numpy's tanh; e^{-2|x|} = 0 gives exactly 1.
# Still one scalar libm call per element: float64 tanh stays the slowest kernel.
@cython.cdivision(True)
cdef inline double tanh64(double x) noexcept nogil:
    cdef double a = fabs(x), e, r
    if a < 0.55:
        e = expm1(-2.0 * a)  # accurate where 1 - exp(-2a) would cancel
        r = -e / (e + 2.0)
    else:
        e = exp(-2.0 * a)
        r = (1.0 - e) / (1.0 + e)
    return r if x >= 0 else -r  # NaN: a < 0.55 is false, exp(NaN) is NaN, and -NaN comes back


cdef inline real tanh_r(real x) noexcept nogil:
    """tanh for either specialisation (``real is float`` is decided at compile time)."""
    if real is float:
        return tanh32(x)
    else:
        return tanh64(x)


cdef inline real sqrt_r(real x) noexcept nogil:
    """sqrt in the argument's precision. libm's ``sqrt`` takes a double: called on a float
    it would convert every element to double and back, and a float32 loop would run
    at float64 speed (half the SIMD width, and a slower square root)."""
    if real is float:
        return sqrtf(x)
    else:
        return sqrt(x)


# ------------------------------------------------------------- exp as a polynomial
# libm's exp is one scalar call per element, and numpy's float64 np.exp is scalar on
# this CPU too. This is the Cephes algorithm of ``_exp_poly`` in ``loops/_scalar.py``,
# written with multiply-adds, one division and a bit trick, so gcc vectorises a loop
# of it: exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln(2)/2, exp(r) from a
# rational function, and 2^n made directly as the bits of a float64 (exponent field
# n + 1023). Computed in float64 for float32 input too; relative error < 3e-14.
# x is clamped to [-709, 709], the range where that exponent field is valid: below
# about -708.4 the result is 0 (libm gives denormals down to -745), above 709 it
# saturates at e^709 ~ 8e307. Every caller passes x <= 0. A NaN x gives NaN.
cdef union _bits64:  # reading a union member other than the one written: gcc's sanctioned type pun
    double d
    unsigned long long i


@cython.cdivision(True)
cdef inline double exp_poly(double x) noexcept nogil:
    # "lo if x < lo else x" (numba's max(x, lo)): a NaN passes through
    x = -709.0 if x < -709.0 else x
    x = 709.0 if x > 709.0 else x
    cdef double n = floor(1.4426950408889634 * x + 0.5)
    cdef double r = x - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6  # ln 2 in two parts
    cdef double rr = r * r
    cdef double p = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr
                         + 9.99999999999999999910e-1)
    cdef double q = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
                     + 2.27265548208155028766e-1) * rr + 2.0
    cdef _bits64 two_n
    n = n if n >= -1100.0 else -1100.0  # a NaN n becomes -1100: converting NaN to int is undefined in C
    # via int: SIMD converts double -> int32, not -> int64; unsigned, so the shift is defined C
    two_n.i = <unsigned long long>(<long long>(<int>n) + 1023) << 52
    return (1.0 + 2.0 * p / (q - p)) * two_n.d


# The float32 twin, for the sigmoids: ``_expf_neg`` of ``loops/_scalar.py`` (Cephes expf),
# same constants, same operation order. e^x for x <= 0 in float32 arithmetic, so a
# float32 loop keeps the float32 vector width (8 lanes with AVX2 instead of 4);
# 2^n is built as the bits of a float32 (exponent field n + 127, shifted 23 places).
# Below -87.33 e^x is not a normal float32 and the function returns 0; a NaN x gives
# NaN (it fails the final test, and p is NaN). Relative error < 3e-7.
cdef union _bits32:
    float f
    unsigned int i


cdef inline float expf_neg(float x) noexcept nogil:
    cdef float xc = <float>-87.33 if <float>-87.33 > x else x  # numba's max(x, -87.33): NaN stays
    cdef float n = floorf(<float>1.4426950408889634 * xc + <float>0.5)
    cdef float r = xc - n * <float>0.693359375 - n * <float>-2.12194440e-4  # ln 2 in two parts
    cdef float p = <float>1.9875691500e-4
    p = p * r + <float>1.3981999507e-3
    p = p * r + <float>8.3334519073e-3
    p = p * r + <float>4.1665795894e-2
    p = p * r + <float>1.6666665459e-1
    p = p * r + <float>5.0000001201e-1
    p = p * (r * r) + r + <float>1
    cdef _bits32 two_n
    n = n if n >= <float>-200 else <float>-200  # a NaN n becomes -200: converting NaN to int is undefined in C
    two_n.i = <unsigned int>(<int>n + 127) << 23
    return <float>0 if x < <float>-87.33 else p * two_n.f


# sigma(x) = 1 / (1 + e^-x), written as  s = (1 if x >= 0 else e) / (1 + e),  e = e^{-|x|} <= 1
# (``_sigmoid32``/``_sigmoid64`` of ``loops/_scalar.py``): it never overflows and keeps full
# relative precision in the negative tail, where sigma(x) ~ e^x (sigma(-80) = 1.8e-35 in
# float32); the form 0.5 tanh(x/2) + 0.5 would round everything below x ~ -17 (float32) /
# -37 (float64) to 0, and log(sigma(x)) to -inf. Both arms of the select are registers,
# so gcc turns the test into a blend and vectorises the loop that calls it.
@cython.cdivision(True)
cdef inline float sigmoid32(float x) noexcept nogil:
    cdef float e = expf_neg(-fabsf(x))
    return (<float>1 if x >= <float>0 else e) / (<float>1 + e)


@cython.cdivision(True)
cdef inline double sigmoid64(double x) noexcept nogil:
    cdef double e = exp_poly(-fabs(x))
    return (1.0 if x >= 0 else e) / (1.0 + e)


cdef inline real sigmoid_r(real x) noexcept nogil:
    """sigma(x) at the argument's precision (``real is float`` is decided at compile time)."""
    if real is float:
        return sigmoid32(x)
    else:
        return sigmoid64(x)


@cython.cdivision(True)
cdef inline double log1p_series(double e) noexcept nogil:
    """log(1 + e) for 0 <= e <= 1, vectorisable, ~1 ulp: ``_log1p_series`` of ``loops/_scalar.py``.

    log(1 + e) = 2 atanh(s), s = e / (2 + e) <= 1/3, summed as 2 s (1 + s^2/3 + s^4/5 + ...)
    to 17 terms; 1 + e is never formed, so a tiny e keeps its precision.
    """
    cdef double s = e / (2.0 + e), z = s * s, t = 1.0 / 33.0
    cdef int k
    for k in range(15, -1, -1):  # constant trip count: gcc unrolls it completely
        t = t * z + 1.0 / (2 * k + 1)
    return 2.0 * s * t


# ----------------------------------------------------------------- scratch memory
# The numba loops allocate their work rows with np.empty; a Cython loop takes them from
# malloc before it releases the GIL and frees them in ``finally`` (so nothing leaks when
# the loop raises). ``except NULL``: a failed malloc becomes a Python MemoryError.
cdef inline void* scratch(Py_ssize_t count, size_t itemsize) except NULL:
    """Uninitialised memory for ``count`` numbers (at least one) of ``itemsize`` bytes; free() it."""
    cdef void* p = malloc((count if count > 1 else 1) * itemsize)
    if p == NULL:
        raise MemoryError(f"cannot allocate {count * itemsize} bytes of scratch memory")
    return p


# ---------------------------------------------------------------- row reductions
# Reductions of one contiguous run x[0..n): the building blocks of sum/mean/var/max
# and of softmax. Each keeps LANES partial results; lane j sees x[j], x[j+LANES], ...
# and the lanes are combined pairwise at the end (fold_* above).
# Combining the LANES partial results. The loop bounds are constants, so gcc unrolls
# these loops completely and every acc[j] becomes a plain register: with a loop whose
# bound is a variable (``while j > 0: ...; j //= 2``) the array must live in memory,
# and each step of the main loop would store and reload it (measured: 1.7x slower).
cdef inline real fold_sum(real* acc) noexcept nogil:
    """acc[0] + ... + acc[31], added pairwise."""
    cdef int i
    for i in range(16):
        acc[i] += acc[i + 16]
    for i in range(8):
        acc[i] += acc[i + 8]
    for i in range(4):
        acc[i] += acc[i + 4]
    return (acc[0] + acc[2]) + (acc[1] + acc[3])


cdef inline real nan_max(real a, real b) noexcept nogil:
    """max(a, b) that returns NaN if either is NaN (np.maximum's rule), without a branch."""
    return a if (a >= b) | (a != a) else b


cdef inline real nan_min(real a, real b) noexcept nogil:
    return a if (a <= b) | (a != a) else b


cdef inline real fold_max(real* acc) noexcept nogil:
    cdef int i
    for i in range(16):
        acc[i] = nan_max(acc[i], acc[i + 16])
    for i in range(8):
        acc[i] = nan_max(acc[i], acc[i + 8])
    for i in range(4):
        acc[i] = nan_max(acc[i], acc[i + 4])
    return nan_max(nan_max(acc[0], acc[2]), nan_max(acc[1], acc[3]))


cdef inline real fold_min(real* acc) noexcept nogil:
    cdef int i
    for i in range(16):
        acc[i] = nan_min(acc[i], acc[i + 16])
    for i in range(8):
        acc[i] = nan_min(acc[i], acc[i + 8])
    for i in range(4):
        acc[i] = nan_min(acc[i], acc[i + 4])
    return nan_min(nan_min(acc[0], acc[2]), nan_min(acc[1], acc[3]))


cdef inline real lanes_sum(const real* x, Py_ssize_t n) noexcept nogil:
    """sum of x[0..n) in LANES partial sums (each sees n / LANES additions)."""
    cdef real acc[LANES]
    cdef Py_ssize_t i, j, full = n - n % LANES
    for j in range(LANES):
        acc[j] = 0
    for i in range(full // LANES):  # block i holds x[i*LANES .. i*LANES + LANES)
        for j in range(LANES):
            acc[j] += x[i * LANES + j]
    cdef real total = fold_sum(acc)
    for i in range(full, n):
        total += x[i]
    return total


cdef inline real row_sum(const real* x, Py_ssize_t n) noexcept nogil:
    """Cascaded sum: blocks of BLOCK elements, block sums into super-block sums, those
    into the total. Each partial sum sees at most ~64 additions, so float32 rounding
    error stays near numpy's pairwise summation however long the row."""
    cdef real total = 0, mid
    cdef Py_ssize_t sb, b, n_blocks = (n + BLOCK - 1) // BLOCK
    for sb in range((n_blocks + SUPER - 1) // SUPER):
        mid = 0
        for b in range(sb * SUPER, min(sb * SUPER + SUPER, n_blocks)):
            mid += lanes_sum(x + b * BLOCK, min(BLOCK, n - b * BLOCK))
        total += mid
    return total


cdef inline real row_max(const real* x, Py_ssize_t n) noexcept nogil:
    """max of x[0..n), n >= 1; NaN if any element is NaN."""
    cdef real acc[LANES]
    cdef Py_ssize_t i, j, full = n - n % LANES
    for j in range(LANES):
        acc[j] = x[0]
    for i in range(full // LANES):
        for j in range(LANES):
            acc[j] = nan_max(acc[j], x[i * LANES + j])
    cdef real m = fold_max(acc)
    for i in range(full, n):
        m = nan_max(m, x[i])
    return m


cdef inline real row_min(const real* x, Py_ssize_t n) noexcept nogil:
    """min of x[0..n), n >= 1; NaN if any element is NaN."""
    cdef real acc[LANES]
    cdef Py_ssize_t i, j, full = n - n % LANES
    for j in range(LANES):
        acc[j] = x[0]
    for i in range(full // LANES):
        for j in range(LANES):
            acc[j] = nan_min(acc[j], x[i * LANES + j])
    cdef real m = fold_min(acc)
    for i in range(full, n):
        m = nan_min(m, x[i])
    return m
